"""AgiBot World raw adapter: discovery order and ids, every stream read back as written, lazy cameras, language;
bad input: each class is a specific `AdapterError` (adapter, file, episode, field) and the other episodes are still
discovered and read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import h5py
import numpy as np
import pytest

from adapters.agibot.adapter import AgibotAdapter
from adapters.base import AdapterError, EpisodeRef
from adapters.cameras import VideoFileCamera
from adapters.registry import get_adapter
from adapters.synthetic.agibot import (
    DEFAULT_CAMERAS,
    EpisodeSpec,
    WrittenEpisode,
    frame_image,
    write_agibot,
)
from schemas.canonical import Camera
from schemas.tiers import QualityTier
from tests.fixtures.corrupt import break_agibot
from tests.fixtures.specs import agibot_specs
from tests.fixtures.writers.agibot import edit_entries, empty_end_index, english_fields, with_status, write_depth

H, W = 48, 64


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, WrittenEpisode]]:
    root = tmp_path_factory.mktemp("agibot")
    specs = agibot_specs(num_tasks=2, episodes_per_task=2, num_frames=24)
    specs[1] = EpisodeSpec(98, specs[1].episode_id, 30, sparse_actions=True)
    specs[2] = EpisodeSpec(327, specs[2].episode_id, 20, dexterous=True)
    written = write_agibot(root, specs, height=H, width=W)
    empty_end_index(root, specs[1])
    edit_entries(root, written, english_fields)
    edit_entries(root, written, with_status({specs[1].raw_id: "failed", specs[2].raw_id: "success"}))
    for spec in specs:
        write_depth(root, spec, H, W)
    return root, written


def _refs(root: Path, **options: object) -> list[EpisodeRef]:
    return list(AgibotAdapter(options).discover(root))


def test_registered_by_name() -> None:
    assert isinstance(get_adapter("agibot"), AgibotAdapter)


def test_discovery_numeric_order_stable_ids(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = corpus
    refs = _refs(root)
    ids = [r.raw_id for r in refs]
    assert ids == ["98/99998", "98/648642", "327/99998", "327/648642"]  # numeric, not string order
    assert ids == sorted(written, key=lambda i: tuple(map(int, i.split("/"))))
    assert refs == _refs(root)  # same refs, same order, twice
    assert [r.subset for r in refs] == ["task_98", "task_98", "task_327", "task_327"]
    assert all(r.error is None and r.adapter == "agibot" and r.source == "agibot_world" for r in refs)
    assert refs[0].uid == "agibot_world/task_98/98/99998"
    assert refs[0].paths[:2] == (
        str(root.resolve() / "task_info/task_98.json"),
        str(root.resolve() / "proprio_stats/98/99998/proprio_stats.h5"),
    )


def test_discovery_opens_no_video_nor_hdf5(
    corpus: tuple[Path, dict[str, WrittenEpisode]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("discovery must not open media or HDF5 files")

    monkeypatch.setattr(av, "open", forbidden)
    monkeypatch.setattr(h5py, "File", forbidden)
    assert len(_refs(corpus[0])) == 4


def test_discovery_options(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root = corpus[0]
    assert [r.raw_id for r in _refs(root, task_ids=[327])] == ["327/99998", "327/648642"]
    assert [r.raw_id for r in _refs(root, max_episodes=3)] == ["98/99998", "98/648642", "327/99998"]
    assert {r.subset for r in _refs(root, subset="alpha")} == {"alpha"}


def test_states_dense_actions_and_units(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = corpus
    ep = AgibotAdapter().read(_refs(root)[0])
    w = written["98/99998"]
    assert ep.embodiment == "agibot_gripper" and ep.robot_type == "agibot_g1"
    assert ep.native_fps == 30.0 and ep.tier is QualityTier.high and ep.success is None
    assert set(ep.states) == {k.replace("/", ".") for k in w.states}
    assert set(ep.actions) == {k.replace("/", ".") for k in w.actions}
    grid = np.arange(24) / 30.0
    for key, values in w.states.items():
        s = ep.states[key.replace("/", ".")]
        assert s.values.dtype == np.float64 and s.timestamps.dtype == np.float64
        np.testing.assert_array_equal(s.values, values)
        np.testing.assert_allclose(s.timestamps, grid)
    for key, values in w.actions.items():
        np.testing.assert_array_equal(ep.actions[key.replace("/", ".")].values, values)
        np.testing.assert_allclose(ep.actions[key.replace("/", ".")].timestamps, grid)
    end = ep.states["end.orientation"]
    assert (end.names, end.unit, end.frame) == (("qx", "qy", "qz", "qw"), "quat_xyzw", "robot_base")
    assert ep.states["end.position"].unit == "m" and ep.states["end.position"].values.shape == (24, 2, 3)
    assert ep.states["joint.position"].names[:2] == ("left_joint_0", "left_joint_1")
    assert ep.states["joint.position"].names[7] == "right_joint_0"
    assert (ep.states["effector.position"].names, ep.states["effector.position"].unit) == (("left", "right"), "mm")
    assert ep.actions["effector.position"].unit == "0..1"
    assert ep.actions["robot.velocity"].names == ("vx", "yaw_rate")
    assert "state/joint/effort" in ep.metadata["empty_fields"] and "joint.effort" not in ep.states
    assert ep.metadata["sparse_actions"] == {}
    clock = ep.metadata["clock"]
    assert clock["start_ns"] == int(w.timestamp_ns[0]) and 0 < clock["max_jitter_s"] < 0.005


def test_sparse_actions_keep_own_timestamps(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = corpus
    ep = AgibotAdapter().read(_refs(root)[1])
    w = written["98/648642"]
    for key in ("joint/position", "end/position", "end/orientation", "effector/position"):
        a = ep.actions[key.replace("/", ".")]
        assert len(a) < len(ep.states["joint.position"]) == 30  # never filled up to the state length
        np.testing.assert_array_equal(a.values, w.actions[key])
        np.testing.assert_allclose(a.timestamps, w.action_index[key] / 30.0)
    assert len(ep.actions["head.position"]) == 30
    sparse = ep.metadata["sparse_actions"]
    assert sparse["joint.position"]["index"] == "action/joint/index"
    assert sparse["end.position"]["index"] == "action/joint/index"  # empty action/end/index: joint's is used
    assert sparse["effector.position"] == {"index": "action/effector/index", "count": 21, "state_rows": 30}


def test_dexterous_variant(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = corpus
    ep = AgibotAdapter().read(_refs(root)[2])
    eff = ep.states["effector.position"]
    assert ep.embodiment == "agibot_dexterous"
    assert eff.values.shape == (20, 12) and eff.unit == "rad"
    assert eff.names[:1] + eff.names[6:7] == ("left_hand_0", "right_hand_0")
    np.testing.assert_array_equal(
        ep.actions["effector.position"].values, written["327/99998"].actions["effector/position"]
    )


def test_language_action_config_success(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = corpus
    refs = _refs(root)
    ep = AgibotAdapter().read(refs[1])
    entry = written["98/648642"].entry
    assert ep.success is False
    assert AgibotAdapter().read(refs[2]).success is True
    assert ep.language[0].text == entry["english_task_name"] == "Pickup items in the supermarket"
    assert (ep.language[0].kind, ep.language[0].start_s) == ("instruction", None)
    assert ep.language[1].text == entry["english_init_scene_text"] and ep.language[1].kind == "description"
    segs = entry["label_info"]["action_config"]
    assert [s.model_dump() for s in ep.action_config] == segs  # skill kept
    timed = ep.language[2:]
    assert [(lang.text, lang.start_s, lang.end_s) for lang in timed] == [
        (s["action_text"], s["start_frame"] / 30, s["end_frame"] / 30) for s in segs
    ]
    assert ep.metadata["task_info"]["task_name"] == "超市取物"


def test_english_fields_absent(tmp_path: Path) -> None:
    written = write_agibot(tmp_path, [EpisodeSpec(5, 7, 12)], height=H, width=W, parameters=False)
    ep = AgibotAdapter().read(_refs(tmp_path)[0])
    assert "english_task_name" not in written["5/7"].entry
    assert ep.language[0].text == written["5/7"].entry["task_name"] == "Clear the dining table"  # English in Alpha
    assert ep.camera_poses == {} and all(c.intrinsics is None for c in ep.cameras.values())


def test_cameras_lazy_no_decoder_at_read(
    corpus: tuple[Path, dict[str, WrittenEpisode]], monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes: list[str] = []
    real_open = av.open

    class Spy:
        def __init__(self, container: av.container.InputContainer) -> None:
            self._c = container

        def __getattr__(self, name: str) -> object:
            return getattr(self._c, name)

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self._c.close()

        def decode(self, *args: object, **kwargs: object) -> object:
            decodes.append(self._c.name)
            return self._c.decode(*args, **kwargs)

    monkeypatch.setattr(av, "open", lambda *a, **k: Spy(real_open(*a, **k)))
    root, written = corpus
    ep = AgibotAdapter().read(_refs(root)[0])
    assert decodes == []
    assert set(ep.cameras) == set(DEFAULT_CAMERAS)
    assert all(isinstance(c, VideoFileCamera) for c in ep.cameras.values())
    head = ep.cameras["head"]
    assert head.canonical is Camera.head and ep.cameras["hand_left"].canonical is Camera.wrist_left
    assert (head.height, head.width, len(head)) == (H, W, 24)
    np.testing.assert_allclose(head.timestamps, np.arange(24) / 30.0, atol=1e-6)
    got = list(head.frames([0, 5]))
    assert [i for i, _ in got] == [0, 5] and len(decodes) == 1
    spec = written["98/99998"].spec
    for i, frame in got:
        ref = frame_image(spec, "head", i, H, W).astype(np.float64)
        mse = np.mean((frame.astype(np.float64) - ref) ** 2)
        assert 10 * np.log10(255**2 / mse) > 30


def test_camera_parameters(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = corpus
    ep = AgibotAdapter().read(_refs(root)[0])
    w = written["98/99998"]
    for cam in DEFAULT_CAMERAS:
        np.testing.assert_allclose(ep.cameras[cam].intrinsics, w.intrinsics[cam])
        pose = ep.camera_poses[cam]
        assert (pose.unit, pose.frame, pose.values.shape) == ("se3_4x4", "robot_base", (24, 4, 4))
        np.testing.assert_allclose(pose.values, w.extrinsics[cam])
        np.testing.assert_allclose(pose.timestamps, np.arange(24) / 30.0)
    assert ep.metadata["camera_distortion"]["head"]["k1"] == 0.01
    assert ep.metadata["depth"]["frames"] == 24


def test_fisheye_and_camera_selection_and_nested_parameters(tmp_path: Path) -> None:
    spec = EpisodeSpec(11, 3, 10)
    write_agibot(tmp_path, [spec], cameras=(*DEFAULT_CAMERAS, "head_center_fisheye"), height=H, width=W)
    param = tmp_path / "parameters/11/3"
    (param / "parameters").mkdir()
    shutil.move(param / "camera", param / "parameters/camera")  # the `.../parameters/camera` variant
    ref = _refs(tmp_path)[0]
    ep = AgibotAdapter().read(ref)
    assert list(ep.cameras) == ["hand_left", "hand_right", "head", "head_center_fisheye"]
    assert ep.cameras["head_center_fisheye"].canonical is None
    assert ep.cameras["head_center_fisheye"].intrinsics is not None
    ep = AgibotAdapter({"cameras": ["head"]}).read(ref)
    assert list(ep.cameras) == ["head"] and list(ep.camera_poses) == ["head"]


def test_task_info_unsorted_on_disk(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    listed = json.loads((corpus[0] / "task_info/task_98.json").read_text())
    assert [e["episode_id"] for e in listed] == [648642, 99998]  # the writer reverses; discovery sorts


def test_ref_round_trips_through_json(corpus: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    ref = _refs(corpus[0])[3]
    again = EpisodeRef.model_validate_json(ref.model_dump_json())  # as sent to another process
    assert again == ref
    ep = AgibotAdapter().read(again)
    np.testing.assert_array_equal(ep.states["joint.position"].values, corpus[1]["327/648642"].states["joint/position"])


GOOD = ("98/1", "327/1")
WRITTEN_BAD = ("action_longer",)  # planted by the writer (EpisodeSpec.bad); the others broken after it


# raw id -> (fault, file relative to the root, field, words in the message)
FAULTS = {
    "98/2": ("missing_group", "proprio_stats/98/2/proprio_stats.h5", "state/end", "missing group"),
    "98/3": ("short_video", "observations/98/3/videos/head_color.mp4", "head_color", "16 frames"),
    "98/4": ("garbage_video", "observations/98/4/videos/hand_left_color.mp4", "hand_left_color", "unreadable"),
    "327/2": ("action_longer", "proprio_stats/327/2/proprio_stats.h5", "action/joint/position", "corrupt"),
    "327/3": ("no_files", "proprio_stats/327/3", "proprio_stats", "listed in task_info"),
    "327/4": ("no_task_info", "task_info/task_327.json", "episode_id", "no entry in task_info"),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agibot_bad")
    specs = [EpisodeSpec(98, 1, 24), EpisodeSpec(327, 1, 24, sparse_actions=True)]
    for raw_id, (fault, *_) in FAULTS.items():
        task, episode = map(int, raw_id.split("/"))
        specs.append(EpisodeSpec(task, episode, 24, bad=fault if fault in WRITTEN_BAD else None))
    write_agibot(root, specs, height=32, width=48)
    for spec in specs:
        fault = FAULTS.get(spec.raw_id, (None,))[0]
        if fault is not None and fault not in WRITTEN_BAD:
            break_agibot(root, spec, fault, height=32, width=48)
    return root.resolve()


def _by_id(root: Path) -> dict[str, EpisodeRef]:
    return {r.raw_id: r for r in AgibotAdapter().discover(root)}


def _check(err: AdapterError, file: Path, raw_id: str, field: str, words: str) -> None:
    assert (err.adapter, err.file, err.episode, err.field) == ("agibot", str(file), raw_id, field)
    assert words in err.reason
    assert f"episode {raw_id}" in str(err) and f"field {field!r}" in str(err)


def _good_episodes_still_read(refs: dict[str, EpisodeRef]) -> None:
    for raw_id in GOOD:
        assert refs[raw_id].error is None
        ep = AgibotAdapter().read(refs[raw_id])
        assert len(ep.states["joint.position"]) == 24 and set(ep.cameras) == {"head", "hand_left", "hand_right"}


def test_every_episode_discovered_in_order(root: Path) -> None:
    refs = list(AgibotAdapter().discover(root))
    assert [r.raw_id for r in refs] == ["98/1", "98/2", "98/3", "98/4", "327/1", "327/2", "327/3", "327/4"]


@pytest.mark.parametrize("raw_id", sorted(FAULTS))
def test_bad_episode_raises_specific_error(root: Path, raw_id: str) -> None:
    fault, file, field, words = FAULTS[raw_id]
    refs = _by_id(root)
    at_discovery = fault in ("no_files", "no_task_info")
    assert (refs[raw_id].error is not None) is at_discovery
    if at_discovery:
        assert field in refs[raw_id].error and words in refs[raw_id].error
    with pytest.raises(AdapterError) as info:
        AgibotAdapter().read(refs[raw_id])
    _check(info.value, root / file, raw_id, field, words)
    _good_episodes_still_read(refs)


def test_files_of_a_task_without_task_info_file(tmp_path: Path) -> None:
    write_agibot(tmp_path, [EpisodeSpec(7, 1, 12), EpisodeSpec(8, 1, 12)], height=32, width=48)
    (tmp_path / "task_info/task_7.json").unlink()
    refs = _by_id(tmp_path.resolve())
    assert list(refs) == ["7/1", "8/1"] and refs["8/1"].error is None
    with pytest.raises(AdapterError) as info:
        AgibotAdapter().read(refs["7/1"])
    _check(info.value, tmp_path.resolve() / "task_info/task_7.json", "7/1", "task_info", "no task_info file")
    assert AgibotAdapter().read(refs["8/1"]).embodiment == "agibot_gripper"


def test_malformed_task_info(tmp_path: Path) -> None:
    write_agibot(tmp_path, [EpisodeSpec(7, 1, 12), EpisodeSpec(8, 1, 12)], height=32, width=48)
    (tmp_path / "task_info/task_7.json").write_text('[{"episode_id": 1, ')
    refs = _by_id(tmp_path.resolve())
    assert refs["7/1"].error is not None and "unreadable task_info" in refs["7/1"].error
    with pytest.raises(AdapterError, match="unreadable task_info"):
        AgibotAdapter().read(refs["7/1"])
    assert AgibotAdapter().read(refs["8/1"]).states


def test_bad_action_config_segment(tmp_path: Path) -> None:
    write_agibot(tmp_path, [EpisodeSpec(7, 1, 12)], height=32, width=48)
    path = tmp_path / "task_info/task_7.json"
    listed = json.loads(path.read_text())
    listed[0]["label_info"]["action_config"][1]["end_frame"] = listed[0]["label_info"]["action_config"][1][
        "start_frame"
    ]
    path.write_text(json.dumps(listed))
    with pytest.raises(AdapterError) as info:
        AgibotAdapter().read(_by_id(tmp_path.resolve())["7/1"])
    _check(info.value, path.resolve(), "7/1", "label_info.action_config[1]", "end_frame")


def test_sparse_action_without_matching_index(tmp_path: Path) -> None:
    write_agibot(tmp_path, [EpisodeSpec(7, 1, 12, sparse_actions=True)], height=32, width=48)
    h5 = tmp_path / "proprio_stats/7/1/proprio_stats.h5"
    with h5py.File(h5, "a") as f:
        del f["action/effector/index"]
        f["action/effector/index"] = np.arange(3, dtype=np.int64)
    with pytest.raises(AdapterError) as info:
        AgibotAdapter().read(_by_id(tmp_path.resolve())["7/1"])
    _check(info.value, h5.resolve(), "7/1", "action/effector/position", "action/effector/index has 3 entries")


def test_missing_video_of_a_requested_camera(tmp_path: Path) -> None:
    write_agibot(tmp_path, [EpisodeSpec(7, 1, 12)], height=32, width=48)
    ref = _by_id(tmp_path.resolve())["7/1"]
    with pytest.raises(AdapterError) as info:
        AgibotAdapter({"cameras": ["head", "head_center_fisheye"]}).read(ref)
    video = tmp_path.resolve() / "observations/7/1/videos/head_center_fisheye_color.mp4"
    _check(info.value, video, "7/1", "head_center_fisheye_color", "video is missing")


def test_segment_past_the_end_is_kept_and_flagged(tmp_path: Path) -> None:
    write_agibot(tmp_path, [EpisodeSpec(7, 1, 12)], height=32, width=48)
    path = tmp_path / "task_info/task_7.json"
    listed = json.loads(path.read_text())
    listed[0]["label_info"]["action_config"][-1]["end_frame"] = 40
    path.write_text(json.dumps(listed))
    ep = AgibotAdapter().read(_by_id(tmp_path.resolve())["7/1"])
    assert ep.action_config[-1].end_frame == 40 and ep.metadata["action_config_past_end"] == [2]
