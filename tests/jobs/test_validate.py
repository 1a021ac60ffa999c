"""`eidata validate`: the real GR00T sample's known quirks exactly, a dataset of our writer clean, each damage class
reported with its code and severity (v2.1 and v3.0), exit codes (errors fail, warnings only with --strict)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.synthetic.lerobot import write_lerobot_v3
from adapters.synthetic.video import synthetic_frame, write_mp4
from jobs.cli import main
from jobs.validate import validate_dataset, validate_path
from tests.adapters.lerobot_format.test_meta import GR00T_EXPECTED as GR00T_META_EXPECTED
from tests.fixtures.corrupt import break_lerobot_v3, inject_fault
from tests.fixtures.episodes import write_canonical_dataset
from tests.realdata import realdata

GR00T = "gr00t_robot_sim_picknplace"
# DatasetMeta's findings (asserted exactly in tests/schemas) plus the adapter's ghost camera; nothing else trips:
# missing_video_files (error) is the ghost camera observation.images.egoview, timestamp_offset (error) the parquet
# timestamps one frame (0.05 s) after the video.
GR00T_EXPECTED = GR00T_META_EXPECTED | {("ghost_camera", "warning")}
EP0 = "data/chunk-000/episode_000000.parquet"


def test_real_gr00t_sample_reports_its_known_quirks_exactly(capsys: pytest.CaptureFixture) -> None:
    report = validate_dataset(realdata(GR00T))
    assert report.codes() == GR00T_EXPECTED
    assert len(report.quirks) == len(GR00T_EXPECTED)
    assert (report.version, report.episodes, report.frames, report.fps) == ("v2.0", 5, 2096, 20.0)
    assert (report.count("error"), report.count("warning"), report.count("info")) == (2, 9, 3)
    assert main(["validate", str(realdata(GR00T))]) == 1
    out = capsys.readouterr().out
    assert "ERROR   timestamp_offset" in out and "[0.05s]" in out and "2 error, 9 warning, 3 info -> FAIL" in out
    assert main(["validate", str(realdata(GR00T)), "--json", "--no-data"]) == 1
    (meta_only,) = json.loads(capsys.readouterr().out)
    codes = {q["code"] for q in meta_only["quirks"]}
    assert "missing_video_files" in codes and "timestamp_offset" not in codes and meta_only["failed"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("v21") / "ds"
    write_canonical_dataset(root, [6, 5])
    return root


@pytest.fixture
def copy(clean: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(clean, tmp_path / "ds"))


def test_our_dataset_validates_clean(clean: Path, capsys: pytest.CaptureFixture) -> None:
    report = validate_dataset(clean)
    assert report.quirks == [] and (report.version, report.episodes, report.frames) == ("v2.1", 2, 11)
    assert main(["validate", str(clean), "--strict"]) == 0
    assert "0 error, 0 warning, 0 info -> ok" in capsys.readouterr().out


def _edit_stats(root: Path, edit) -> None:
    path = root / "meta/episodes_stats.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    edit(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_stats_of_the_wrong_shape_fail(copy: Path) -> None:
    _edit_stats(copy, lambda rows: rows[1]["stats"]["observation.state"].update(mean=[0.0] * 49))
    (q,) = validate_dataset(copy).quirks
    assert (q.code, q.severity, q.path) == ("stats_shape_mismatch", "error", "meta/episodes_stats.jsonl")
    assert "episode 1: observation.state.mean [49] != [50]" in q.message


def test_non_finite_stats_warn_and_fail_only_when_strict(copy: Path) -> None:
    _edit_stats(copy, lambda rows: rows[0]["stats"]["action"]["std"].__setitem__(3, float("nan")))
    report = validate_dataset(copy)
    assert report.codes() == {("stats_not_finite", "warning")}
    assert main(["validate", str(copy)]) == 0 and main(["validate", str(copy), "--strict"]) == 1


def test_missing_default_column(copy: Path) -> None:
    path = copy / EP0
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["task_index"]), path)
    report = validate_dataset(copy)
    assert report.codes() == {("missing_default_column", "error"), ("parquet_columns_mismatch", "warning")}
    assert "task_index (episodes 0)" in next(q.message for q in report.quirks if q.code == "missing_default_column")


@pytest.mark.parametrize(
    ("frames", "code", "severity"), [(4, "video_too_short", "error"), (8, "video_frame_count_mismatch", "warning")]
)
def test_video_frame_count_against_rows(copy: Path, frames: int, code: str, severity: str) -> None:
    mp4 = copy / "videos/chunk-000/observation.images.head/episode_000000.mp4"
    write_mp4(mp4, [synthetic_frame(96, 128, t) for t in range(frames)], 10)
    (q,) = validate_dataset(copy).quirks
    assert (q.code, q.severity) == (code, severity)
    assert f"episode 0 observation.images.head: {frames} frames for 6 rows" in q.message


def test_missing_mp4_and_torn_parquet(copy: Path) -> None:
    inject_fault(copy, "missing_mp4", episode=1)
    inject_fault(copy, "unreadable_parquet", episode=0)
    assert validate_dataset(copy).codes() == {
        ("missing_video_files", "error"),
        ("total_videos_mismatch", "warning"),  # info.json counts the lost mp4
        ("unreadable_parquet", "error"),
    }


def test_gr00t_modality_is_checked(copy: Path) -> None:
    modality = {"state": {"arm": {"start": 40, "end": 51}}, "video": {"head": {}}, "annotation": {"x.y": {}}}
    (copy / "meta/modality.json").write_text(json.dumps(modality))
    assert validate_dataset(copy).codes() == {
        ("modality_slice_out_of_range", "error"),
        ("modality_unknown_column", "error"),  # annotation.x.y
    }
    (copy / "meta/modality.json").write_text(json.dumps({"state": {"arm": {"start": "a"}}}))
    assert validate_dataset(copy).codes() == {("modality_invalid", "error")}


# -- v3.0 ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lerobot_v3(tmp_path_factory.mktemp("v3") / "so100", (8, 11, 6), seed=3).root


def test_v3_clean_apart_from_the_layout_note(v3: Path) -> None:
    report = validate_dataset(v3)
    assert report.codes() == {("v3_layout", "info")}
    assert (report.version, report.episodes, report.frames) == ("v3.0", 3, 25)


def test_v3_ghost_camera_and_length_mismatch(tmp_path: Path) -> None:
    root = write_lerobot_v3(tmp_path / "bad", (8, 11, 6)).root
    break_lerobot_v3(root, ghost_camera="observation.images.side", length_mismatch_episode=1)
    report = validate_dataset(root)
    assert report.codes() == {
        ("v3_layout", "info"),
        ("ghost_camera", "warning"),
        ("missing_video_files", "error"),  # lerobot 0.4 decodes every declared camera
        ("episode_length_mismatch", "warning"),
    }
    assert report.failed()


def test_v3_timestamps_rows_and_stats(v3: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(v3, tmp_path / "v3"))
    data = root / "data/chunk-000/file-000.parquet"
    t = pq.read_table(data)
    ts = t["timestamp"].to_numpy().copy()
    ep = t["episode_index"].to_numpy()
    ts[ep == 1] += 0.05  # one episode half a frame late
    t = t.set_column(t.schema.get_field_index("timestamp"), "timestamp", pa.array(ts.astype(np.float32)))
    pq.write_table(t.filter(pa.array(~((ep == 2) & (t["frame_index"].to_numpy() == 5)))), data)  # ep 2 loses a row
    stats = json.loads((root / "meta/stats.json").read_text())
    stats["observation.state"]["mean"] = stats["observation.state"]["mean"][:4]
    (root / "meta/stats.json").write_text(json.dumps(stats))
    report = validate_dataset(root)
    assert report.codes() == {
        ("v3_layout", "info"),
        ("timestamp_offset", "error"),
        ("episode_rows_mismatch", "error"),
        ("stats_shape_mismatch", "error"),
    }
    by_code = {q.code: q for q in report.quirks}
    assert "episodes 1" in by_code["timestamp_offset"].message
    assert "episode 2: 5 rows, [19, 25) in meta" in by_code["episode_rows_mismatch"].message
    assert "global: observation.state.mean [4] != [6]" in by_code["stats_shape_mismatch"].message


def test_folder_of_datasets_and_bad_paths(clean: Path, v3: Path, tmp_path: Path, capsys) -> None:
    shutil.copytree(clean, tmp_path / "corpus/a")
    shutil.copytree(v3, tmp_path / "corpus/b")
    assert [Path(r.root).name for r in validate_path(tmp_path / "corpus")] == ["a", "b"]
    assert main(["validate", str(tmp_path / "corpus")]) == 0
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    (tmp_path / "corpus/a/meta/info.json").write_text("[]")
    assert main(["validate", str(tmp_path / "corpus/a")]) == 1
    assert "unreadable_meta" in capsys.readouterr().out


def test_a_relative_path_validates_as_the_absolute_one(
    clean: Path, v3: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Issue 50 item 1: `eidata validate exports/team_v1` failed a correct dataset (`unreadable_stats`,
    `unreadable_parquet` on 'exports/team_v1/exports/team_v1/...') where the absolute path passed: containment joined
    the relative root onto paths already rooted."""
    shutil.copytree(v3, tmp_path / "exports/team_v1")
    shutil.copytree(clean, tmp_path / "corpus/v21")
    monkeypatch.chdir(tmp_path)
    for rel in ("exports/team_v1", "corpus/v21"):
        (report,) = validate_path(rel)
        assert report.codes() == validate_dataset(tmp_path / rel).codes(), rel
        assert main(["validate", rel, "--strict"] if rel == "corpus/v21" else ["validate", rel]) == 0
    assert "unreadable" not in capsys.readouterr().out
