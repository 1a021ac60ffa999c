"""AgiBot layouts beyond the HF card's table: split per-arm grippers, action index shorter than its data, an irregular
native clock, dexhand fisheye wrist cameras, `lable_info`, and Digital World exports refused by name. On a real
`proprio_stats.h5` (`agibot_proprio_stats_real`, tests/REAL_SAMPLES.md: one real-robot episode, no videos or task_info):
split per-arm grippers, `(0,)` placeholders, int64 ns irregular clock, action index shorter than the action beside it,
and the gripper's physical direction."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.agibot.adapter import AgibotAdapter
from adapters.base import AdapterError, EpisodeRef, RawEpisode
from adapters.synthetic.agibot import (
    DEFAULT_CAMERAS,
    DEXHAND_CAMERAS,
    EpisodeSpec,
    Layout,
    WrittenEpisode,
    write_agibot,
)
from ingest.canonical.resample import nearest_at_or_before
from schemas.canonical import GRIPPER, Camera, hand_dims
from tests.fixtures.offline import prepared
from tests.fixtures.writers.agibot import edit_entries, irregular_clock, with_label_key
from tests.realdata import realdata

H, W = 32, 48


def _write(root: Path, *specs: EpisodeSpec, **kwargs: object) -> dict[str, WrittenEpisode]:
    return write_agibot(root, list(specs), height=H, width=W, **{"parameters": False, **kwargs})


def _ref(root: Path, raw_id: str) -> EpisodeRef:
    return next(r for r in AgibotAdapter().discover(root) if r.raw_id == raw_id)


def test_split_effectors_as_real_files(tmp_path: Path) -> None:
    """No `state/effector`: one (T, 1) gripper per arm, read as the gripper embodiment with both hands' openings."""
    w = _write(tmp_path, EpisodeSpec(5, 1, 20, layout=Layout.split_effector))["5/1"]
    ep = AgibotAdapter().read(_ref(tmp_path, "5/1"))
    assert ep.embodiment == "agibot_gripper" and "effector.position" not in ep.states
    for arm in ("left", "right"):
        s, a = ep.states[f"{arm}_effector.position"], ep.actions[f"{arm}_effector.position"]
        assert (s.names, s.unit, s.values.shape) == ((arm,), "mm", (20, 1))
        assert (a.names, a.unit) == ((arm,), "0..1")
        np.testing.assert_array_equal(s.values, w.states[f"{arm}_effector/position"])
    assert "state/left_effector/force" in ep.metadata["empty_fields"]  # (0,) placeholders skipped
    assert all(ep.hands.hands[h].gripper is not None and len(ep.hands.hands[h].gripper) == 20 for h in (0, 1))


def test_index_strict_subset_of_equal_length_action_masks_the_other_rows(tmp_path: Path) -> None:
    """The real sample: 1990 joint/end action rows, 1925 index entries; the rows outside repeat the state."""
    w = _write(tmp_path, EpisodeSpec(5, 1, 30, index_subset=True))["5/1"]
    keep = w.action_index["joint/position"]
    assert len(w.actions["joint/position"]) == 30 and len(keep) == 24  # as long as the state, index shorter
    ep = AgibotAdapter().read(_ref(tmp_path, "5/1"))
    for key in ("joint/position", "end/position", "end/orientation"):
        a = ep.actions[key.replace("/", ".")]
        np.testing.assert_allclose(a.timestamps, keep / 30.0)  # only the frames the controller sent
        np.testing.assert_array_equal(a.values, w.actions[key][keep])
        note = ep.metadata["sparse_actions"][key.replace("/", ".")]
        assert note == {"index": f"action/{key.split('/')[0]}/index", "count": 24, "state_rows": 30, "masked_rows": 6}
    dropped = np.setdiff1d(np.arange(30), keep)
    np.testing.assert_array_equal(w.actions["joint/position"][dropped], w.states["joint/position"][dropped])
    assert len(ep.actions["head.position"]) == 30 and "head.position" not in ep.metadata["sparse_actions"]


