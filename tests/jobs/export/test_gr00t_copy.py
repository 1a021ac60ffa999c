"""`eidata export --format gr00t --out DIR` (`jobs/export/gr00t_copy.py`): a copy of every dataset, parquet linked,
cameras as all-intra H.264 (GR00T's decord reads no AV1), modality.json and GR00T's stats.json (equal to numpy's),
the corpus left as it was; a dry run writes nothing. GR00T's own loader on such an export: `test_gr00t_loader.py`."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_info, load_modality
from jobs.cli import main
from schemas.lerobot import MODALITY_PATH
from schemas.modality import check_modality
from tests.fixtures.corpus import NATIVE_COMMAND, NATIVE_JOINTS, episode, native_episode, write_dataset


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    bridge = [episode(6, "pick", "oxe/bridge/e0", "franka"), episode(5, "open", "oxe/bridge/e1", "franka")]
    write_dataset(root / "datasets/oxe/bridge", "franka", bridge)
    natives = [native_episode(6, "lab/cr5/a", 0), native_episode(4, "lab/cr5/b", 1)]
    names = {"native_state_names": NATIVE_JOINTS, "native_action_names": NATIVE_COMMAND}
    write_dataset(root / "datasets/lab/cr5", "unknown", natives, mask=[0] * 50, **names)
    return root


def test_out_writes_a_copy_and_leaves_the_corpus_as_it_was(src: Path, tmp_path: Path, capsys) -> None:
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    out = tmp_path / "out"
    assert main(["export", str(src), "--format", "gr00t", "--out", str(out), "--dry-run"]) == 0
    assert "to write  datasets/lab/cr5 (native action)" in capsys.readouterr().out and not out.exists()
    assert main(["export", str(src), "--format", "gr00t", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "gr00t: 2 written, 0 unchanged, 0 error" in said
    assert f"GR00T: LeRobotSingleDataset('{out}/lab/cr5', modality_configs=" in said
    after = {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.relative_to(src).parts[0] != "job"}
    assert after == before  # nothing written into the corpus's data: its job/ notes what it linked out
    assert sorted(p.relative_to(src).as_posix() for p in (src / "job").rglob("*")) == ["job/linked-out"]
    for name in ("lab/cr5", "oxe/bridge"):
        ds, orig = out / name, src / "datasets" / name
        m = load_modality(ds / MODALITY_PATH)
        assert check_modality(m, load_info(ds / "meta/info.json")) == []
        assert (ds / "data/chunk-000/episode_000001.parquet").samefile(orig / "data/chunk-000/episode_000001.parquet")
        with av.open(str(ds / "videos/chunk-000/observation.images.head/episode_000001.mp4")) as c:
            frames = [f for f in c.decode(video=0)]  # GR00T's decord reads H.264, not the corpus's AV1
            assert c.streams.video[0].codec_context.name == "h264" and all(f.key_frame for f in frames)
        assert len(frames) == json.loads((ds / "meta/episodes.jsonl").read_text().splitlines()[1])["length"]
        stats = json.loads((ds / "meta/stats.json").read_text())
        columns = sorted({m.column(g, k) for g in ("state", "action") for k in getattr(m, g)})
        assert sorted(stats) == columns
        for column in columns:
            values = np.concatenate(
                [np.asarray(pq.read_table(f, columns=[column])[column].to_pylist()) for f in orig.rglob("*.parquet")]
            ).astype(np.float32)
            np.testing.assert_allclose(stats[column]["q99"], np.quantile(values, 0.99, axis=0), rtol=1e-6)
            np.testing.assert_allclose(stats[column]["mean"], values.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert main(["export", str(src), "--format", "gr00t", "--out", str(out)]) == 0  # a rerun replaces them whole
    assert not [p for p in (out / "lab").iterdir() if p.name.startswith(".")]


def test_a_manifest_exports_its_episodes_only(src: Path, tmp_path: Path, capsys) -> None:
    """Issue 79: `--manifest` was ignored and every dataset written whole, the curation's rejected copies included.
    With `--out`, only the manifest's datasets, each with its episodes only (meta, counts and stats of those); without
    `--out` (modality.json in place, for whole datasets) it is refused, nothing written."""
    assert main(["catalog", str(src)]) == 0
    where = "dataset = 'datasets/oxe/bridge' AND episode_index = 1"
    assert main(["curate", str(src), "--name", "one", "--where", where]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["export", str(src), "--format", "gr00t", "--manifest", "one", "--out", str(out)]) == 0
    assert "gr00t: 1 written, 0 unchanged, 0 error" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["job", "oxe"]  # job/: its lock
    ds = out / "oxe/bridge"
    assert [json.loads(x)["episode_index"] for x in (ds / "meta/episodes.jsonl").read_text().splitlines()] == [1]
    assert sorted(p.name for p in ds.rglob("*.parquet")) == ["episode_000001.parquet"]
    info = json.loads((ds / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_frames"]) == (1, len(pq.read_table(next(ds.rglob("*.parquet")))))
    stats = json.loads((ds / "meta/stats.json").read_text())
    column = next(iter(stats))
    values = np.asarray(pq.read_table(next(ds.rglob("*.parquet")), columns=[column])[column].to_pylist())
    assert np.allclose(stats[column]["max"], values.max(axis=0), atol=1e-5)  # the manifest's episode's, not all
    assert main(["export", str(src), "--format", "gr00t", "--manifest", "one"]) == 2  # a bad call (issue 86)
    assert "--manifest one needs --out DIR" in capsys.readouterr().err


def test_a_dry_run_estimates_every_episode_file_filling_each_path_template_once(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 99: the dry run's estimate (`PlanTree.planned`) is the bytes of every episode file as stat gives them;
    each dataset's path templates are filled and checked once (`fill_path_templates`), not once per file (1.6M at 1M
    episodes: a third of the dry run's CPU). Counted, not timed."""
    import schemas.lerobot as lerobot
    from adapters.storage.tree import PlanTree

    write_dataset(
        src / "datasets/oxe/many", "franka", [episode(3, "pick", f"oxe/many/e{i}", "franka") for i in range(9)]
    )
    checked: list[str] = []
    fill = lerobot.fill_path_template
    monkeypatch.setattr(lerobot, "fill_path_template", lambda t, *a, **k: checked.append(t) or fill(t, *a, **k))
    planned: dict[str, int] = {}
    plan = PlanTree.fill
    monkeypatch.setattr(PlanTree, "fill", lambda self, *a, **k: (plan(self, *a, **k), planned.update(self.planned))[0])
    assert main(["export", str(src), "--format", "gr00t", "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    files = {n: [p for p in (src / "datasets" / n).rglob("*") if p.suffix in (".parquet", ".mp4")] for n in planned}
    assert planned == {n: sum(p.stat().st_size for p in found) for n, found in files.items()}
    assert sorted(planned) == ["lab/cr5", "oxe/bridge", "oxe/many"] and len(files["oxe/many"]) == 18
    templates = {n: 1 + len(load_info(src / "datasets" / n / "meta/info.json").video_keys) for n in planned}
    assert len(checked) == sum(templates.values()), checked  # one per template and dataset, not one per file
