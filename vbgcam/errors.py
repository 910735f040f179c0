"""The exceptions a user can meet, one family per kind of failure.

    VbgcamError                 anything expected; its message is written for the user
    ├── ConfigError             a bad config file, key, value or command-line flag
    ├── SourceError             a camera or video that cannot be opened or decoded
    ├── BackgroundError         a background image that cannot be read
    ├── OutputError             a virtual camera or recording that cannot be opened
    └── ModelError              a segmentation model that is missing or corrupt

The CLI prints ``Name: message`` on one line and exits non-zero; anything else is a bug
and keeps its traceback.
"""


class VbgcamError(Exception):
    """An expected failure whose message tells the user what happened and what to do."""


class ConfigError(VbgcamError):
    """A setting that is unknown, of the wrong type or out of range."""


class SourceError(VbgcamError):
    """A camera or video file that cannot be opened or decoded."""


class BackgroundError(VbgcamError):
    """A background image that is missing or cannot be decoded."""


class OutputError(VbgcamError):
    """A virtual camera or recording file that cannot be opened or written."""


class ModelError(VbgcamError):
    """A segmentation model that is missing, truncated or fails its checksum."""
