"""The ``facefusion`` engine: FaceFusion's ONNX models on onnxruntime (TensorRT, CUDA, CPU)."""
