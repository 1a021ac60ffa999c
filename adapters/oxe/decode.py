"""RLDS values: a stored tensor feature decoded to its declared shape and dtype, text runs, and the content hash that
finds the same episode stored twice. Used by `adapters.oxe.adapter`.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping

import numpy as np

from adapters.oxe.builder import NP_DTYPES, STEPS, FeatureInfo
from adapters.oxe.tfrecord import FeatureValue


def decode_tensor(info: FeatureInfo, raw: FeatureValue, steps: int | None) -> np.ndarray:
    """Stored values of one tensor feature -> array (T, *shape) (or shape, outside steps) in its declared dtype.

    Raises ValueError with a specific message when the stored size does not match."""
    dtype = NP_DTYPES.get(info.dtype, np.float32)
    lead = (steps,) if steps is not None else ()
    if info.encoding in ("bytes", "zlib"):
        if not isinstance(raw, list):
            raise ValueError(f"encoding {info.encoding!r} expects a bytes list, found numbers")
        if steps is not None and len(raw) != steps:
            raise ValueError(f"{len(raw)} encoded values for {steps} steps")
        chunks = [zlib.decompress(b) for b in raw] if info.encoding == "zlib" else raw
        flat = np.frombuffer(b"".join(chunks), dtype=dtype)
    else:
        if isinstance(raw, list):
            raise ValueError(f"expected numbers for a {info.dtype} tensor, found a bytes list")
        flat = raw
    per = [d for d in info.shape]
    n = flat.size // (steps or 1) if steps else flat.size
    if None in per:  # one unknown dimension: infer it
        known = int(np.prod([d for d in per if d is not None])) if any(d is not None for d in per) else 1
        if known == 0 or n % known:
            raise ValueError(f"{flat.size} values do not fit {steps} steps of shape {info.shape}")
        per = [n // known if d is None else d for d in per]
    expected = int(np.prod(per)) * (steps or 1) if per else (steps or 1)
    if flat.size != expected:
        raise ValueError(
            f"holds {flat.size} values, expected {expected} ({steps} steps x shape {tuple(per)})"
            if steps is not None
            else f"holds {flat.size} values, expected shape {tuple(per)}"
        )
    return flat.reshape((*lead, *per)).astype(dtype, copy=False)


def texts_of(raw: FeatureValue) -> list[str]:
    return [b.decode("utf-8", errors="replace") for b in raw] if isinstance(raw, list) else []


def content_hash(example: Mapping[str, FeatureValue], features: Mapping[str, FeatureInfo]) -> str:
    """Hash of an episode's numbers and text (not its image bytes, which a re-encode changes)."""
    h = hashlib.sha256()
    for key in sorted(example):
        info = features.get(key)
        if not key.startswith(STEPS) or key.endswith("language_embedding") or (info and info.kind == "image"):
            continue
        raw = example[key]
        if isinstance(raw, list):
            if info is not None and info.kind != "text" and info.encoding == "none":
                continue  # unknown bytes feature (e.g. an image without features.json entry)
            h.update(key.encode() + b"\0" + b"\0".join(raw))
        else:
            h.update(key.encode() + b"\0" + np.ascontiguousarray(raw).tobytes())
    return h.hexdigest()


def text_runs(texts: list[str]) -> list[tuple[str, int, int]]:
    """(text, first step, last step) for each run of identical non-empty text."""
    out: list[tuple[str, int, int]] = []
    for i, t in enumerate(texts):
        if out and out[-1][0] == t and out[-1][2] == i - 1:
            out[-1] = (t, out[-1][1], i)
        elif t.strip():
            out.append((t, i, i))
    return out
