"""vbgcam: a webcam turned into a virtual camera with the background replaced."""

__version__ = "0.1.0"
