"""The swap side: media decode/encode and engines. Nothing imports this package but entry points,
so bot and web processes never load mediapipe, onnxruntime or torch."""
