"""The control page's secret: made for each run, kept where ``vbgcam ctl`` finds it, and never
sent to another port. Standard library only, so ``vbgcam ctl`` starts without OpenCV or numpy
(they cost it 0.27 s and 71 MB for a one-line HTTP request)."""

from __future__ import annotations

import getpass
import os
import secrets
import stat
import tempfile
from pathlib import Path

from vbgcam.config import paths
from vbgcam.errors import ConfigError

DEFAULT_PORT = 8765


def make_token() -> str:
    """A fresh secret for one run of vbgcam (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def _user_id() -> str:
    try:
        return str(os.getuid())
    except AttributeError:  # Windows has no uids
        return getpass.getuser()


def token_path() -> Path:
    """``$XDG_RUNTIME_DIR/vbgcam/token``, or a per-user folder in the temp folder without it."""
    runtime = paths.runtime_dir()
    if runtime is not None:
        return runtime / "token"
    return Path(tempfile.gettempdir()) / f"vbgcam-{_user_id()}" / "token"


def _private_folder(folder: Path) -> None:
    """Make ``folder`` (mode 0700, ours) or check that an existing one is ours and private.

    In a shared temp folder another user could have made it first, to read our token.
    """
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        raise ConfigError(f"cannot make the token folder {folder}: {exc.strerror}") from exc
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{folder} is not a folder; remove it so vbgcam can keep its token there")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(
            f"the token folder {folder} belongs to another user; remove it, or set "
            "XDG_RUNTIME_DIR to a folder of yours"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)


def write_token_file(token: str, port: int | None = None) -> Path:
    """Keep ``token`` (and the ``port`` it is for) where ``vbgcam ctl`` finds them: a 0600
    file in a 0700 folder, replaced atomically (a reader sees the old token or the new one,
    never half of one). With the port recorded, ctl never sends the token to another port."""
    path = token_path()
    _private_folder(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".token-")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + (f" {port}" if port else "") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise ConfigError(f"cannot write the token file {path}: {exc.strerror}") from exc
    return path


def _token_fields() -> list[str]:
    try:
        return token_path().read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return []


def read_token_file() -> str | None:
    """The token of the running vbgcam, or None when there is no (readable) token file."""
    fields = _token_fields()
    return fields[0] if fields else None


def read_token_port() -> int | None:
    """The control port the running vbgcam recorded beside its token, if any."""
    fields = _token_fields()
    if len(fields) > 1 and fields[1].isdigit():
        return int(fields[1])
    return None


def remove_token_file(token: str) -> None:
    """Delete the token file if it still holds ``token`` (another vbgcam may own it now)."""
    if read_token_file() == token:
        token_path().unlink(missing_ok=True)


def page_url(port: int, token: str) -> str:
    """The address that opens the page with its token (after ``#``, so no server sees it)."""
    return f"http://127.0.0.1:{port}/#token={token}"
