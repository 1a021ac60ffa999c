"""`eidata export --format lerobot-v3` checked by lerobot 0.6.1 itself (the v3.0 oracle, one subprocess for all).

Every dataset of the demo reference corpus (`tests/conftest.py`), exported to v3.0, and a manifest over several
sources exported as ONE dataset, are loaded by `LeRobotDataset` and `StreamingLeRobotDataset`; every numeric value
they return must equal the v2.1 source's, and the frames they decode at the items' timestamps must equal the v2.1
episode video's frames bit for bit (a stream copy moves packets, never pixels); a manifest episode whose camera was
at another size (resized, jobs/export/resize.py), the source frame fitted, within the codec's loss (PSNR). Stats:
lerobot's own `compute_episode_stats` on the data it loaded must equal the exported `stats/...` episode columns, and
its writer's running `aggregate_stats` must equal `meta/stats.json`.
"""

from __future__ import annotations

import json
import logging
import pickle
import shlex
import shutil
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.cameras import frame_converter
from adapters.lerobot_format.layout import find_datasets
from adapters.storage.corpus import Corpus
from adapters.storage.stores import PARTIAL
from ingest.lerobot.video_read import decode_frames
from jobs.catalog.manifest_read import entries_file
from jobs.cli import main
from jobs.export.layout import consumer_layout
from jobs.export.lerobot_v3.job import export_corpus
from jobs.export.lerobot_v3.masked_stats import STATS_BY_EMBODIMENT_PATH
from jobs.export.lerobot_v3.plan import PADDING_KEY
from jobs.export.lerobot_v3.source import SourceDataset
from jobs.export.resize import feature_hw
from jobs.validate import validate_dataset
from schemas.export_frames import ExportFrames
from schemas.image_size import FrameFit
from schemas.lerobot_features import DEFAULT_FEATURE_DTYPES
from schemas.storage import MARKER
from tests.jobs.export.lerobot_v3.conftest import MANIFEST
from tests.jobs.export.test_resize import MIN_PSNR_DB, psnr
from tests.schemas.test_lerobot_v3 import INFO_KEYS

# the manifest's export in conftest.py: the head camera, the sources without one left out
HEAD_ONLY = {"cameras": ["head"], "allow_dropped_sources": True}
pytestmark = pytest.mark.shared_ray  # the reference corpus is ingested on the shared Ray (tests/ray_scope.py)


@pytest.fixture(scope="module")
def checked(exported: tuple[Path, Path], run_oracle_v30, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """One lerobot 0.6.1 process for the module (each start costs seconds of imports): it writes its own reference
    dataset, then loads every export, the manifest exported with 1 kB file-size limits and a dataset exported with
    `--keep-nd` (its keypoints [2, 21, 3]) included."""
    import jobs.export.lerobot_v3.write as w

    corpus, out = exported
    with pytest.MonkeyPatch.context() as mp:  # limits of 1 "MB" of 1 kB: every episode opens new files
        mp.setattr(w, "MB", 1024)
        export_corpus(corpus, out / "rolled", manifest=MANIFEST, data_mb=1, video_mb=1, **HEAD_ONLY)
    rolled = out / "rolled" / MANIFEST
    export_corpus(corpus, out / "nd", keep_nd=True)
    nd = out / "nd" / "agibot" / "task_327"
    roots = [str(out / d.relative_to(corpus / "datasets")) for d in find_datasets(corpus)]
    roots += [str(out / MANIFEST), str(out / "nocam" / MANIFEST)]
    tmp = tmp_path_factory.mktemp("oracle_v30")
    argv = [*roots, str(rolled), str(nd), "--dump", tmp / "dump", "--no-streaming-for", rolled]
    argv += ["--write-ref", tmp / "ref"]
    results = run_oracle_v30("check", *argv, timeout=600)
    for root, result in results.items():
        result["root"] = root
    return SimpleNamespace(
        corpus=corpus,
        out=out,
        roots=roots,
        rolled=rolled,
        nd=nd,
        results=results,
        dump=tmp / "dump",
        ref=tmp / "ref",
        all_roots=[*roots, str(rolled), str(nd)],
    )


@cache
def _frames(path: str, fit: FrameFit | None = None) -> list[np.ndarray]:
    if fit is None:
        return [f for _, f in decode_frames(Path(path))]
    with av.open(path) as c:
        convert = frame_converter(fit)
        return [convert(f) for f in c.decode(video=0)]


def _episode_map(corpus: Path, out: Path, root: str, result: dict[str, Any]) -> list[tuple[SourceDataset, int]]:
    eps = result["episodes"]
    if Path(root).name == MANIFEST:
        srcs = {d: SourceDataset(corpus / d, Corpus(corpus)) for d in {e["source_dataset"] for e in eps}}
        return [(srcs[e["source_dataset"]], int(e["source_episode_index"])) for e in eps]
    src = SourceDataset(corpus / "datasets" / Path(root).relative_to(out), Corpus(corpus))
    return [(src, i) for i in range(len(eps))]


def _stats_json(result: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(result["root"]) / "meta" / "stats.json").read_text())


