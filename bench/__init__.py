"""Benchmark of the scorer against a plain Keras pipeline: `python -m bench --help`."""
