"""Native vectors: the source's own numeric state, signal and action streams, kept beside the canonical ones.

Each is resampled onto the 10 Hz grid (linearly when float, else by hold) and flattened into `*.native` columns named
`<stream>.<component>`; what is too wide to keep is left out here and named in a tier reason by `canonicalize`.
"""

from __future__ import annotations

import numpy as np

from adapters.base import Stream
from ingest.canonical import resample as rs

MAX_NATIVE_STREAM_DIMS = 64  # wider per-step tensors (T, A, B, ...) (depth, full skeletons) stay out of `*.native`
# A per-step vector (T, D) is a source column (a 96-dim xvla state, 168-dim Isaac teleop hands): kept up to this
# width; wider ones (sentence embeddings, 512+) stay out. Either way what is left out is named in a tier reason.
MAX_NATIVE_VECTOR_DIMS = 256


def stream_width(s: Stream) -> int:
    return int(np.prod(s.values.shape[1:])) if s.values.ndim > 1 else 1


def too_wide(s: Stream) -> bool:
    return stream_width(s) > (MAX_NATIVE_VECTOR_DIMS if s.values.ndim <= 2 else MAX_NATIVE_STREAM_DIMS)


def native_streams(streams: dict[str, Stream], derived: set[str]) -> list[tuple[str, Stream]]:
    """The streams kept as natives, by name: numeric, not empty, not too wide, not derived by the adapter."""
    out = []
    for key in sorted(streams):
        s = streams[key]
        if key in derived or s.values.dtype.kind not in "fiub" or too_wide(s) or not len(s):
            continue
        out.append((key, s))
    return out


def resample_natives(items: list[tuple[str, Stream]], grid_abs: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """`items` on the grid as one float32 (T, D) array and its column names; None when there is none."""
    if not items:
        return None, []
    cols, names = [], []
    for key, s in items:
        v = s.values.reshape(len(s), -1)
        fn = rs.resample_linear if v.dtype.kind == "f" else rs.resample_hold
        cols.append(fn(s.timestamps, v.astype(np.float64), grid_abs))
        comp = list(s.names or ())
        names += [f"{key}.{comp[i]}" if len(comp) == v.shape[1] else f"{key}.{i}" for i in range(v.shape[1])]
    return np.concatenate(cols, axis=1).astype(np.float32), names