def _check_values(result: dict[str, Any], arrays: Any, sources: list[tuple[SourceDataset, int]]) -> None:
    tasks = dict(zip(result["tasks"]["task_index"], result["tasks"]["task"], strict=True))
    numeric = [k for k, ft in result["features"].items() if ft["dtype"] != "video"]
    for e, (src, k) in enumerate(sources):
        ep = result["episodes"][e]
        lo, hi = ep["dataset_from_index"], ep["dataset_to_index"]
        table = pq.read_table(src.data_file(k))
        source_of = {c.key: c.source for c in consumer_layout(src.features).columns}  # a flag moved out, renamed
        for key in numeric:
            got = arrays[f"col:{key}"][lo:hi]
            if key == "index":
                assert got.tolist() == list(range(lo, hi))
            elif key == "episode_index":
                assert (got == e).all()
            elif key == "task_index":
                expected = [src.tasks[t] for t in table.column("task_index").to_pylist()]
                assert [tasks[t] for t in got.tolist()] == expected
            else:
                col = table.column(source_of[key]).combine_chunks()  # a flattened feature: C order, reshaped
                while pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type):
                    col = col.flatten()
                want = col.to_numpy(zero_copy_only=False).reshape(got.shape)
                if PADDING_KEY in (result["features"][key].get("info") or {}):  # unused dims: the masked median
                    fill = np.asarray(_stats_json(result)[key]["q50"], dtype=np.float32)
                    assert ((got == want) | (got == fill)).all(), (src.root, k, key)
                else:
                    assert np.array_equal(got, want), (src.root, k, key)
        for idx in range(lo, hi):  # streaming returned every item with the same values
            for key in numeric:
                assert np.array_equal(arrays[f"stream:{idx}:{key}"], arrays[f"col:{key}"][idx]), (idx, key)
        for idx_s, item in result["items"].items():
            idx = int(idx_s)
            if not lo <= idx < hi:
                continue
            assert item["task"] == tasks[int(arrays["col:task_index"][idx])]
            for key in result["video_keys"]:
                fit = ExportFrames().fit_for(feature_hw(src.features[key]), feature_hw(result["features"][key]))
                want = _frames(str(src.video_file(k, key)), fit)[idx - lo].transpose(2, 0, 1)
                for got, how in ((arrays[f"frame:{idx}:{key}"], "map"), (arrays[f"sframe:{idx}:{key}"], "streaming")):
                    if fit is None:
                        assert np.array_equal(got, want), (src.root, k, idx, key, how)
                    else:  # resized: the re-encoded frame (tests/jobs/export/test_resize.py measures the same)
                        assert psnr(got, want) > MIN_PSNR_DB, (src.root, k, idx, key, how, psnr(got, want))


