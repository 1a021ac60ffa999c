"""AgiBot World raw adapter, bad input: each class is a specific `AdapterError` (adapter, file, episode, field) and
the other episodes are still discovered and read."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.agibot import AgibotAdapter
from adapters.base import AdapterError, EpisodeRef
from adapters.synthetic.agibot import EpisodeSpec, Fault, write_agibot

GOOD = ("98/1", "327/1")
# raw id -> (fault, file relative to the root, field, words in the message)
FAULTS = {
    "98/2": (Fault.missing_group, "proprio_stats/98/2/proprio_stats.h5", "state/end", "missing group"),
    "98/3": (Fault.short_video, "observations/98/3/videos/head_color.mp4", "head_color", "16 frames"),
    "98/4": (Fault.garbage_video, "observations/98/4/videos/hand_left_color.mp4", "hand_left_color", "unreadable"),
    "327/2": (Fault.action_longer, "proprio_stats/327/2/proprio_stats.h5", "action/joint/position", "corrupt"),
    "327/3": (Fault.no_files, "proprio_stats/327/3", "proprio_stats", "listed in task_info"),
    "327/4": (Fault.no_task_info, "task_info/task_327.json", "episode_id", "no entry in task_info"),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agibot_bad")
    specs = [EpisodeSpec(98, 1, 24), EpisodeSpec(327, 1, 24, sparse_actions=True)]
    for raw_id, (fault, *_) in FAULTS.items():
        task, episode = map(int, raw_id.split("/"))
        specs.append(EpisodeSpec(task, episode, 24, fault=fault))
    write_agibot(root, specs, height=32, width=48)
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
    at_discovery = fault in (Fault.no_files, Fault.no_task_info)
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
