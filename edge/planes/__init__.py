"""Standard-plane classification on the device: taxonomy, classifier, temporal smoothing."""
