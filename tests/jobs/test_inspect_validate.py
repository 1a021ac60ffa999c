"""Issue 68 item 4: `inspect` and `validate` read one set of checks (`jobs.validate.dataset_quirks`) and judge a
video's length by its frames against the episode's rows, as lerobot's reader seeks them.

The fixture is the real two-hand LeRobot v3.0 layout (`tests/fixtures/lerobot_layouts/lingzu_open50_v30`: one data
file and one mp4 per episode, mp4s under video/), with what newcomer-7 met on the real set: every present mp4 holds
exactly its episode's rows while `meta/episodes`' `to_timestamp` ends one frame period early, and an episode's mp4
missing. `inspect` said 0 errors; `validate` said the missing mp4 (true) and "one frame short" (false)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.cameras import decoding, packet_times
from adapters.storage.location import locate
from adapters.synthetic.video import synthetic_frame, write_mp4
from jobs.cli import main
from jobs.validate import validate_dataset
from tests.fixtures.layouts import load_case, materialize

LAYOUT = Path(__file__).parents[1] / "fixtures" / "lerobot_layouts" / "lingzu_open50_v30"
EPISODES_META = "meta/episodes/chunk-000/file-000.parquet"
KEY = "image"


def _shorten_to_timestamps(root: Path, fps: float) -> None:
    """Every `to_timestamp` one frame period early (the last row's timestamp, not the end of its frame)."""
    path = root / EPISODES_META
    table = pq.read_table(path)
    col = f"videos/{KEY}/to_timestamp"
    shorter = pa.array(np.asarray(table[col].to_numpy()) - 1.0 / fps)
    pq.write_table(table.set_column(table.schema.get_field_index(col), col, shorter), path)


@pytest.fixture(scope="module")
def lingzu(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], float]:
    root = tmp_path_factory.mktemp("lingzu") / "open_50"
    written = materialize(load_case(LAYOUT), root, episodes=3, seconds=0.5)
    _shorten_to_timestamps(root, written.fps)
    return root, written.lengths, written.fps


def _mp4(root: Path, ep: int) -> Path:
    return root / f"video/{KEY}/chunk-000/file-{ep:03d}.mp4"


def _summary(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().out


def test_a_short_to_timestamp_over_whole_videos_is_a_note(lingzu, capsys: pytest.CaptureFixture[str]) -> None:
    root, lengths, _ = lingzu
    for ep, n in enumerate(lengths):  # the premise: each mp4 holds exactly its episode's rows
        with decoding(locate(_mp4(root, ep))) as (c, s):
            assert len(packet_times(c, s)[1]) == n
    report = validate_dataset(root)
    assert "video_too_short" not in {c for c, _ in report.codes()}
    (note,) = [q for q in report.quirks if q.code == "video_span_short_in_meta"]
    assert note.severity == "info" and f"episode 0 {KEY}: to_timestamp" in note.message
    assert f"spans {lengths[0] - 1} of {lengths[0]} frames" in note.message
    assert main(["validate", str(root)]) == 0
    code, out = _summary(capsys, ["inspect", str(root)])
    assert code == 0 and "[info] video_span_short_in_meta" in out and "video_too_short" not in out


def test_inspect_and_validate_report_the_same_missing_and_short_videos(lingzu, tmp_path: Path, capsys) -> None:
    root, lengths, fps = lingzu
    copy = Path(shutil.copytree(root, tmp_path / "open_50"))
    _mp4(copy, 2).unlink()  # the real set's 7 missing mp4s
    # a video truly a frame short of its rows: the loader fails at its last row
    write_mp4(_mp4(copy, 1), [synthetic_frame(64, 64, t) for t in range(lengths[1] - 1)], int(fps))
    report = validate_dataset(copy)
    codes = report.codes()
    assert {("missing_video_files", "error"), ("video_too_short", "error")} <= codes
    short = next(q for q in report.quirks if q.code == "video_too_short")
    assert f"episode 1 {KEY}: {lengths[1] - 1} frames for {lengths[1]} rows" in short.message
    assert "episode 0" not in short.message  # a whole video under a short to_timestamp is not short
    missing = next(q for q in report.quirks if q.code == "missing_video_files")
    assert f"{KEY} (episodes 2)" in missing.message
    assert main(["validate", str(copy)]) == 1
    capsys.readouterr()
    code, out = _summary(capsys, ["inspect", str(copy)])
    assert code == 1
    listed = {line.split("]")[1].split(":")[0].strip() for line in out.splitlines() if line.strip().startswith("[")}
    assert listed == {c for c, _ in codes}, out  # the same findings, every one of them
    assert f"{report.count('error')} error" in out


@pytest.mark.oracle
def test_lerobot_decodes_the_last_row_under_a_short_to_timestamp(lingzu, tmp_path: Path, run_oracle_v30) -> None:
    """lerobot 0.6.1's own reader (`LeRobotDataset`, pyav) loads the set and decodes its last item although the
    episode's `to_timestamp` ends a frame before it: the "one frame short" was the metadata's, not the video's."""
    root, lengths, _ = lingzu
    copy = Path(shutil.copytree(root, tmp_path / "open_50"))
    (copy / "video").rename(copy / "videos")  # where info.json's video_path points (lerobot does not relocate)
    result = run_oracle_v30("load", str(copy), "--out", str(tmp_path / "dump"))[str(copy)]
    assert result.get("ok"), result
    assert result["num_frames"] == sum(lengths)
    ends = [e[f"videos/{KEY}/to_timestamp"] for e in result["episodes"]]
    assert ends[-1] < (lengths[-1] - 0.5) / 30  # the metadata ends before the last row's frame...
    assert len(result["items_tasks"]) == 2  # ...and the last item decoded all the same
