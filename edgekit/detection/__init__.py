"""Face detection: MediaPipe BlazeFace (short / full range) on LiteRT.

``from edgekit.detection import FaceDetector, FaceDetectorOptions``
"""
from .detector import FaceDetector, FaceDetectorOptions, Letterbox

__all__ = ["FaceDetector", "FaceDetectorOptions", "Letterbox"]
