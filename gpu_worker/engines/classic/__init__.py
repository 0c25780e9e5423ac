"""The ``classic`` engine: mediapipe's BlazeFace and FaceMesh models (Apache-2.0, shipped in the
wheel; run on LiteRT the way mediapipe's graphs run them: blazeface.py, mesh_tracker.py), a
z-ordered piecewise-affine warp of the source face onto each tracked target face, colour and
lighting transfer, multi-band blending with a feathered mask, and the target's own mouth
interior when the mouth opens. Commercially clean: no InsightFace, no dlib."""
