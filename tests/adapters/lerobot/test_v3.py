"""LeRobot v3.0 as a source: many episodes per data parquet and per mp4, each episode read back with its rows only."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, EpisodeRef, Language
from adapters.lerobot.adapter import LeRobotSource
from adapters.synthetic.lerobot import WrittenV3, write_lerobot_v3
from schemas.canonical import Camera
from tests.adapters.lerobot.conftest import quirk_report
from tests.fixtures.corrupt import break_lerobot_v3

LENGTHS = (8, 11, 6)
TOP, WRIST = "observation.images.top", "observation.images.wrist_left"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def v3(tmp_path_factory: pytest.TempPathFactory) -> WrittenV3:
    return write_lerobot_v3(tmp_path_factory.mktemp("v3") / "so100_v3", LENGTHS, seed=3)


@pytest.fixture(scope="module")
def refs(v3: WrittenV3) -> list[EpisodeRef]:
    return list(LeRobotSource().discover(v3.root))


def test_layout_is_v3_many_episodes_per_file(v3: WrittenV3) -> None:
    assert sorted(p.relative_to(v3.root).as_posix() for p in v3.root.rglob("*") if p.is_file()) == [
        "data/chunk-000/file-000.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        f"videos/{TOP}/chunk-000/file-000.mp4",
        f"videos/{WRIST}/chunk-000/file-000.mp4",
    ]


def test_discovery(v3: WrittenV3, refs: list[EpisodeRef]) -> None:
    assert [(r.subset, r.raw_id, r.error) for r in refs] == [("so100_v3", f"episode_{i:06d}", None) for i in range(3)]
    assert refs == list(LeRobotSource().discover(v3.root))
    assert refs[1].paths == (
        str(v3.root / "data/chunk-000/file-000.parquet"),
        str(v3.root / f"videos/{TOP}/chunk-000/file-000.mp4"),
        str(v3.root / f"videos/{WRIST}/chunk-000/file-000.mp4"),
    )


def test_report_is_clean_apart_from_the_layout_note(v3: WrittenV3) -> None:
    report = quirk_report(LeRobotSource(), v3.root)
    assert [(q["code"], q["severity"]) for q in report] == [("v3_layout", "info")]


@pytest.mark.parametrize("i", range(len(LENGTHS)))
def test_each_episode_reads_its_own_rows(v3: WrittenV3, refs: list[EpisodeRef], i: int) -> None:
    ep = LeRobotSource().read(refs[i])
    n = LENGTHS[i]
    state, action = ep.states["observation.state"], ep.actions["action"]
    np.testing.assert_array_equal(state.values, v3.states[i])  # bit for bit
    np.testing.assert_array_equal(action.values, v3.actions[i])
    assert state.names == tuple(f"joint_{j}" for j in range(6))
    np.testing.assert_array_equal(state.timestamps, np.float32(np.arange(n) / 10))
    assert ep.language == [Language(v3.tasks[i])]
    start = sum(LENGTHS[:i])
    assert ep.metadata["global_index"] == [start, start + n - 1]
    assert ep.metadata["episode_quirks"] == [] and ep.metadata["timestamp_offset_s"] == 0.0
    assert (ep.robot_type, ep.native_fps, ep.metadata["codebase_version"]) == ("so100_follower", 10.0, "v3.0")
    assert ep.metadata["quirks"] == quirk_report(LeRobotSource(), v3.root)


@pytest.mark.parametrize("i", range(len(LENGTHS)))
def test_each_episode_decodes_only_its_span_of_the_shared_mp4(v3: WrittenV3, refs: list[EpisodeRef], i: int) -> None:
    ep = LeRobotSource().read(refs[i])
    assert {k: c.canonical for k, c in ep.cameras.items()} == {TOP: Camera.head, WRIST: Camera.wrist_left}
    for key, cam in ep.cameras.items():
        n = LENGTHS[i]
        assert len(cam) == n and (cam.height, cam.width) == (48, 64)
        np.testing.assert_allclose(cam.timestamps, np.arange(n) / 10, atol=1e-9)
        frames = dict(cam.frames())
        assert sorted(frames) == list(range(n))
        want = v3.frames[key][i]
        assert min(psnr(frames[t], want[t]) for t in range(n)) > 30
        if i > 0:  # the frame before the span belongs to the previous episode, not this one
            assert psnr(frames[0], v3.frames[key][i - 1][-1]) < 25


def test_frames_by_index_after_a_seek(v3: WrittenV3, refs: list[EpisodeRef]) -> None:
    cam = LeRobotSource().read(refs[1]).cameras[TOP]
    got = dict(cam.frames([2, 9]))
    assert sorted(got) == [2, 9]
    assert psnr(got[9], v3.frames[TOP][1][9]) > 30
    assert dict(cam.frames([])) == {}


# ---------------------------------------------------------------------------------------------------------------
# Bad input


def test_ghost_camera_and_length_mismatch(tmp_path: Path) -> None:
    root = tmp_path / "bad_v3"
    written = write_lerobot_v3(root, (5, 7), seed=1)
    break_lerobot_v3(root, ghost_camera="observation.images.cam_high", length_mismatch_episode=1)
    adapter = LeRobotSource()
    refs = list(adapter.discover(root))
    assert [r.error for r in refs] == [None, None]
    codes = {q["code"]: q for q in quirk_report(adapter, root)}
    assert codes["ghost_camera"]["severity"] == "warning" and "cam_high" in codes["ghost_camera"]["message"]
    assert "episode_length_mismatch" in codes
    ep = adapter.read(refs[1])
    assert sorted(ep.cameras) == [TOP, WRIST]
    np.testing.assert_array_equal(ep.states["observation.state"].values, written.states[1])
    assert len(ep.cameras[TOP]) == 7  # the span comes from from/to timestamps, not the wrong length
    assert [q["code"] for q in ep.metadata["episode_quirks"]] == ["episode_length_mismatch"]
    assert adapter.read(refs[0]).metadata["episode_quirks"] == []


def test_missing_shared_data_file_fails_every_episode_naming_it(v3: WrittenV3, tmp_path: Path) -> None:
    root = tmp_path / "no_data"
    shutil.copytree(v3.root, root)
    (root / "data/chunk-000/file-000.parquet").unlink()
    adapter = LeRobotSource()
    refs = list(adapter.discover(root))
    assert len(refs) == 3 and all("missing" in (r.error or "") for r in refs)
    with pytest.raises(AdapterError) as info:
        adapter.read(refs[2])
    err = info.value
    assert (err.adapter, err.episode, err.field) == ("lerobot", "episode_000002", "data_path")
    assert err.file == str(root / "data/chunk-000/file-000.parquet")
    assert "missing_data_files" in {q["code"] for q in quirk_report(adapter, root)}


def test_unreadable_tasks_parquet_is_a_quirk_and_episodes_still_read(v3: WrittenV3, tmp_path: Path) -> None:
    root = tmp_path / "bad_tasks"
    shutil.copytree(v3.root, root)
    (root / "meta/tasks.parquet").write_bytes(b"PAR1 torn")
    adapter = LeRobotSource()
    refs = list(adapter.discover(root))
    assert "unreadable_tasks" in {q["code"] for q in quirk_report(adapter, root)}
    ep = adapter.read(refs[0])
    assert ep.language == []
    assert [q["code"] for q in ep.metadata["episode_quirks"]] == ["task_index_unknown"]
    np.testing.assert_array_equal(ep.states["observation.state"].values, v3.states[0])
