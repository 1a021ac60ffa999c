"""AgiBot Genie Sim / A2D exports, bad input: every broken episode is still discovered and refused with a specific
`AdapterError` naming adapter, file, episode and field; the good episodes beside it still read. `action_config`
inclusive ends: a one-frame segment is one frame.

`aligned_joints.h5` in its two layouts: the flat one (the extractor's `timestamp` + T-row datasets, ns or s) reads
the same streams as the per-frame one the converter writes.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.agibot_genie.adapter import GenieAdapter
from adapters.base import AdapterError, EpisodeRef
from jobs.ingest.discovery import source_findings
from jobs.spec_models import SourceSpec
from tests.fixtures.agibot_genie import Fault, GenieSpec, write_genie_sim

GOOD = "7/A2D0015AB00061/1"
# episode -> (spec changes, file below the episode folder, field, words in the reason, found by discovery)
CASES = {
    "2": ({"fault": Fault.missing_h5}, "aligned_joints.h5", "aligned_joints.h5", "is missing", True),
    "3": ({"fault": Fault.bad_data_info}, "data_info.json", "data_info.json", "unreadable data_info.json", True),
    "4": ({"fault": Fault.frame_shape}, "aligned_joints.h5", "12/state/joint/effort", "frame 0 has (14,)", False),
    "5": (
        {"fault": Fault.missing_frame_field},
        "aligned_joints.h5",
        "12/state/end/orientation",
        "frame 12 has no",
        False,
    ),
    "6": ({"fault": Fault.stale_timestamp}, "aligned_joints.h5", "main_timestamp", "do not increase at row 12", False),
    "7": ({"fault": Fault.bad_segment}, "data_info.json", "label_info.action_config[1]", "greater than", False),
    "8": ({"fault": Fault.g2}, "meta_info.json", "robot_type", "'G2A'", False),
    "9": (
        {"arm_frames": False, "quat_order": "wxyz"},
        "aligned_joints.h5",
        "state/end/orientation",
        "cannot be settled",
        False,
    ),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("genie_bad")
    specs = [GenieSpec(job="7", episode="1", videos=False)]
    specs += [GenieSpec(job="7", episode=ep, videos=False, **changes) for ep, (changes, *_) in CASES.items()]
    write_genie_sim(root, specs)
    return root.resolve()


def _refs(root: Path) -> dict[str, EpisodeRef]:
    return {r.raw_id: r for r in GenieAdapter().discover(root)}


def test_every_episode_discovered_none_skipped(root: Path) -> None:
    raw_ids = [r.raw_id for r in GenieAdapter().discover(root)]
    assert raw_ids == [GOOD] + [f"7/A2D0015AB00061/{ep}" for ep in CASES]


@pytest.mark.parametrize("episode", list(CASES))
def test_refused_by_name_with_the_cause(root: Path, episode: str) -> None:
    _, file, field, words, at_discovery = CASES[episode]
    raw_id = f"7/A2D0015AB00061/{episode}"
    ref = _refs(root)[raw_id]
    assert (ref.error is not None) is at_discovery
    with pytest.raises(AdapterError) as info:
        GenieAdapter().read(ref)
    err = info.value
    assert (err.adapter, err.file, err.episode, err.field) == ("agibot_genie", str(root / raw_id / file), raw_id, field)
    assert words in err.reason, err.reason
    assert f"episode {raw_id}" in str(err) and f"field {field!r}" in str(err)


def test_good_episode_reads_beside_the_broken_ones(root: Path) -> None:
    ep = GenieAdapter().read(_refs(root)[GOOD])
    assert ep.states["joint.position"].values.shape == (24, 14) and ep.hands.hands[0].has_wrist


def test_undecidable_order_is_read_when_the_option_names_it(root: Path) -> None:
    ref = _refs(root)["7/A2D0015AB00061/9"]
    ep = GenieAdapter({"quaternion": "wxyz"}).read(ref)
    assert ep.metadata["quaternion_evidence"] == {"from": "option quaternion"}
    assert ep.states["end.orientation"].unit == "quat_wxyz" and "end.arm_orientation" not in ep.states


def test_g2_read_only_with_an_explicit_embodiment(root: Path) -> None:
    ep = GenieAdapter({"embodiment": "agibot_gripper"}).read(_refs(root)["7/A2D0015AB00061/8"])
    assert ep.robot_type == "agibot_g2a" and ep.embodiment == "agibot_gripper"


def test_a_root_with_nothing_says_what_it_looked_for(tmp_path: Path) -> None:
    (tmp_path / "job" / "sn" / "ep").mkdir(parents=True)
    (tmp_path / "job" / "sn" / "ep" / "notes.txt").write_text("no export files")
    adapter = GenieAdapter()
    assert list(adapter.discover(tmp_path)) == []
    (empty,) = source_findings(SourceSpec(name="genie", adapter="agibot_genie", root=tmp_path), adapter.findings(), 0)
    assert empty.code == "no_episodes" and "aligned_joints.h5, meta_info.json and data_info.json" in empty.message


def test_single_frame_segment_is_one_frame(tmp_path: Path) -> None:
    write_genie_sim(tmp_path, [GenieSpec(videos=False, segments=((0, 4, "reach"), (5, 5, "touch"), (6, 23, "lift")))])
    ep = GenieAdapter().read(next(GenieAdapter().discover(tmp_path)))
    assert [(s.start_frame, s.end_frame) for s in ep.action_config] == [(0, 5), (5, 6), (6, 24)]


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