def _check_stats(root: Path, result: dict[str, Any], theirs: dict[str, Any]) -> None:
    numeric = [k for k, ft in result["features"].items() if ft["dtype"] != "video"]
    rows = pq.read_table(root / "meta" / "episodes").to_pylist()
    for e, row in enumerate(rows):
        for key in numeric:
            for stat, value in theirs["episodes"][e][key].items():
                assert row[f"stats/{key}/{stat}"] == np.asarray(value).tolist(), (root, e, key, stat)
        for key in result["video_keys"]:  # cameras keep their v2.1 stats (no quantiles: the frames are not decoded)
            assert f"stats/{key}/mean" in row and f"stats/{key}/q01" not in row
    ours = json.loads((root / "meta" / "stats.json").read_text())
    # a manifest's masked features: exact over the frames that use each dim (test_masked_stats.py, and below)
    masked = set(json.loads(side.read_text())["all"]) if (side := root / STATS_BY_EMBODIMENT_PATH).exists() else set()
    for key in numeric:
        if key in masked:
            assert ours[key]["count"] == theirs["aggregate"][key]["count"].tolist()
            continue
        for stat, value in theirs["aggregate"][key].items():
            assert np.allclose(ours[key][stat], value, rtol=1e-12, atol=0), (root, key, stat)
        assert set(theirs["meta_stats"][key]) >= {"q01", "q10", "q50", "q90", "q99"}


def test_every_export_loads_in_lerobot_061(checked: SimpleNamespace) -> None:
    corpus, out, roots, results, tmp_path = checked.corpus, checked.out, checked.roots, checked.results, checked.dump
    assert all(Path(r, "meta", "info.json").exists() for r in roots)
    for i, root in enumerate(roots):
        result = results[root]
        sources = _episode_map(corpus, out, root, result)
        assert result["num_episodes"] == len(sources)
        assert result["num_frames"] == sum(len(s.episodes) and s.episodes[k]["length"] for s, k in sources)
        assert sorted(result["streaming_seen"]) == list(range(result["num_frames"]))
        arrays = np.load(tmp_path / f"{i}.npz")
        _check_values(result, arrays, sources)
        theirs = pickle.loads((tmp_path / f"{i}.npz.stats.pkl").read_bytes())
        _check_stats(Path(root), result, theirs)
    # --keep-nd: the keypoints as they are, every value and stat too
    i = checked.all_roots.index(str(checked.nd))
    result = results[str(checked.nd)]
    assert result["features"]["observation.hand_keypoints"]["shape"] == [2, 21, 3]
    _check_values(result, np.load(tmp_path / f"{i}.npz"), _episode_map(corpus, out / "nd", str(checked.nd), result))
    _check_stats(checked.nd, result, pickle.loads((tmp_path / f"{i}.npz.stats.pkl").read_bytes()))
    # the manifest: several sources as one dataset, their columns kept per episode, the split kept
    entries = pq.read_table(entries_file(corpus / "manifests" / MANIFEST)).num_rows
    for root, cams in ((out / MANIFEST, ["observation.images.head"]), (out / "nocam" / MANIFEST, [])):
        mix = results[str(root)]
        eps = mix["episodes"]
        assert {"subset", "tier", "embodiment", "split", "episode_uid", "weight"} <= set(eps[0])
        n_train = sum(e["split"] == "train" for e in eps)
        assert [e["split"] for e in eps] == ["train"] * n_train + ["val"] * (len(eps) - n_train)
        assert mix["info_splits"] == {"train": f"0:{n_train}"} | (
            {"val": f"{n_train}:{len(eps)}"} if n_train < len(eps) else {}
        )
        assert mix["video_keys"] == cams
        report = json.loads((root / MARKER).read_text())
        assert len(eps) + sum(report["skipped"].values()) == entries  # every skipped episode is counted
    nocam = results[str(out / "nocam" / MANIFEST)]
    assert nocam["num_episodes"] == entries and len({e["source"] for e in nocam["episodes"]}) >= 3
    assert len({e["source"] for e in results[str(out / MANIFEST)]["episodes"]}) >= 2


