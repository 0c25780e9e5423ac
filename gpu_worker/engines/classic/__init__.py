"""The ``classic`` engine: mediapipe FaceMesh landmarks (Apache-2.0, shipped in the wheel), a
z-ordered piecewise-affine warp of the source face onto each tracked target face, colour and
lighting transfer, multi-band blending with a feathered mask, and the target's own mouth
interior when the mouth opens. Commercially clean: no InsightFace, no dlib."""
