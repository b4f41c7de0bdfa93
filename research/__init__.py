"""Experiment tools kept for the next search (not installed, not tested by `make test`): see research/README.md."""