def _kind(column: str, features: dict[str, Any]) -> str:
    """A column's role, comparable across datasets: `stats/<camera|vector|nd|scalar>/<stat>` or the column itself."""
    if column.startswith("videos/"):
        return "videos/*/" + column.rsplit("/", 1)[1]
    if column.startswith("stats/"):
        _, feature, stat = column.rsplit("/", 2)
        ft = features[feature]
        shape = list(ft["shape"])
        kind = (
            "camera" if ft["dtype"] == "video" else "scalar" if shape == [1] else "vector" if len(shape) == 1 else "nd"
        )
        return f"stats/{kind}/{stat if stat == 'count' or not stat.startswith('q') else 'q'}"
    return column


def test_layout_matches_lerobot_writer(checked: SimpleNamespace) -> None:
    """Our files against a dataset lerobot 0.6.1's own writer produced (the oracle's `write-ref`): info keys, the
    episodes columns and their arrow types by role, the data schema's `huggingface` types, tasks.parquet."""
    ref, ours = checked.ref, checked.out / "agibot" / "task_327"
    info, ref_info = (json.loads((r / "meta" / "info.json").read_text()) for r in (ours, ref))
    assert tuple(info) == tuple(ref_info) == INFO_KEYS and info["codebase_version"] == "v3.0"
    for key in ("data_path", "video_path", "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb"):
        assert info[key] == ref_info[key], key
    assert all(
        "fps" in ft for k, ft in info["features"].items() if ft["dtype"] != "video" and k not in DEFAULT_FEATURE_DTYPES
    )
    assert all(
        "fps" not in info["features"][k] and "fps" not in ref_info["features"][k] for k in DEFAULT_FEATURE_DTYPES
    )

    def roles(root: Path, features: dict[str, Any]) -> dict[str, str]:
        schema = pq.read_schema(root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
        return {_kind(f.name, features): str(f.type) for f in schema}

    ours_roles, ref_roles = roles(ours, info["features"]), roles(ref, ref_info["features"])
    camera_quantiles = {k for k in ref_roles if k == "stats/camera/q"}  # ours keep v2.1 camera stats (no quantiles)
    nd = {k for k in ref_roles if k.startswith("stats/nd/")}  # ours are flat unless --keep-nd
    assert {k: v for k, v in ours_roles.items() if k in ref_roles} == {
        k: v for k, v in ref_roles.items() if k not in camera_quantiles | nd
    }
    assert set(ref_roles) - set(ours_roles) == camera_quantiles | nd
    nd_info = json.loads((checked.nd / "meta" / "info.json").read_text())
    nd_roles = roles(checked.nd, nd_info["features"])
    assert {k: nd_roles[k] for k in nd} == {k: ref_roles[k] for k in nd}
    cols = pq.read_schema(ours / "meta" / "episodes" / "chunk-000" / "file-000.parquet").names
    ref_cols = pq.read_schema(ref / "meta" / "episodes" / "chunk-000" / "file-000.parquet").names
    assert cols[:7] == ref_cols[:7] and cols[-2:] == ref_cols[-2:]
    data = pq.ParquetFile(ours / "data" / "chunk-000" / "file-000.parquet")
    ref_data = pq.ParquetFile(ref / "data" / "chunk-000" / "file-000.parquet")
    assert data.metadata.num_row_groups == info["total_episodes"]  # one row group per episode, as the writer
    hf = json.loads(data.schema_arrow.metadata[b"huggingface"])["info"]["features"]
    ref_hf = json.loads(ref_data.schema_arrow.metadata[b"huggingface"])["info"]["features"]
    assert hf["action"]["_type"] == ref_hf["observation.state"]["_type"] == "List"
    assert hf["observation.hand_keypoints"] == {
        "feature": {"dtype": "float32", "_type": "Value"},
        "length": 126,
        "_type": "List",
    }
    nd_data = pq.ParquetFile(checked.nd / "data" / "chunk-000" / "file-000.parquet")
    nd_hf = json.loads(nd_data.schema_arrow.metadata[b"huggingface"])["info"]["features"]
    assert nd_hf["observation.hand_keypoints"]["_type"] == "Array3D" and ref_hf["observation.kp"]["_type"] == "Array2D"
    assert hf["timestamp"] == ref_hf["timestamp"]
    tasks, ref_tasks = (pq.read_table(r / "meta" / "tasks.parquet") for r in (ours, ref))
    assert tasks.schema.names == ref_tasks.schema.names
    for t in (tasks, ref_tasks):
        assert json.loads(t.schema.metadata[b"pandas"])["index_columns"] == ["task"]


def test_rerun_skips_and_kill_leaves_nothing_complete(exported: tuple[Path, Path], monkeypatch) -> None:
    corpus, out = exported
    before = {p: p.stat().st_mtime_ns for p in out.rglob("info.json")}
    assert all(s == "unchanged" for s, _ in export_corpus(corpus, out).values())
    assert {p: p.stat().st_mtime_ns for p in out.rglob("info.json")} == before
    # a killed run leaves only a hidden partial folder; the rerun deletes it
    partial = out / "agibot" / f".task_327{PARTIAL}deadbeef"
    (partial / "meta").mkdir(parents=True)
    assert export_corpus(corpus, out)["agibot/task_327"][0] == "unchanged"
    assert not partial.exists()
    # a failure mid-export: no dataset at the final path, no partial folder left
    import jobs.export.lerobot_v3.write as w

    calls = {"n": 0}
    original = w.V30Writer.add

    def failing(self, ref):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return original(self, ref)

    monkeypatch.setattr(w.V30Writer, "add", failing)
    target = out / "again"
    with pytest.raises(OSError, match="disk full"):
        export_corpus(corpus, target, manifest=MANIFEST, **HEAD_ONLY)
    assert not (target / MANIFEST).exists() and not list(target.glob(f".{MANIFEST}{PARTIAL}*"))


def test_files_roll_over_at_the_size_limits(checked: SimpleNamespace) -> None:
    """Limits of 1 "MB" of 1 kB each: every episode starts a new data file, video file and episodes file, as
    lerobot's `>=` rule does; lerobot 0.6.1 still reads every value and frame (`LeRobotDataset`; its streaming reader
    assumes one video file per camera, `lerobot_v30_oracle.py`)."""
    root = checked.rolled
    rows = pq.read_table(root / "meta" / "episodes").to_pylist()
    n = len(rows)
    assert n >= 2
    assert [(r["data/chunk_index"], r["data/file_index"]) for r in rows] == [(0, i) for i in range(n)]
    assert [r["meta/episodes/file_index"] for r in rows] == list(range(n))
    key = "observation.images.head"
    assert [r[f"videos/{key}/file_index"] for r in rows] == list(range(n))
    assert all(r[f"videos/{key}/from_timestamp"] == 0.0 for r in rows)
    for r in rows:
        video = root / f"videos/{key}/chunk-000/file-{r[f'videos/{key}/file_index']:03d}.mp4"
        assert len(_frames(str(video))) == r["length"]
    i = checked.all_roots.index(str(root))
    result = checked.results[str(root)]
    sources = _episode_map(checked.corpus, checked.out / "rolled", str(root), result)
    assert [e["dataset_to_index"] - e["dataset_from_index"] for e in result["episodes"]] == [r["length"] for r in rows]
    arrays = dict(np.load(checked.dump / f"{i}.npz"))
    for idx in range(result["num_frames"]):  # no streaming here: stand in its values with LeRobotDataset's
        for k in [k for k, ft in result["features"].items() if ft["dtype"] != "video"]:
            arrays[f"stream:{idx}:{k}"] = arrays[f"col:{k}"][idx]
        for k in result["video_keys"]:
            if f"frame:{idx}:{k}" in arrays:
                arrays[f"sframe:{idx}:{k}"] = arrays[f"frame:{idx}:{k}"]
    _check_values(result, arrays, sources)


def test_lerobot_033_loads_but_drops_quantiles_in_v21_stats(exported: tuple[Path, Path], run_oracle, tmp_path: Path):
    """Why the v2.1 files keep their stats without quantiles (jobs/export/README.md): lerobot 0.3.3 loads a v2.1
    dataset whose episode stats carry q01..q99, but its aggregation keeps only min/max/mean/std/count."""
    corpus, _ = exported
    src = next(d for d in find_datasets(corpus) if (d / "meta" / "episodes_stats.jsonl").exists())
    root = tmp_path / "q21"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns(".eidata"))
    path = root / "meta" / "episodes_stats.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        for st in line["stats"].values():
            st.update({q: st["mean"] for q in ("q01", "q10", "q50", "q90", "q99")})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    loaded = run_oracle("load", root, "--items", "0")
    assert loaded["num_frames"] > 0
    assert all(names == ["count", "max", "mean", "min", "std"] for names in loaded["stat_names"].values())