def test_index_longer_than_equal_length_action_is_an_error(tmp_path: Path) -> None:
    import h5py

    _write(tmp_path, EpisodeSpec(5, 1, 12))
    h5 = tmp_path / "proprio_stats/5/1/proprio_stats.h5"
    with h5py.File(h5, "a") as f:
        del f["action/head/index"]
        f["action/head/index"] = np.arange(14, dtype=np.int64)
    with pytest.raises(AdapterError, match="action/head/index has 14 entries for 12 action rows") as info:
        AgibotAdapter().read(_ref(tmp_path, "5/1"))
    assert (info.value.field, info.value.episode) == ("action/head/position", "5/1")


def test_irregular_ns_clock_is_recorded_rows_stay_on_the_frame_grid(tmp_path: Path) -> None:
    w = _write(tmp_path, EpisodeSpec(5, 1, 60))["5/1"]
    irregular_clock(tmp_path, w)
    ep = AgibotAdapter().read(_ref(tmp_path, "5/1"))
    clock = ep.metadata["clock"]
    steps = np.diff(w.timestamp_ns) / 1e9
    assert steps.min() < 0.025 and steps.max() > 0.042  # irregular like the real sample's 14..53 ms
    assert clock["start_ns"] == int(w.timestamp_ns[0]) and clock["rate_hz"] == pytest.approx(30.0, abs=1.0)
    assert 0.005 < clock["max_jitter_s"] < 1 / 30 and clock["median_dt_s"] == pytest.approx(1 / 30, abs=0.005)
    np.testing.assert_allclose(ep.states["joint.position"].timestamps, np.arange(60) / 30.0)


def test_dexhand_fisheye_wrist_cameras(tmp_path: Path) -> None:
    _write(tmp_path, EpisodeSpec(5, 1, 10, dexterous=True), cameras=DEXHAND_CAMERAS)
    _write(tmp_path, EpisodeSpec(6, 1, 10), cameras=(*DEFAULT_CAMERAS, "hand_left_fisheye"))
    ep = AgibotAdapter().read(_ref(tmp_path, "5/1"))
    assert ep.embodiment == "agibot_dexterous"
    canonical = {name: cam.canonical for name, cam in ep.cameras.items()}
    assert canonical == {
        "head": Camera.head,
        "hand_left_fisheye": Camera.wrist_left,
        "hand_right_fisheye": Camera.wrist_right,
    }
    both = AgibotAdapter().read(_ref(tmp_path, "6/1")).cameras  # plain hand cameras win; the fisheye stays native
    assert both["hand_left"].canonical is Camera.wrist_left and both["hand_left_fisheye"].canonical is None


