"""RoboCOIN's `annotations/*.jsonl` read into the episodes they describe (`adapters.lerobot.annotations`).

The dataset is the real RoboCOIN layout (tests/fixtures/lerobot_layouts/robocoin_v21: QianHuixun/New-Test@ff298f68
`meta/info.json`) written by `materialize`, its index columns then set by the test: slot 0 of `subtask_annotation`
runs a left-arm grasp then place then "End", slot 1 a right-arm grasp over rows 10..19 and "null" elsewhere (the
maker's empty slot), `scene_annotation` one scene per episode. The vocabularies are written in the maker's form
(`{"subtask_index": i, "subtask": text}`, FlagOpen/RoboCOIN@b3261fe src/lerobot/datasets/utils.py:221-242).
A real RoboCOIN dataset (awaited sample `robocoin_g1edu_u3`) is read by the last test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.base import RawEpisode
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot_format.files import load_entries
from schemas.canonicalize import CanonicalizeSpec
from schemas.lerobot import EpisodeEntry
from tests.fixtures.layouts import load_case, materialize
from tests.ingest.qa.planted_raw import ingest
from tests.realdata import realdata

LAYOUT = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts" / "robocoin_v21"
SUBTASKS = {
    0: "End",
    1: "null",
    2: "Grasp the cube with left gripper",
    3: "Place the cube with left gripper",
    4: "Grasp the cube with right gripper",
}
SCENES = {0: "A kitchen counter with a cube", 1: "An office desk with a cube"}
DIRECTIONS = {0: "static", 1: "forward"}
REAL = "robocoin_g1edu_u3"


def _jsonl(path: Path, rows: list[dict] | list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


def _subtasks(n: int) -> np.ndarray:
    """(n, 5): slot 0 grasp (left) for the first half, place for the rest but the last 3 rows ("End"); slot 1 a
    right-arm grasp over rows 10..19; every other slot the empty "null"."""
    v = np.full((n, 5), 1, dtype=np.int32)
    v[: n // 2, 0], v[n // 2 :, 0], v[n - 3 :, 0] = 2, 3, 0
    v[10:20, 1] = 4
    return v


def _set_columns(root: Path, episode: int, columns: dict[str, np.ndarray]) -> None:
    path = root / f"data/chunk-000/episode_{episode:06d}.parquet"
    table = pq.read_table(path)
    for key, v in columns.items():
        arr = pa.array(v.reshape(-1)) if v.ndim == 1 else pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), 5)
        table = table.set_column(table.column_names.index(key), key, arr)
    pq.write_table(table, path)


def _dataset(tmp: Path, *, subtask_lines: list | None = None) -> Path:
    written = materialize(load_case(LAYOUT), tmp / "robocoin", episodes=2, seconds=1.1)
    for ep, n in enumerate(written.lengths):
        _set_columns(
            written.root,
            ep,
            {"subtask_annotation": _subtasks(n), "scene_annotation": np.full(n, ep, dtype=np.int32)},
        )
    ann = written.root / "annotations"
    lines = [{"subtask_index": i, "subtask": t} for i, t in SUBTASKS.items()]
    _jsonl(ann / "subtask_annotations.jsonl", lines if subtask_lines is None else subtask_lines)
    _jsonl(ann / "scene_annotations.jsonl", [{"scene_index": i, "scene": t} for i, t in SCENES.items()])
    _jsonl(
        ann / "eef_direction_annotation.jsonl",
        [{"eef_direction_index": i, "eef_direction": t} for i, t in DIRECTIONS.items()],
    )
    return written.root


def _read(root: Path) -> tuple[LeRobotSource, list[RawEpisode]]:
    adapter = LeRobotSource()
    refs = sorted(adapter.discover(root), key=lambda r: r.raw_id)
    assert all(r.error is None for r in refs), [r.error for r in refs]
    return adapter, [adapter.read(r) for r in refs]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def test_subtasks_become_language_on_the_rows_clock(tmp_path: Path) -> None:
    _, raws = _read(_dataset(tmp_path))
    for raw in raws:
        ts = raw.signals["subtask_annotation"].timestamps
        values = raw.signals["subtask_annotation"].values
        subtasks = [x for x in raw.language if x.kind == "subtask"]
        expected = []
        for index, text in SUBTASKS.items():
            if text == "null":
                continue
            for a, b in _runs(np.any(values == index, axis=1)):
                expected.append((text, float(ts[a]), float(ts[b - 1])))
        assert sorted((x.text, x.start_s, x.end_s) for x in subtasks) == sorted(expected)
        assert not any(x.text == "null" for x in raw.language)  # the maker's empty slot is no subtask
        right = next(x for x in subtasks if x.text == SUBTASKS[4])
        assert (right.start_s, right.end_s) == (float(ts[10]), float(ts[19]))  # concurrent with the left arm's
        # the task text is still the task, never a subtask
        assert all(x.kind in ("instruction", "subtask", "scene") for x in raw.language)


def test_the_scene_covers_the_episode_and_vocabularies_go_to_the_lineage(tmp_path: Path) -> None:
    _, raws = _read(_dataset(tmp_path))
    for ep, raw in enumerate(raws):
        scenes = [x for x in raw.language if x.kind == "scene"]
        assert [(x.text, x.start_s, x.end_s) for x in scenes] == [(SCENES[ep], None, None)]
        vocab = raw.annotation.model_dump()["vocabularies"]
        assert vocab["subtask_annotation"] == SUBTASKS
        assert vocab["eef_direction_state"] == DIRECTIONS == vocab["eef_direction_action"]
        assert raw.signals["subtask_annotation"].values.shape[1:] == (5,)  # the index columns stay natives


def test_subtask_segments_reach_the_written_episode(tmp_path: Path) -> None:
    _, raws = _read(_dataset(tmp_path))
    raw = raws[1]
    n = len(raw.signals["subtask_annotation"])
    segs = raw.action_config or []
    assert [(s.action_text, s.start_frame, s.end_frame) for s in segs] == sorted(
        [(SUBTASKS[2], 0, n // 2), (SUBTASKS[4], 10, 20), (SUBTASKS[3], n // 2, n - 3), (SUBTASKS[0], n - 3, n)],
        key=lambda t: (t[1], t[2], t[0]),
    )
    out = tmp_path / "out"
    written, why = ingest(raw, CanonicalizeSpec(), out)
    assert written, why
    entry = load_entries(out / "meta/episodes.jsonl", EpisodeEntry)[0]
    texts = [s.action_text for s in entry.action_config or []]
    assert sorted(texts) == sorted(SUBTASKS[i] for i in (0, 2, 3, 4))
    for s in entry.action_config or []:  # on the 10 Hz grid, inside the episode
        assert 0 <= s.start_frame < s.end_frame <= entry.length
        assert s.model_extra.get("kind") == "subtask"
    lineage = entry.model_extra["eidata"]
    scenes = lineage["source_annotation"]["vocabularies"]["scene_annotation"]
    assert scenes == {str(k): v for k, v in SCENES.items()}  # JSON keys: the index as text
    names = json.loads((out / "meta/info.json").read_text())["features"]["observation.state.native"]["names"]
    assert any(name.startswith("subtask_annotation") for name in names)


def test_malformed_lines_are_named_with_file_and_line(tmp_path: Path) -> None:
    lines = [{"subtask_index": i, "subtask": t} for i, t in SUBTASKS.items() if i != 3]
    lines[2:2] = ["{not json", {"subtask": "no index"}, {"subtask_index": 3, "subtask": "x", "episode_index": 99}]
    lines.append({"subtask_index": 2, "subtask": "another text for index 2"})
    adapter, raws = _read(_dataset(tmp_path, subtask_lines=lines))
    found = {f.message for f in adapter.findings() if f.path == "annotations/subtask_annotations.jsonl"}
    assert any("subtask_annotations.jsonl:3:" in m and "not valid JSON" in m for m in found), found
    assert any("subtask_annotations.jsonl:4:" in m and "'subtask_index'" in m for m in found), found
    assert any("subtask_annotations.jsonl:5:" in m and "episode 99" in m for m in found), found
    assert any("subtask_annotations.jsonl:8:" in m and "twice" in m for m in found), found
    # the good lines still apply; index 3 (no good line) is kept as an index and said on the episode
    raw = raws[0]
    assert {x.text for x in raw.language if x.kind == "subtask"} == {SUBTASKS[i] for i in (0, 2, 4)}
    path = "annotations/subtask_annotations.jsonl"
    quirks = [
        q for q in raw.metadata["episode_quirks"] if q["code"] == "annotation_index_unknown" and q["path"] == path
    ]
    assert [q["message"] for q in quirks] == [f"subtask_annotation: index(es) [3] not in {path} (kept as indices)"]
    # the findings reach the episode (its lineage names them)
    assert any(f.code == "annotation_line_invalid" for f in raw.findings)


def test_episode_lines_apply_to_their_episode_and_unknown_files_are_said(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    _jsonl(
        root / "annotations/scene_annotations.jsonl",
        [
            *({"scene_index": i, "scene": t} for i, t in SCENES.items()),
            {"episode_index": 1, "scene": "Episode one's own scene note"},
        ],
    )
    _jsonl(root / "annotations/notes.jsonl", [{"anything": 1}])
    adapter, raws = _read(root)
    assert "Episode one's own scene note" in {x.text for x in raws[1].language if x.kind == "scene"}
    assert "Episode one's own scene note" not in {x.text for x in raws[0].language}
    codes = {(f.code, f.path) for f in adapter.findings()}
    assert ("annotation_file_unknown", "annotations/notes.jsonl") in codes


def test_a_git_lfs_pointer_and_a_missing_vocabulary_are_named(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 258\n"
    (root / "annotations/subtask_annotations.jsonl").write_text(pointer)
    (root / "annotations/scene_annotations.jsonl").unlink()
    adapter, raws = _read(root)
    by_code = {f.code: f for f in adapter.findings()}
    assert "LFS" in by_code["annotation_unreadable"].message or "lfs" in by_code["annotation_unreadable"].message
    assert by_code["annotation_unreadable"].path == "annotations/subtask_annotations.jsonl"
    missing = {f.path: f.message for f in adapter.findings() if f.code == "annotation_vocabulary_missing"}
    assert "['scene_annotation'] declared in info.json" in missing["annotations/scene_annotations.jsonl"]
    assert not any(x.kind in ("subtask", "scene") for x in raws[0].language)
    assert "subtask_annotation" in raws[0].signals  # the indices are still kept


def test_an_annotation_file_linking_outside_the_root_is_not_read(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"subtask_index": 2, "subtask": "read from outside"}) + "\n")
    (root / "annotations/subtask_annotations.jsonl").unlink()
    (root / "annotations/subtask_annotations.jsonl").symlink_to(secret)
    adapter, raws = _read(root)
    [finding] = [f for f in adapter.findings() if f.code == "annotation_unreadable"]
    assert finding.path == "annotations/subtask_annotations.jsonl" and "outside" in finding.message.lower()
    assert "read from outside" not in {x.text for x in raws[0].language}


def test_a_dataset_without_annotations_reads_as_before(tmp_path: Path) -> None:
    written = materialize(load_case(LAYOUT), tmp_path / "plain", episodes=1, seconds=1.1)
    adapter, raws = _read(written.root)
    assert raws[0].annotation is None and raws[0].action_config is None
    assert {f.code for f in adapter.findings()} >= {"annotation_vocabulary_missing"}


def test_real_robocoin_annotations() -> None:
    """A real RoboCOIN dataset (awaited: QianHuixun/New-Test@ff298f6, Git LFS objects): every subtask and scene text
    comes from its vocabulary, on the rows' clock, and no annotation line is refused."""
    adapter = LeRobotSource()
    refs = sorted(adapter.discover(realdata(REAL)), key=lambda r: r.raw_id)
    raws = [adapter.read(r) for r in refs if r.error is None]  # the sample holds the first two episodes' parquets
    assert len(raws) >= 2
    assert not [f for f in adapter.findings() if f.code.startswith("annotation_") and f.severity == "error"]
    vocab = raws[0].annotation.model_dump()["vocabularies"]
    subtask_texts = set(vocab["subtask_annotation"].values())
    for raw in raws:
        ts = raw.signals["subtask_annotation"].timestamps
        subtasks = [x for x in raw.language if x.kind == "subtask"]
        assert subtasks and all(x.text in subtask_texts and x.text != "null" for x in subtasks)
        assert all(x.start_s is None or ts[0] <= x.start_s <= x.end_s <= ts[-1] for x in subtasks)
        assert [x for x in raw.language if x.kind == "scene"]