def test_validate_accepts_v30_stats_of_multi_dimensional_features(checked: SimpleNamespace) -> None:
    """`eidata validate` on lerobot 0.6.1's own dataset (its `[2, 3]` feature) and on our `--keep-nd` export
    (`[2, 21, 3]` keypoints): v3.0 stats of a multi-dimensional feature have the last axis's shape, not the
    feature's; and on our default export, flat."""
    for root in (checked.ref, checked.nd, checked.out / "agibot" / "task_327"):
        report = validate_dataset(root, videos=False)
        assert not [q for q in report.quirks if q.code == "stats_shape_mismatch"], (root, report.quirks)


def test_the_call_is_built_from_the_job_model(tiny_corpus: Path, tmp_path: Path, capsys) -> None:
    """`--format lerobot-v3` through the stage skeleton: the size flags not given leave lerobot's limits (the model's
    defaults), given ones are read into the model; no --out and a limit below 1 MB are bad calls (exit 2); a manifest
    that cannot be planned fails the job (exit 1) naming it."""
    from jobs.cli import build_parser
    from jobs.export.lerobot_v3.job import V30ExportJob, build_job
    from schemas.lerobot_v3 import DATA_FILE_SIZE_IN_MB, VIDEO_FILE_SIZE_IN_MB

    def parsed(*flags: str) -> V30ExportJob:
        argv = ["export", str(tiny_corpus), "--format", "lerobot-v3", "--out", str(tmp_path / "o"), *flags]
        return build_job(build_parser("export").parse_args(argv))

    job = parsed()
    assert (job.data_mb, job.video_mb, job.manifest, job.cameras) == (
        DATA_FILE_SIZE_IN_MB,
        VIDEO_FILE_SIZE_IN_MB,
        None,
        None,
    )
    job = parsed("--data-file-size-mb", "3", "--manifest", "all", "--cameras", "none")
    assert (job.data_mb, job.video_mb, job.manifest, job.cameras) == (3, VIDEO_FILE_SIZE_IN_MB, "all", ["none"])

    assert main(["export", str(tiny_corpus), "--format", "lerobot-v3"]) == 2
    assert capsys.readouterr().err == "eidata export --format lerobot-v3 needs --out DIR\n"
    assert (
        main(
            ["export", str(tiny_corpus), "--format", "lerobot-v3", "--out", str(tmp_path), "--video-file-size-mb", "0"]
        )
        == 2
    )
    assert "video_mb" in capsys.readouterr().err
    assert (
        main(["export", str(tiny_corpus), "--format", "lerobot-v3", "--out", str(tmp_path), "--manifest", "nope"]) == 1
    )
    err = capsys.readouterr().err
    assert err.startswith(f"eidata export: {tiny_corpus / 'manifests' / 'nope'}") and "eidata curate" in err
    assert not any(tmp_path.iterdir())  # nothing written by a refused call