def test_lable_info_spelling_and_missing_labels(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    written = _write(tmp_path, EpisodeSpec(5, 1, 12), EpisodeSpec(5, 2, 12))
    edit_entries(tmp_path, written, with_label_key({"5/1": "lable_info", "5/2": None}))
    with caplog.at_level(logging.WARNING, logger="adapters.agibot"):
        ep = AgibotAdapter().read(_ref(tmp_path, "5/1"))
        bare = AgibotAdapter().read(_ref(tmp_path, "5/2"))
    segments = written["5/1"].entry["lable_info"]["action_config"]
    assert [s.model_dump() for s in ep.action_config] == segments and ep.metadata["label_info"] == "lable_info"
    assert "lable_info" not in ep.metadata["task_info"]
    assert bare.action_config is None and bare.metadata["label_info"] == "missing"
    assert "episode 5/2 has neither label_info nor lable_info" in caplog.text
    assert "5/1" not in caplog.text  # either spelling is enough


def _as_digital_world(h5: Path) -> None:
    """Rewrite a written episode as the Genie Sim (Digital World) export of the same motion: 34 joints (head, waist,
    arms, gripper joints), wxyz quaternions, float32 "seconds ... in simulation time" (AgiBotDigitalWorld card)."""
    with h5py.File(h5, "r+") as f:
        steps = len(f["timestamp"])
        del f["timestamp"]
        f.create_dataset("timestamp", data=(0.2 + np.arange(steps) / 60.0).astype(np.float32))
        for kind in ("state", "action"):
            for key in (f"{kind}/joint/position", f"{kind}/end/orientation", f"{kind}/robot/orientation"):
                values = f[key][()]
                del f[key]
                if key.endswith("joint/position"):
                    n = len(values)
                    values = np.concatenate([np.full((n, 4), 0.1), values, np.zeros((n, 16))], axis=1)
                else:
                    values = np.roll(values, 1, axis=-1)  # xyzw -> wxyz
                f.create_dataset(key, data=values)


def test_digital_world_export_is_refused_by_name(tmp_path: Path) -> None:
    _write(tmp_path, EpisodeSpec(5, 1, 12), EpisodeSpec(5, 2, 12), EpisodeSpec(5, 3, 12))
    for episode in (1, 3):
        _as_digital_world(tmp_path / f"proprio_stats/5/{episode}/proprio_stats.h5")
    h5 = tmp_path / "proprio_stats/5/1/proprio_stats.h5"
    with pytest.raises(AdapterError) as info:
        AgibotAdapter().read(_ref(tmp_path, "5/1"))
    err = info.value
    assert (err.file, err.episode, err.field) == (str(h5.resolve()), "5/1", "state/joint/position")
    assert "Digital World" in err.reason and "34 joints" in err.reason and "wxyz" in err.reason
    renamed = tmp_path / "proprio_stats/5/3/proprio_stats.h5"
    renamed.rename(renamed.with_name("proprio_states.h5"))  # the file name third-party readers of its sample find
    with pytest.raises(AdapterError, match=r"Digital World.*proprio_states\.h5") as info:
        AgibotAdapter().read(_ref(tmp_path, "5/3"))
    assert info.value.field == "proprio_stats.h5"
    assert AgibotAdapter().read(_ref(tmp_path, "5/2")).embodiment == "agibot_gripper"  # the job goes on


ROWS = 1990


@pytest.fixture(scope="module")
def h5() -> Path:
    return realdata("agibot_proprio_stats_real/proprio_stats.h5")


@pytest.fixture(scope="module")
def raw(h5: Path, tmp_path_factory: pytest.TempPathFactory) -> RawEpisode:
    """The real file in a corpus around it: its task_info and a small head video are synthetic (the sample has none)."""
    root = tmp_path_factory.mktemp("agibot_real")
    write_agibot(
        root,
        [EpisodeSpec(1, 1, ROWS, layout=Layout.split_effector)],
        cameras=("head",),
        height=16,
        width=16,
        parameters=False,
    )
    shutil.copyfile(h5, root / "proprio_stats/1/1/proprio_stats.h5")
    (ref,) = AgibotAdapter().discover(root)
    return AgibotAdapter().read(ref)


def test_layout_of_the_real_file(raw: RawEpisode) -> None:
    assert raw.embodiment == "agibot_gripper" and raw.metadata["state_rows"] == ROWS
    for arm in ("left", "right"):
        s = raw.states[f"{arm}_effector.position"]
        assert (s.names, s.unit, s.values.shape, s.values.dtype) == ((arm,), "mm", (ROWS, 1), np.float64)
        assert s.values.min() >= 0 and s.values.max() <= 120
        assert raw.actions[f"{arm}_effector.position"].unit == "0..1"
    assert raw.states["end.orientation"].unit == "quat_xyzw" and raw.states["joint.position"].values.shape[1] == 14
    empty = raw.metadata["empty_fields"]
    assert {"state/joint/effort", "state/left_effector/force", "action/robot/position"} <= set(empty)
    assert not any(k.replace(".", "/") in empty for k in raw.states)


def test_action_index_shorter_than_its_data(raw: RawEpisode, h5: Path) -> None:
    """1925 index entries beside 1990 joint/end rows: only the indexed frames are commands."""
    with h5py.File(h5) as f:
        index = f["action/joint/index"][()]
        joint = f["action/joint/position"][()]
        assert len(index) == 1925 and joint.shape[0] == ROWS
    for key in ("joint.position", "end.position", "end.orientation"):
        a = raw.actions[key]
        np.testing.assert_allclose(a.timestamps, index / 30.0)
        assert raw.metadata["sparse_actions"][key]["masked_rows"] == ROWS - 1925
    np.testing.assert_array_equal(raw.actions["joint.position"].values, joint[index])
    assert raw.actions["joint.position"].timestamps[0] == pytest.approx(24 / 30)  # the first 24 frames unsent
    assert len(raw.actions["head.position"]) == ROWS and "head.position" not in raw.metadata["sparse_actions"]


def test_native_clock_is_irregular_ns_rows_on_the_grid(raw: RawEpisode) -> None:
    clock = raw.metadata["clock"]
    assert clock["start_ns"] == 1748237033333286632 and clock["rows"] == ROWS
    assert clock["rate_hz"] == pytest.approx(30.0, abs=0.01) and clock["median_dt_s"] == pytest.approx(0.0344, 1e-2)
    assert 0.01 < clock["max_jitter_s"] < 1 / 30  # irregular steps, yet within a frame of row / 30 s
    np.testing.assert_allclose(raw.states["joint.position"].timestamps, np.arange(ROWS) / 30.0)


def test_gripper_state_rises_with_the_close_command(raw: RawEpisode) -> None:
    """The physical direction: state (mm) up when the command says close; canonical opening down, 1 when open."""
    (ep,) = prepared(raw)
    for hand, arm in enumerate(("left", "right")):
        state = raw.states[f"{arm}_effector.position"].values[:, 0]
        command = raw.actions[f"{arm}_effector.position"]
        assert np.polyfit(command.values[:, 0], state, 1)[0] > 50  # mm per unit of command: closing raises the state
        opening = ep.state[:, hand_dims(hand, GRIPPER)][:, 0]
        assert opening.max() > 0.9 and opening.min() < 0.05
        at_grid = nearest_at_or_before(command.timestamps, ep.span_s[0] + ep.timestamps)  # the command each frame
        assert np.median(opening[command.values[at_grid, 0] < 0.1]) > 0.9  # open command: open gripper


def test_canonical_gripper_is_the_recorded_row_of_its_frame(raw: RawEpisode) -> None:
    """At every 10 Hz frame the state's opening is the recorded mm row of that frame on the documented scale (35 mm
    open .. 120 mm closed, rising as it closes: adapters/agibot_g1.py), and the action's is the next frame's row:
    one frame late or early, or 1 read as closed, differs on the real episode's grasps."""
    (ep,) = prepared(raw)
    nxt = np.minimum(np.arange(ep.num_frames) + 1, ep.num_frames - 1)
    for hand, arm in enumerate(("left", "right")):
        s = raw.states[f"{arm}_effector.position"]
        mm = s.values[nearest_at_or_before(s.timestamps, ep.span_s[0] + ep.timestamps), 0]
        expected = np.clip((120.0 - mm) / (120.0 - 35.0), 0.0, 1.0)
        np.testing.assert_allclose(ep.state[:, hand_dims(hand, GRIPPER)][:, 0], expected, atol=1e-5)
        np.testing.assert_allclose(ep.action[:, hand_dims(hand, GRIPPER)][:, 0], expected[nxt], atol=1e-5)
        assert np.abs(expected[nxt] - expected).max() > 0.05  # the real grasps move between frames
