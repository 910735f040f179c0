"""What a file is by its name: the one list of picture and video suffixes, in a module with no
imports, so `vbgcam ctl` can use it without loading OpenCV (0.27 s and 71 MB for one request)."""

# Suffixes of the picture formats OpenCV decodes; a folder's other files are skipped.
IMAGE_SUFFIXES = (
    ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".jp2",
    ".avif", ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr", ".pic",
)  # fmt: skip
# Taken for a video without trying to decode them as a picture first. Any other file is
# looked inside (`mode = "auto"`): a .ts clip is a video because no picture decoder takes it.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