def test_a_mixed_manifest_normalizes_within_3_for_99_percent_of_used_frames(checked: SimpleNamespace) -> None:
    """lerobot's QUANTILES normalization (2 (x - q01) / (q99 - q01) - 1, `normalize_processor.py`) with the manifest's
    stats.json, on the actions and states lerobot loaded: for every dim, at least 99% of the frames whose episode uses
    it land within |z| <= 3 (the q01/q99 of exactly those frames: 98% within [-1, 1] by construction). The manifest
    without video: every source of the selection stays."""
    root = checked.out / "nocam" / MANIFEST
    result, i = checked.results[str(root)], checked.all_roots.index(str(root))
    arrays = np.load(checked.dump / f"{i}.npz")
    stats = json.loads((root / "meta" / "stats.json").read_text())
    episodes = result["episodes"]
    assert len({e["embodiment"] for e in episodes}) >= 3
    episode = arrays["col:episode_index"].astype(int)
    used = np.array([episodes[e]["action_mask"] for e in episode], dtype=bool)
    for key in ("action", "observation.state"):
        x = arrays[f"col:{key}"].astype(np.float64)
        q01, q99 = np.array(stats[key]["q01"]), np.array(stats[key]["q99"])
        z = 2 * (x - q01) / np.where(q99 > q01, q99 - q01, 1e-8) - 1
        for d in np.flatnonzero(used.any(axis=0)):
            share = float((np.abs(z[used[:, d], d]) <= 3).mean())
            assert share >= 0.99, (key, d, share)


