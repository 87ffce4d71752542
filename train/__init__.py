"""Training of the sentiment models; needs the `train` extra (TensorFlow)."""
