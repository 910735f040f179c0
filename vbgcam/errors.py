"""The exceptions a user can meet, one family per kind of failure.

    VbgcamError                 anything expected; its message is written for the user
    ├── ConfigError             a bad config file, key, value or command-line flag
    ├── SourceError             a camera or video that cannot be opened or decoded
    ├── BackgroundError         a background image that cannot be read
    ├── OutputError             a virtual camera or recording that cannot be opened
    ├── ModelError              a segmentation model that is missing or corrupt
    └── ControlError            no running vbgcam to control, or it refused ('vbgcam ctl')

Every command prints ``Name: message`` on one line and exits non-zero
(``vbgcam.cli.exits``); anything else is a bug and keeps its traceback.
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


class ControlError(VbgcamError):
    """No running vbgcam answers on the control port, or it refused the request (``kind``:
    the name the server gave its refusal, such as ConfigError for a bad colour)."""

    def __init__(self, message: str, kind: str = "ControlError") -> None:
        super().__init__(message)
        self.kind = kind