def test_manifest_is_a_name_or_a_path_and_the_hint_runs(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 59: `--manifest` took a NAME here and a path in `eidata train`, and the path was refused with a fix that
    was refused too. Now the name, the folder as train takes it (any spelling) and its manifest.json plan the same
    dataset; a manifest that is not there is refused with a curate command that, run, makes the export work."""
    shutil.copytree(tiny_corpus, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    base = ["export", "corpus", "--format", "lerobot-v3", "--out", "o", "--dry-run"]
    for given in ("all", "corpus/manifests/all", "corpus/manifests/all/", "corpus/manifests/all/manifest.json"):
        assert main([*base, "--manifest", given]) == 0, given
        assert capsys.readouterr().out.startswith("all "), given
    assert main([*base, "--manifest", str(tmp_path / "corpus/manifests/all")]) == 0
    assert main([*base, "--manifest", "corpus/manifests/v2"]) == 1
    err = capsys.readouterr().err
    assert "corpus has the manifests all" in err
    hinted = err.split("`")[1]
    assert hinted == "eidata curate corpus --name v2 --where TRUE"
    assert main(shlex.split(hinted)[1:]) == 0
    assert main([*base, "--manifest", "corpus/manifests/v2"]) == 0
    assert any(line.startswith("v2 ") for line in capsys.readouterr().out.splitlines())
    assert not (tmp_path / "o").exists()


def test_the_same_export_spelled_otherwise_is_unchanged_and_progress_is_said(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 59: the completion record held ROOT as spelled, so the same export given a relative ROOT rewrote every
    dataset. Now the absolute then the relative spelling (ROOT and --out, trailing slash too): every dataset and the
    manifest "unchanged", no file rewritten."""
    shutil.copytree(tiny_corpus, tmp_path / "corpus")
    corpus, out = tmp_path / "corpus", tmp_path / "o"
    with caplog.at_level(logging.INFO, logger="eidata.progress"):
        first = export_corpus(corpus, out) | export_corpus(corpus, out, manifest="all")
        assert export_corpus(corpus, tmp_path / "dry", plan_only=True)  # a dry run: no progress, nothing written
    assert {s for s, _ in first.values()} == {"written"}
    # issue 59: the export said nothing for 15-72 s; now its progress (`ingest.progress`: off a terminal, a line every
    # 10 s and at the end) counts the episodes written, with the frames' rate and the ETA
    n_all = len(pq.read_table(entries_file(corpus / "manifests/all")))
    datasets, manifest = (r.getMessage() for r in caplog.records if r.name == "eidata.progress")
    assert datasets.startswith("export: 6/6 ep, ") and datasets.endswith(" frames/s, ETA 0 s"), datasets
    assert manifest.startswith(f"export: {n_all}/{n_all} ep, ") and " frames/s, ETA 0 s" in manifest
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "o").rglob("*")}
    monkeypatch.chdir(tmp_path / "o")
    again = export_corpus("../corpus/", ".") | export_corpus("../corpus/", "./", manifest="../corpus/manifests/all")
    assert {s for s, _ in again.values()} == {"unchanged"} and again.keys() == first.keys(), again
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "o").rglob("*")} == before
