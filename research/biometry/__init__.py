"""Head-recipe experiments: cross-validation ranking, paired comparison, the HC-spread gate study, learning curves."""
