"""Array-recording fixtures: the real samples' paths (read with `tests.realdata.realdata`; each folder's README names
its source, commit and licence) and a Zarr v2 -> v3 copy. Files in the makers' layouts for the layouts no real sample
was found for (robomimic, LIBERO, ALOHA, UMI) are written by `adapters/synthetic/arrays.py`."""

from __future__ import annotations

from pathlib import Path

import zarr

PUSHT = "diffusion_policy_pusht_zarr/replay_buffer.zarr"  # one episode, as demo_pusht.py wrote it
PUSHT_FULL = "diffusion_policy_pusht_151/pusht_cchi_v7_replay.zarr"  # a whole PushT training buffer, 151 episodes
ROBOSUITE = "robosuite_raw_lift/1729277108_0358148/demo.hdf5"
META_ONLY = "diffusion_policy_meta_only_zarr/replay_buffer.zarr"


def as_v3(src: Path, out: Path) -> Path:
    """The Zarr store `src` copied array by array into a Zarr v3 folder store (same values, default codecs)."""
    old = zarr.open_group(src, mode="r")
    new = zarr.open_group(out, mode="w", zarr_format=3)
    for name, node in old.members(max_depth=None):
        if hasattr(node, "shape"):
            new.create_array(name, data=node[:], chunks=node.chunks)
        else:
            new.require_group(name)
    return out
