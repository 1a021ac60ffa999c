"""`aligned_joints.h5` in its two layouts: the flat one (the extractor's `timestamp` + T-row datasets, ns or s) reads
the same streams as the per-frame one the converter writes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.agibot_genie.adapter import GenieAdapter
from tests.fixtures.agibot_genie import GenieSpec, write_genie_sim


def _flatten(src: Path, dst: Path, seconds: bool) -> None:
    """The flat layout (the extractor's `timestamp` + T-row datasets), built from a per-frame file's own values."""
    with h5py.File(src) as f, h5py.File(dst, "w") as out:
        n = len([k for k in f if k.isdigit()])
        paths: list[str] = []
        f["0"].visititems(lambda name, o: paths.append(name) if isinstance(o, h5py.Dataset) else None)
        stamps = np.array([f[str(i)]["main_timestamp"][()] for i in range(n)])
        out["timestamp"] = ((stamps - stamps[0]).astype(np.float64) / 1e9).astype(np.float32) if seconds else stamps
        for p in paths:
            if p.split("/")[0] in ("state", "action") and f["0"][p].size:
                out[p] = np.stack([f[str(i)][p][()] for i in range(n)])
        out["state/joint"].attrs["name"] = f["0/state/joint"].attrs["name"]


@pytest.mark.parametrize("seconds", [False, True])
def test_flat_layout_reads_the_same_streams(tmp_path: Path, seconds: bool) -> None:
    write_genie_sim(tmp_path / "a", [GenieSpec(videos=False)])
    folder = tmp_path / "a" / "3335477" / "A2D0015AB00061" / "12052353"
    per_frame = GenieAdapter().read(next(GenieAdapter().discover(tmp_path / "a")))
    _flatten(folder / "aligned_joints.h5", folder / "flat.h5", seconds)
    (folder / "flat.h5").replace(folder / "aligned_joints.h5")
    flat = GenieAdapter().read(next(GenieAdapter().discover(tmp_path / "a")))
    assert flat.metadata["h5_layout"] == "flat" and flat.metadata["clock"]["unit"] == ("s" if seconds else "ns")
    assert set(flat.states) == set(per_frame.states) and set(flat.actions) == set(per_frame.actions)
    for key, stream in per_frame.states.items():
        np.testing.assert_array_equal(flat.states[key].values, stream.values, err_msg=key)
    np.testing.assert_allclose(
        flat.states["joint.position"].timestamps,
        per_frame.states["joint.position"].timestamps,
        atol=1e-6 if seconds else 0,
    )
    assert flat.metadata["quaternion_order"] == "xyzw"
