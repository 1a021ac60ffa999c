"""Reading frames back from an mp4 by frame number (decode order = presentation order for our constant-rate files)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np


def decode_frames(
    path: Path | str | IO[bytes], indices: Iterable[int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame number, HxWx3 uint8 RGB) for the wanted frames (all when `indices` is None), in order. `path` may
    be a seekable binary file object (an object in a bucket: `adapters.storage.location.readable`)."""
    pick = None if indices is None else set(indices)
    if pick is not None and not pick:
        return
    import av  # here: importing this module (the latents encoder does) needs no PyAV

    last = max(pick) if pick is not None else None
    with av.open(path if hasattr(path, "read") else str(path), "r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if pick is None or i in pick:
                yield i, frame.to_ndarray(format="rgb24")
            if last is not None and i >= last:
                return
