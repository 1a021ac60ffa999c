"""DatasetMeta.load: quirks of the real GR00T sample, a clean synthetic v2.1 dataset, and one mutation per quirk."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.meta import DatasetMeta
from schemas.dataset_summary import dataset_summary
from schemas.lerobot_features import IMAGE_NAMES
from schemas.quirks import Quirk
from tests.realdata import realdata

CAM = "observation.images.cam_high"
TASKS = ["pick up the cube", "open the drawer"]


# ---------------------------------------------------------------------------------------------------------------
# A tiny clean v2.1 dataset, written the way lerobot 0.3.3 lays it out (mp4 contents are not inspected by the reader).


def _vec(dim: int) -> dict:
    return {"dtype": "float32", "shape": [dim], "names": [f"j{i}" for i in range(dim)]}


def _info(lengths: list[int], fps: int, video: bool) -> dict:
    features = {}
    if video:
        probe = {"video.height": 8, "video.width": 8, "video.codec": "av1", "video.pix_fmt": "yuv420p"}
        probe |= {"video.is_depth_map": False, "video.fps": fps, "video.channels": 3, "has_audio": False}
        features[CAM] = {"dtype": "video", "shape": [8, 8, 3], "names": list(IMAGE_NAMES), "info": probe}
    features |= {"observation.state": _vec(3), "action": _vec(3)}
    features["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for k in ("frame_index", "episode_index", "index", "task_index"):
        features[k] = {"dtype": "int64", "shape": [1], "names": None}
    n = len(lengths)
    return {
        "codebase_version": "v2.1",
        "robot_type": "testbot",
        "total_episodes": n,
        "total_frames": sum(lengths),
        "total_tasks": len(TASKS),
        "total_videos": n if video else 0,
        "total_chunks": 1,
        "chunks_size": 1000,
        "fps": fps,
        "splits": {"train": f"0:{n}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4" if video else None,
        "features": features,
    }


def _episode_table(ep: int, n: int, start: int, fps: int) -> pa.Table:
    rng = np.random.default_rng(ep)

    def vectors() -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=3 * n).astype(np.float32)), 3)

    return pa.table(
        {
            "observation.state": vectors(),
            "action": vectors(),
            "timestamp": pa.array((np.arange(n) / fps).astype(np.float32)),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "episode_index": pa.array(np.full(n, ep, dtype=np.int64)),
            "index": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "task_index": pa.array(np.full(n, ep % len(TASKS), dtype=np.int64)),
        }
    )


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_v21(root: Path, lengths: tuple[int, ...] = (20, 20), fps: int = 30, video: bool = True) -> Path:
    (root / "meta").mkdir(parents=True)
    (root / "meta/info.json").write_text(json.dumps(_info(list(lengths), fps, video), indent=4), encoding="utf-8")
    episodes = [{"episode_index": i, "tasks": [TASKS[i % len(TASKS)]], "length": n} for i, n in enumerate(lengths)]
    _write_jsonl(root / "meta/episodes.jsonl", episodes)
    _write_jsonl(root / "meta/tasks.jsonl", [{"task_index": i, "task": t} for i, t in enumerate(TASKS)])
    stats_rows = []
    start = 0
    for ep, n in enumerate(lengths):
        table = _episode_table(ep, n, start, fps)
        start += n
        data = root / f"data/chunk-000/episode_{ep:06d}.parquet"
        data.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, data)
        stat = {"min": [0.0], "max": [1.0], "mean": [0.5], "std": [0.1], "count": [n]}
        stats_rows.append({"episode_index": ep, "stats": dict.fromkeys(table.column_names, stat)})
        if video:
            mp4 = root / f"videos/chunk-000/{CAM}/episode_{ep:06d}.mp4"
            mp4.parent.mkdir(parents=True, exist_ok=True)
            mp4.write_bytes(b"\x00\x00\x00\x18ftypisom")
    _write_jsonl(root / "meta/episodes_stats.jsonl", stats_rows)
    return root


def pairs(meta: DatasetMeta) -> set[tuple[str, str]]:
    return {(q.code, q.severity) for q in meta.quirks}


# ---------------------------------------------------------------------------------------------------------------
# Mutations of the clean dataset.


def _summary(meta: DatasetMeta) -> str:
    """The summary `eidata inspect` prints of a loaded dataset (`schemas.dataset_summary`)."""
    frames = sum(e.length for e in meta.episodes)
    return dataset_summary(meta.root.name, meta.info, len(meta.episodes), frames, len(meta.tasks), meta.quirks)


def edit_info(root: Path, fn: Callable[[dict], None]) -> None:
    raw = json.loads((root / "meta/info.json").read_text())
    fn(raw)
    (root / "meta/info.json").write_text(json.dumps(raw, indent=4))


def edit_jsonl(root: Path, rel: str, fn: Callable[[list[dict]], None]) -> None:
    rows = _read_jsonl(root / rel)
    fn(rows)
    _write_jsonl(root / rel, rows)


def edit_parquet(root: Path, ep: int, fn: Callable[[pa.Table], pa.Table]) -> None:
    path = root / f"data/chunk-000/episode_{ep:06d}.parquet"
    pq.write_table(fn(pq.read_table(path)), path)


def set_column(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[pa.Table], pa.Table]:
    def apply(t: pa.Table) -> pa.Table:
        i = t.column_names.index(name)
        return t.set_column(i, name, pa.array(fn(t[name].to_numpy())))

    return apply


def set_feature(name: str, **kv: object) -> Callable[[dict], None]:
    return lambda raw: raw["features"][name].update(kv)


def rename_video_info(raw: dict) -> None:
    raw["features"][CAM]["video_info"] = raw["features"][CAM].pop("info")


def state_as_float64(t: pa.Table) -> pa.Table:
    i = t.column_names.index("observation.state")
    return t.set_column(i, "observation.state", t["observation.state"].cast(pa.list_(pa.float64(), 3)))


def stats_json_instead_of_episodes_stats(root: Path) -> None:
    (root / "meta/episodes_stats.jsonl").unlink()
    stat = {"min": [0.0], "max": [1.0], "mean": [0.5], "std": [0.1], "count": [40]}
    (root / "meta/stats.json").write_text(json.dumps({"action": stat, "observation.state": stat}, indent=4))


def move_episode_1_to_2(root: Path) -> None:
    edit_jsonl(root, "meta/episodes.jsonl", lambda rows: rows[1].update(episode_index=2))
    edit_jsonl(root, "meta/episodes_stats.jsonl", lambda rows: rows[1].update(episode_index=2))
    for d in (root / "data/chunk-000", root / f"videos/chunk-000/{CAM}"):
        src = next(d.glob("episode_000001.*"))
        src.rename(src.with_name("episode_000002" + src.suffix))


MUTATIONS: dict[str, tuple[Callable[[Path], None], set[tuple[str, str]]]] = {
    "fps_float": (lambda r: edit_info(r, lambda raw: raw.update(fps=30.0)), {("fps_not_integer", "info")}),
    "fps_fractional": (
        lambda r: edit_info(r, lambda raw: raw.update(fps=29.97)),
        {("fps_not_integer", "warning"), ("timestamp_mismatch", "error")},  # drifts 3.7e-5 s per frame
    ),
    "fps_zero": (lambda r: edit_info(r, lambda raw: raw.update(fps=0)), {("fps_invalid", "error")}),
    "unknown_version": (
        lambda r: edit_info(r, lambda raw: raw.update(codebase_version="v1.6")),
        {("unknown_version", "error")},
    ),
    "legacy_video_info_key": (lambda r: edit_info(r, rename_video_info), {("legacy_video_info_key", "warning")}),
    "video_info_missing": (
        lambda r: edit_info(r, lambda raw: raw["features"][CAM].pop("info")),
        {("video_info_missing", "info")},
    ),
    "names_dict": (
        lambda r: edit_info(r, set_feature("action", names={"motors": ["j0", "j1", "j2"]})),
        {("names_variant", "info")},
    ),
    "names_nested": (
        lambda r: edit_info(r, set_feature("action", names=[["j0", "j1"], ["j2"]])),
        {("names_variant", "info")},
    ),
    "image_names_channel": (
        lambda r: edit_info(r, set_feature(CAM, names=["height", "width", "channel"])),
        {("names_variant", "info")},
    ),
    "splits": (
        lambda r: edit_info(r, lambda raw: raw.update(splits={"train": "0:100"})),
        {("splits_mismatch", "warning")},
    ),
    "total_chunks": (
        lambda r: edit_info(r, lambda raw: raw.update(total_chunks=0)),
        {("total_chunks_mismatch", "warning")},
    ),
    "total_videos": (
        lambda r: edit_info(r, lambda raw: raw.update(total_videos=5)),
        {("total_videos_mismatch", "warning")},
    ),
    "total_frames": (
        lambda r: edit_info(r, lambda raw: raw.update(total_frames=41)),
        {("total_frames_mismatch", "warning")},
    ),
    "total_episodes": (
        lambda r: edit_info(r, lambda raw: raw.update(total_episodes=3)),
        {("total_episodes_mismatch", "warning")},
    ),
    "missing_video_file": (
        lambda r: (r / f"videos/chunk-000/{CAM}/episode_000001.mp4").unlink(),
        {("missing_video_files", "error"), ("total_videos_mismatch", "warning")},
    ),
    "missing_data_file": (
        lambda r: (r / "data/chunk-000/episode_000001.parquet").unlink(),
        {("missing_data_files", "error")},
    ),
    "unreadable_parquet": (
        lambda r: (r / "data/chunk-000/episode_000001.parquet").write_bytes(b"not a parquet file"),
        {("unreadable_parquet", "error")},
    ),
    "stats_json_only_v21": (
        stats_json_instead_of_episodes_stats,
        {("global_stats_only", "error")},  # a v2.1 loader reads episodes_stats.jsonl only
    ),
    "stats_json_only_v20": (
        lambda r: (
            stats_json_instead_of_episodes_stats(r),
            edit_info(r, lambda raw: raw.update(codebase_version="v2.0")),
        ),
        {("global_stats_only", "warning"), ("legacy_version", "warning")},
    ),
    "no_stats_at_all": (
        lambda r: (r / "meta/episodes_stats.jsonl").unlink(),
        {("missing_episodes_stats", "error")},
    ),
    "episodes_stats_partial": (
        lambda r: edit_jsonl(r, "meta/episodes_stats.jsonl", lambda rows: rows.pop()),
        {("missing_episodes_stats", "warning")},
    ),
    "no_frame_index_column": (
        lambda r: [edit_parquet(r, ep, lambda t: t.drop_columns(["frame_index"])) for ep in (0, 1)],
        {("no_frame_index_column", "warning")},
    ),
    "frame_index_not_contiguous": (
        lambda r: edit_parquet(r, 1, set_column("frame_index", lambda a: a + 5)),
        {("frame_index_not_contiguous", "warning")},
    ),
    "extra_parquet_column": (
        lambda r: edit_parquet(r, 0, lambda t: t.append_column("extra", pa.array(np.zeros(t.num_rows, np.int64)))),
        {("parquet_columns_mismatch", "warning")},
    ),
    "timestamp_offset": (
        lambda r: edit_parquet(r, 1, set_column("timestamp", lambda a: a + np.float32(1 / 30))),
        {("timestamp_offset", "error")},
    ),
    "timestamp_sync_violation": (
        lambda r: edit_parquet(
            r, 0, set_column("timestamp", lambda a: a + np.float32(0.01) * (np.arange(len(a)) >= 10))
        ),
        {("timestamp_sync_violation", "error")},  # a 10 ms jump inside episode 0
    ),
    "float64_state": (
        lambda r: (
            [edit_parquet(r, ep, state_as_float64) for ep in (0, 1)],
            edit_info(r, set_feature("observation.state", dtype="float64")),
        ),
        {("float64_features", "warning")},
    ),
    "episode_length_mismatch": (
        lambda r: edit_jsonl(r, "meta/episodes.jsonl", lambda rows: rows[0].update(length=19)),
        {("episode_length_mismatch", "error"), ("total_frames_mismatch", "warning")},
    ),
    "task_not_in_tasks_jsonl": (
        lambda r: edit_jsonl(r, "meta/episodes.jsonl", lambda rows: rows[1]["tasks"].append("valid")),
        {("task_not_in_tasks_jsonl", "warning")},
    ),
    "task_index_unknown": (
        lambda r: edit_parquet(r, 1, set_column("task_index", lambda a: a + 6)),
        {("task_index_unknown", "error"), ("tasks_without_frames", "info")},
    ),
    # the moved file still says episode 1 in its episode_index column
    "episode_index_gap": (move_episode_1_to_2, {("episode_index_gap", "error"), ("episode_index_mismatch", "warning")}),
    "bad_path_template": (
        lambda r: edit_info(r, lambda raw: raw.update(data_path="data/{chunk}/episode_{episode_index:06d}.parquet")),
        {("bad_path_template", "error")},
    ),
    "timestamp_as_list_column": (
        lambda r: edit_parquet(
            r, 0, lambda t: t.set_column(2, "timestamp", pa.array([[0.0]] * t.num_rows, pa.list_(pa.float32())))
        ),
        {("unreadable_parquet", "error")},
    ),
}


def test_clean_v21_dataset_has_no_quirks(tmp_path) -> None:
    meta = DatasetMeta.load(make_v21(tmp_path / "ds"))
    assert meta.quirks == []
    assert not meta.codes("error")
    assert [e.length for e in meta.episodes] == [20, 20]
    assert [t.task for t in meta.tasks] == TASKS
    assert [s.episode_index for s in meta.episodes_stats] == [0, 1]
    assert meta.legacy_stats is None and meta.modality is None
    assert meta.info.video_keys == [CAM]
    summary = _summary(meta)
    assert "LeRobot v2.1, robot_type testbot, fps 30" in summary
    assert "episodes 2 (info 2), frames 40 (info 40), tasks 2" in summary
    assert "quirks: 0 error, 0 warning, 0 info" in summary


def test_clean_v21_dataset_without_video(tmp_path) -> None:
    meta = DatasetMeta.load(make_v21(tmp_path / "ds", lengths=(7, 9, 5), fps=10, video=False))
    assert meta.quirks == []
    assert meta.info.video_keys == [] and meta.info.video_path is None


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation_reports_its_quirk(tmp_path, name: str) -> None:
    mutate, expected = MUTATIONS[name]
    root = make_v21(tmp_path / "ds")
    mutate(root)
    meta = DatasetMeta.load(root)
    assert pairs(meta) == expected, meta.quirks
    for q in meta.quirks:
        assert q.message and len(q.message) < 600


def test_timestamp_offset_without_video_is_a_warning(tmp_path) -> None:
    root = make_v21(tmp_path / "ds", video=False)
    edit_parquet(root, 0, set_column("timestamp", lambda a: a + np.float32(0.5)))
    meta = DatasetMeta.load(root)
    assert pairs(meta) == {("timestamp_offset", "warning")}
    assert "episode_000000.parquet" in meta.quirks[0].path and "0.5s" in meta.quirks[0].message


def test_quirk_messages_name_the_culprit(tmp_path) -> None:
    root = make_v21(tmp_path / "ds")
    MUTATIONS["missing_video_file"][0](root)
    MUTATIONS["episode_length_mismatch"][0](root)
    by_code = {q.code: q for q in DatasetMeta.load(root).quirks}
    assert CAM in by_code["missing_video_files"].message
    assert by_code["missing_video_files"].path == f"videos/chunk-000/{CAM}/episode_000001.mp4"
    assert "episode 0: 19 vs 20" in by_code["episode_length_mismatch"].message
    assert by_code["episode_length_mismatch"].path == "data/chunk-000/episode_000000.parquet"


def test_checks_can_be_skipped(tmp_path) -> None:
    root = make_v21(tmp_path / "ds")
    MUTATIONS["missing_video_file"][0](root)
    MUTATIONS["timestamp_offset"][0](root)
    assert pairs(DatasetMeta.load(root, check_files=False, check_data=False)) == set()
    assert pairs(DatasetMeta.load(root, check_files=False)) == {("timestamp_offset", "error")}
    assert "missing_video_files" in DatasetMeta.load(root, check_data=False).codes()


def test_invalid_entry_is_skipped_and_reported(tmp_path) -> None:
    root = make_v21(tmp_path / "ds")
    segment = {"start_frame": 0, "end_frame": 25, "action_text": "reach"}  # past the 20-frame episode
    edit_jsonl(root, "meta/episodes.jsonl", lambda rows: rows[1].update(action_config=[segment]))
    meta = DatasetMeta.load(root)
    assert [e.episode_index for e in meta.episodes] == [0]
    invalid = [q for q in meta.quirks if q.code == "invalid_entry"]
    assert len(invalid) == 1 and invalid[0].severity == "error"
    assert "meta/episodes.jsonl:2" in invalid[0].message and "past the episode length" in invalid[0].message


def test_missing_tasks_jsonl_is_an_error_not_an_exception(tmp_path) -> None:
    root = make_v21(tmp_path / "ds")
    (root / "meta/tasks.jsonl").unlink()
    meta = DatasetMeta.load(root)
    assert ("missing_meta_file", "error") in pairs(meta)
    assert ("task_index_unknown", "error") in pairs(meta)


# ---------------------------------------------------------------------------------------------------------------
# v3.0 and unreadable meta.


def _v3_layout(root: Path, version: str = "v3.0") -> Path:
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    info = _info([20, 20], 30, video=True)
    for k in ("total_chunks", "total_videos"):
        info.pop(k)
    info |= {"codebase_version": version, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200}
    info["data_path"] = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    info["video_path"] = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    pq.write_table(pa.table({"task_index": [0, 1]}), root / "meta/tasks.parquet")
    pq.write_table(
        pa.table({"episode_index": [0, 1], "length": [20, 20]}), root / "meta/episodes/chunk-000/file-000.parquet"
    )
    (root / "meta/stats.json").write_text(json.dumps({"action": {"min": [0.0]}}))
    return root


@pytest.mark.parametrize("version", ["v3.0", "v2.1"], ids=["declared_v3", "v3_files_with_v21_version"])
def test_v3_layout_is_reported_not_raised(tmp_path, version: str) -> None:
    meta = DatasetMeta.load(_v3_layout(tmp_path / "ds", version))
    assert pairs(meta) == {("v3_layout", "error")}
    assert meta.episodes == [] and meta.tasks == []
    assert meta.info.model_extra["data_files_size_in_mb"] == 100
    assert "v3.0" in meta.quirks[0].message and "1 error" in _summary(meta)


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda r: None, r"info\.json: missing"),
        (lambda r: (r / "meta/info.json").write_text('{"codebase_version": "v2.1", '), r"info\.json: not valid JSON"),
        (lambda r: (r / "meta/info.json").write_text('{"codebase_version": "v2.1"}'), r"info\.json: not a LeRobot"),
        (lambda r: (r / "meta/info.json").write_text("[1, 2]"), r"info\.json: not a LeRobot"),
    ],
    ids=["missing", "truncated", "no_fps_features", "not_an_object"],
)
def test_unreadable_info_json_raises_value_error(tmp_path, setup, match: str) -> None:
    root = tmp_path / "ds"
    (root / "meta").mkdir(parents=True)
    setup(root)
    with pytest.raises(ValueError, match=match):
        DatasetMeta.load(root)


@pytest.mark.parametrize(
    ("rel", "text", "match"),
    [
        (
            "meta/episodes.jsonl",
            '{"episode_index": 0, "tasks": [], "length": 20}\n{"broken"',
            r"episodes\.jsonl:2: not valid JSON",
        ),
        ("meta/modality.json", '{"state": ', r"modality\.json: not valid JSON"),
        ("meta/stats.json", "[1, 2", r"stats\.json: not valid JSON"),
    ],
    ids=["episodes_jsonl", "modality_json", "stats_json"],
)
def test_invalid_json_in_other_meta_files_raises(tmp_path, rel: str, text: str, match: str) -> None:
    root = make_v21(tmp_path / "ds")
    (root / rel).write_text(text)
    with pytest.raises(ValueError, match=match):
        DatasetMeta.load(root)


# ---------------------------------------------------------------------------------------------------------------
# The real GR00T sample (LeRobot v2.0, GR00T flavour).

GR00T_EXPECTED = {
    ("legacy_version", "warning"),
    ("legacy_video_info_key", "warning"),
    ("missing_video_files", "error"),
    ("fps_not_integer", "info"),
    ("splits_mismatch", "warning"),
    ("total_chunks_mismatch", "warning"),
    ("total_videos_mismatch", "warning"),
    ("global_stats_only", "warning"),
    ("no_frame_index_column", "warning"),
    ("timestamp_offset", "error"),
    ("float64_features", "warning"),
    ("names_variant", "info"),
    ("tasks_without_frames", "info"),
}


@pytest.fixture
def gr00t() -> Path:
    return realdata("gr00t_robot_sim_picknplace")


def test_gr00t_sample_quirks(gr00t: Path) -> None:
    meta = DatasetMeta.load(gr00t)
    assert pairs(meta) == GR00T_EXPECTED, meta.quirks
    assert len(meta.quirks) == len(GR00T_EXPECTED)  # one quirk per code, not one per episode
    by_code: dict[str, Quirk] = {q.code: q for q in meta.quirks}
    missing = by_code["missing_video_files"]
    assert "'observation.images.egoview'" in missing.message and "'observation.images.ego_view'" not in missing.message
    assert missing.path == "videos/chunk-000/observation.images.egoview/episode_000000.mp4"
    assert "0.05s" in by_code["timestamp_offset"].message and "0, 1, 2, 3, 4" in by_code["timestamp_offset"].message
    assert "observation.state" in by_code["float64_features"].message
    assert "'valid'" in by_code["tasks_without_frames"].message
    assert "total_videos=2" in by_code["total_videos_mismatch"].message


def test_gr00t_sample_content(gr00t: Path) -> None:
    meta = DatasetMeta.load(gr00t, check_files=False, check_data=False)
    assert meta.info.codebase_version == "v2.0" and meta.info.robot_type == "GR1ArmsOnly" and meta.info.fps == 20
    assert [e.length for e in meta.episodes] == [416, 470, 470, 412, 328]
    assert len(meta.tasks) == 6 and meta.episodes_stats is None
    assert meta.info.features["observation.images.ego_view"].video_info.codec == "h264"
    assert set(meta.modality) >= {"state", "action", "video"}
    assert meta.modality["state"]["right_arm"] == {"start": 22, "end": 29}
    assert len(meta.legacy_stats["observation.state"]["mean"]) == 44
    # meta-only load: the file and data checks are skipped, float64 still comes from info.json
    assert meta.codes() == {c for c, _ in GR00T_EXPECTED} - {
        "missing_video_files",
        "total_videos_mismatch",
        "no_frame_index_column",
        "timestamp_offset",
        "tasks_without_frames",
    }
    summary = _summary(DatasetMeta.load(gr00t))
    assert "LeRobot v2.0, robot_type GR1ArmsOnly, fps 20" in summary
    assert "quirks: 2 error, 8 warning, 3 info" in summary


def test_gr00t_copy_with_edited_episodes(gr00t: Path, tmp_path) -> None:
    root = tmp_path / "gr00t"
    shutil.copytree(gr00t, root)

    def edit(rows: list[dict]) -> None:
        rows[0]["length"] = 415
        rows[2]["tasks"].append("pick the plate")

    edit_jsonl(root, "meta/episodes.jsonl", edit)
    meta = DatasetMeta.load(root)
    assert pairs(meta) - GR00T_EXPECTED == {
        ("episode_length_mismatch", "error"),
        ("total_frames_mismatch", "warning"),
        ("task_not_in_tasks_jsonl", "warning"),
    }
    messages = " ".join(q.message for q in meta.quirks)
    assert "episode 0: 415 vs 416" in messages and "episode 2: 'pick the plate'" in messages


def test_our_canonical_dataset_has_no_quirks(tmp_path: Path) -> None:
    """What our writer produces is clean by our own reader's standards (per-axis names of N-D features included)."""
    from tests.fixtures.episodes import write_canonical_dataset

    write_canonical_dataset(tmp_path / "ds", [3, 4])
    meta = DatasetMeta.load(tmp_path / "ds")
    assert meta.quirks == []
    assert meta.info.total_frames == 7 and len(meta.episodes_stats or []) == 2


@pytest.mark.parametrize("kind", ["fifo", "socket", "absent"])
def test_an_info_json_that_is_no_regular_file_is_named_for_what_it_is(tmp_path: Path, kind: str) -> None:
    """A FIFO or a socket named `meta/info.json` was reported "missing" (by the load and by discovery, which did not
    even find the dataset there); now "not a regular file", the file named; only an absent one is missing."""
    import socket

    from adapters.registry import get_adapter

    info = tmp_path / "ds/meta/info.json"
    info.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(info)
    elif kind == "socket":
        socket.socket(socket.AF_UNIX).bind(str(info))
    word = "missing" if kind == "absent" else "not a regular file"
    with pytest.raises(ValueError, match=rf"{info}: {word}; not a LeRobot dataset root"):
        DatasetMeta.load(tmp_path / "ds")
    if kind == "absent":
        return
    for root in (tmp_path, tmp_path / "ds"):  # a dataset root, or a folder of them
        (ref,) = get_adapter("lerobot", {}).discover(root)
        assert ref.error == f"dataset meta unreadable: {info}: not a regular file; not a LeRobot dataset root", ref
