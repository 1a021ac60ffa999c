"""LeRobot files found where they are (issue 23 item 2): template spellings, moved mp4s, cameras of any name.

Template placeholders are lerobot's own (v2.1 `lerobot/common/datasets/utils.py`, v3.0 `src/lerobot/datasets/utils.py`,
the pre-release v2.0 `lerobot_dataset.py`; cited in `schemas/lerobot.py`). A moved mp4 is taken only when exactly one
file has the declared name and chunk folder under a folder named after the camera; anything else stays missing
(a ghost camera, or the episode's problem naming the path expected), never a guess.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.synthetic.lerobot import write_lerobot_v3
from jobs.validate import validate_dataset
from schemas.lerobot import fill_path_template
from tests.adapters.lerobot.conftest import quirk_report
from tests.fixtures.corrupt import inject_fault
from tests.fixtures.episodes import write_canonical_dataset
from tests.fixtures.layouts import load_case, materialize


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet", "data/chunk-001/episode_001234.parquet"),
        ("data/chunk-{chunk_index:03d}/episode_{episode_index:06d}.parquet", "data/chunk-001/episode_001234.parquet"),
        (
            "videos/chunk-{chunk_index:03d}/{video_key}/episode_{episode_index:06d}.mp4",
            "videos/chunk-001/observation.images.cam0/episode_001234.mp4",
        ),
        (
            "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
            "videos/observation.images.cam0/chunk-001/file-007.mp4",
        ),
        ("images/{image_key}/episode_{episode_index:06d}.png", "images/observation.images.cam0/episode_001234.png"),
        ("data/train-{episode_index:05d}-of-{total_episodes:05d}.parquet", "data/train-01234-of-02000.parquet"),
    ],
)
def test_every_lerobot_placeholder_spelling_is_filled(template: str, expected: str) -> None:
    got = fill_path_template(template, 1234, 1, "observation.images.cam0", file_index=7, total_episodes=2000)
    assert got == expected


def test_an_unknown_placeholder_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"placeholder \{episode_chunk_idx\}"):
        fill_path_template("data/chunk-{episode_chunk_idx:03d}/x.parquet", 0, 0)


def test_v3_videos_moved_to_another_folder_are_read_and_a_partial_move_names_the_missing_path(tmp_path: Path) -> None:
    root = write_lerobot_v3(tmp_path / "ds", (6, 7)).root
    shutil.move(root / "videos", root / "video")
    adapter = LeRobotSource()
    refs = list(adapter.discover(root))
    assert [r.error for r in refs] == [None, None]
    moved = [q for q in quirk_report(adapter, root) if q["code"] == "video_path_relocated"]
    assert len(moved) == 2 and all(q["severity"] == "warning" for q in moved)
    raw = adapter.read(refs[1])
    assert {k: len(c) for k, c in raw.cameras.items()} == {
        "observation.images.top": 7,
        "observation.images.wrist_left": 7,
    }
    # with the wrist camera's file gone everywhere it is a ghost whose warning names the path it expected
    (root / "video/observation.images.wrist_left/chunk-000/file-000.mp4").unlink()
    ghost = next(q for q in quirk_report(LeRobotSource(), root) if q["code"] == "ghost_camera")
    assert "expected e.g. videos/observation.images.wrist_left/chunk-000/file-000.mp4" in ghost["message"]


def test_an_episodes_meta_without_a_key_says_which_key_is_missing(tmp_path: Path) -> None:
    root = write_lerobot_v3(tmp_path / "ds", (5, 6)).root
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["data/chunk_index"]), path)
    [ref] = LeRobotSource().discover(root)
    assert ref.raw_id == "meta"
    assert ref.error is not None and "missing key 'data/chunk_index'" in ref.error
    report = validate_dataset(root)
    assert [(q.code, q.severity) for q in report.quirks] == [("unreadable_meta", "error")]
    assert "missing key 'data/chunk_index'" in report.quirks[0].message


def test_a_missing_mp4_of_a_chunk_index_dataset_is_the_episode_reason_with_its_expected_path(tmp_path: Path) -> None:
    """The real hand-made v2.1 layout (`{chunk_index}` templates, tests/fixtures/lerobot_layouts) with one mp4 gone:
    that episode alone fails, its reason naming the camera and the path expected; validate names the same file."""
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"
    root = materialize(load_case(fixtures / "so101_bimanual_chunk_index_v21"), tmp_path / "ds").root
    gone = inject_fault(root, "missing_mp4", episode=1)
    expected = "videos/chunk-000/observation.images.cam0/episode_000001.mp4"
    assert gone == root / expected
    refs = list(LeRobotSource().discover(root))
    assert len(refs) == 2 and refs[0].error is None
    assert refs[1].error == (
        f"no mp4 for camera 'observation.images.cam0' (expected at {expected}, nor found under a folder named after "
        "the camera): the dataset lacks this file (a partial download?); fetch it, or leave the camera out with the "
        "source's `cameras` option"
    )  # issue 79: where it also looked and what to do, named
    missing = [q for q in validate_dataset(root).quirks if q.code == "missing_video_files"]
    assert len(missing) == 1 and missing[0].path == expected


def test_v21_videos_moved_are_read_and_validate_no_longer_calls_them_missing(tmp_path: Path) -> None:
    root = tmp_path / "franka_demo"
    write_canonical_dataset(root, [12, 7])
    shutil.move(root / "videos", root / "video")  # video/chunk-000/<key>/episode_*.mp4, declared under videos/
    adapter = LeRobotSource()
    refs = list(adapter.discover(root))
    assert [r.error for r in refs] == [None, None]
    assert {len(c) for c in adapter.read(refs[0]).cameras.values()} == {12}
    codes = {c for c, _ in validate_dataset(root).codes()}
    assert "video_path_relocated" in codes
    assert not codes & {"missing_video_files", "ghost_camera", "total_videos_mismatch"}  # recounted where they are
