"""Export of a trained run to ONNX; needs the `train` extra (TensorFlow, tf2onnx, onnx)."""
