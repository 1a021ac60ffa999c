"""The proof by the real consumer: GR00T's own `LeRobotSingleDataset` (NVIDIA/Isaac-GR00T `gr00t/data/dataset.py` @
f4e12be) on `eidata export --format gr00t --out DIR` of a corpus holding a described robot (the real GR00T
PickNPlace GR1 episodes, canonical actions) and a robot without a description (the layout of a real two-hand rig,
`lingzu_open50_v30`, values drawn in its stats' ranges: its 34 joint targets are `action.native`), each dataset read
with the `modality_configs` the export printed, as they are. For every step GR00T offers, its state (row t), action
chunk (rows t .. t+15, past the end the last row for absolute parts, 0 for the relative wrist deltas) and language equal
the CORPUS's recorded rows (read here from the corpus's own parquet, never the export's), and its decoded frame is the
corpus frame (PSNR). Planted: the same check against rows one frame late must fail, and a modality that calls the
native command relative (GR00T then pads with 0) must fail.

GR00T's code is not in this repository and its dependencies (torch, torchvision, decord, numpydantic, albumentations)
are not eidata's, so it runs in another Python (`gr00t_consumer.py`):
- EIDATA_GR00T_PYTHON: a Python with them, else `.venv-oracle-gr00t` (`make oracle-gr00t`, a prerequisite of `make
  test`);
- EIDATA_GR00T_CHECKOUT: a folder holding GR00T's `gr00t/` package, else the real sample `gr00t_loader`
  (NVIDIA/Isaac-GR00T@f4e12be:gr00t/).
Without them it skips, naming what is missing; under CI=true it fails (`tests/needs.py`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.registry import get_adapter
from jobs.cli import main
from schemas.canonical import (
    ACTION,
    ACTION_NATIVE,
    FINGERTIPS_XYZ,
    GRIPPER,
    HANDS,
    STATE,
    STATE_NATIVE,
    WRIST_POS,
    WRIST_ROT6D,
    hand_dims,
)
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import dataset_dir
from schemas.image_size import ImageSpec
from tests.fixtures.layouts import load_case, materialize
from tests.ingest.qa.planted_raw import gr00t_raws, ingest
from tests.needs import tool_missing
from tests.realdata import REPO, realdata

HARNESS = Path(__file__).with_name("gr00t_consumer.py")
ORACLE_PY = REPO / ".venv-oracle-gr00t" / "bin" / "python"  # `make oracle-gr00t`
LAYOUTS = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"
HORIZON = 16  # GR00T's action_indices, list(range(16)) (gr00t/experiment/data_config.py:65)
# the canonical contract (DESIGN.md section 3), not the export's modality: GR00T key part -> dims of a hand's block,
# and whether the action part is a delta (relative) or a value (absolute)
PARTS = {"eef_position": (WRIST_POS, False), "eef_rotation": (WRIST_ROT6D, False)}
PARTS |= {"gripper": (GRIPPER, True), "fingertips": (FINGERTIPS_XYZ, True)}


def _needs() -> tuple[str, Path]:
    python = os.environ.get("EIDATA_GR00T_PYTHON") or (str(ORACLE_PY) if ORACLE_PY.exists() else "")
    if not python:
        tool_missing("GR00T's oracle environment", "make oracle-gr00t (.venv-oracle-gr00t), or EIDATA_GR00T_PYTHON")
    checkout = os.environ.get("EIDATA_GR00T_CHECKOUT")
    return python, Path(checkout) if checkout else realdata("gr00t_loader")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    _needs()  # before building anything
    tmp = tmp_path_factory.mktemp("gr00t_loader")
    root, spec = tmp / "corpus", CanonicalizeSpec(image=ImageSpec(size="64x64"))
    for raw in gr00t_raws()[:2]:
        written, why = ingest(raw, spec, root / dataset_dir(raw.ref.source, raw.ref.subset))
        assert len(written) == 1, why
    layout = load_case(LAYOUTS / "lingzu_open50_v30")
    raw_root = materialize(layout, tmp / "raw" / "lingzu", episodes=2, seconds=3.0).root
    adapter = get_adapter("lerobot")
    for ref in adapter.discover(raw_root):
        written, why = ingest(adapter.read(ref), spec, root / dataset_dir("lingzu", ref.subset))
        assert written, why
    out = tmp / "out"
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert main(["export", str(root), "--format", "gr00t", "--out", str(out)]) == 0
    loaders = [line.split("GR00T: ", 1)[1] for line in said.getvalue().splitlines() if "GR00T: " in line]
    datasets = [line.split()[1] for line in said.getvalue().splitlines() if line.startswith("written ")]
    assert len(loaders) == len(datasets) == 2, said.getvalue()
    return SimpleNamespace(
        root=root, out=out, tmp=tmp, printed=said.getvalue(), entries=list(zip(datasets, loaders, strict=False))
    )


def _consume(exported: SimpleNamespace, entries: list[dict]) -> tuple[dict, dict]:
    python, checkout = _needs()
    loaders, got, report = (exported.tmp / f for f in ("loaders.json", "got.npz", "report.json"))
    loaders.write_text(json.dumps(entries))
    argv = [python, str(HARNESS), "--gr00t", str(checkout), "--loaders", str(loaders)]
    run = subprocess.run(
        [*argv, "--out", str(got), "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # nothing written into the GR00T checkout
    )
    assert run.returncode == 0, run.stderr[-3000:]
    print(report.read_text(), file=sys.stderr)
    with np.load(got, allow_pickle=True) as npz:
        return {k: npz[k] for k in npz.files}, json.loads(report.read_text())


def _corpus_columns(dataset: Path, episode: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """The corpus's own recorded rows of one episode, and its per-frame task texts."""
    table = pq.read_table(dataset / f"data/chunk-000/episode_{episode:06d}.parquet")
    cols = {k: np.stack(table[k].to_numpy(zero_copy_only=False)).astype(np.float64) for k in (STATE, ACTION)}
    cols |= {
        k: np.stack(table[k].to_numpy(zero_copy_only=False))
        for k in (STATE_NATIVE, ACTION_NATIVE)
        if k in table.column_names
    }
    lines = (dataset / "meta/tasks.jsonl").read_text().splitlines()
    tasks = {t["task_index"]: t["task"] for t in map(json.loads, lines)}
    return cols, [tasks[int(i)] for i in table["task_index"].to_pylist()]


def _expected(cols: dict[str, np.ndarray], group: str, key: str) -> tuple[np.ndarray, bool]:
    """(rows, absolute) the GR00T key stands for, from the corpus's columns by the canonical contract."""
    if key == "native":
        return cols[STATE_NATIVE if group == "state" else ACTION_NATIVE], True
    hand, part = key.split("_", 1)
    dims, absolute = PARTS[part]
    sl = hand_dims(HANDS.index(hand), dims)
    return cols[STATE if group == "state" else ACTION][:, sl], absolute


def _chunk(rows: np.ndarray, t: int, absolute: bool, shift: int = 0) -> np.ndarray:
    idx = np.arange(t, t + HORIZON) + shift
    out = rows[np.minimum(idx, len(rows) - 1)].copy()
    if not absolute:
        out[idx >= len(rows)] = 0
    return out


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(float)


def _mismatches(exported: SimpleNamespace, got: dict, name: str, shift: int = 0, read: str = "") -> dict:
    """GR00T's values against the corpus's rows (`shift`: against rows that many frames later); its frames against
    the file it read (`read`, a dataset under the export) and the corpus's own frames."""
    dataset, exported_dir = exported.root / "datasets" / name, exported.out / (read or name)
    steps = got[f"{name}|steps"]
    counts = {"values": 0, "value_mismatches": 0, "language_mismatches": 0, "frames": 0, "wrong_frame": 0}
    counts["psnr_min"] = 99.0
    by_episode = {int(e): _corpus_columns(dataset, int(e)) for e in np.unique(steps[:, 0])}
    for i, (episode, t) in enumerate(steps):
        cols, tasks = by_episode[int(episode)]
        for k in [k for k in got if k.startswith(f"{name}|state.") or k.startswith(f"{name}|action.")]:
            group, key = k.split("|", 1)[1].split(".", 1)
            rows, absolute = _expected(cols, group, key)
            want = rows[min(t + shift, len(rows) - 1)][None] if group == "state" else _chunk(rows, t, absolute, shift)
            have = got[k][i]
            counts["values"] += have.size
            counts["value_mismatches"] += int(np.sum(~np.isclose(have, want, rtol=0, atol=1e-6)))
        counts["language_mismatches"] += int(got[f"{name}|language"][i][0] != tasks[t])
    for k in [k for k in got if k.startswith(f"{name}|video.")]:
        rel = f"videos/chunk-000/observation.images.{k.split('.', 1)[1]}"
        for episode in np.unique(steps[:, 0]):
            corpus, written = (_frames(d / rel / f"episode_{int(episode):06d}.mp4") for d in (dataset, exported_dir))
            for i in np.flatnonzero(steps[:, 0] == episode):
                t, frame = steps[i, 1], got[k][i][0].astype(float)
                err = ((frame[None] - written) ** 2).mean(axis=(1, 2, 3))  # the file GR00T read, every frame
                counts["wrong_frame"] += int(err[t] > err.min())  # GR00T's frame t is the file's frame t
                psnr = 10 * np.log10(255**2 / max(((frame - corpus[t]) ** 2).mean(), 1e-9))  # the corpus's frame t
                counts["frames"] += 1
                counts["psnr_min"] = min(counts["psnr_min"], round(float(psnr), 1))
    return counts


def test_gr00t_reads_the_recorded_state_and_action_of_every_step(exported: SimpleNamespace) -> None:
    _needs()
    entries = [{"name": ds.removeprefix("datasets/"), "loader": loader} for ds, loader in exported.entries]
    # planted: the native command declared relative, as if it were a delta (GR00T then pads the chunk with 0)
    native = next(e for e in entries if e["name"].startswith("lingzu/"))
    planted = exported.tmp / "planted" / native["name"]
    shutil.copytree(exported.out / native["name"], planted)
    modality = json.loads((planted / "meta/modality.json").read_text())
    modality["action"]["native"]["absolute"] = False
    (planted / "meta/modality.json").write_text(json.dumps(modality))
    loader = native["loader"].replace(str(exported.out / native["name"]), str(planted))
    got, report = _consume(exported, [*entries, {"name": "planted", "loader": loader}])
    print(exported.printed, file=sys.stderr)
    assert sorted(report) == ["lerobot/gr00t_robot_sim_picknplace", "lingzu/lingzu", "planted"]
    for name in ("lerobot/gr00t_robot_sim_picknplace", "lingzu/lingzu"):
        counts = _mismatches(exported, got, name)
        print(name, report[name]["steps"], "steps", counts, file=sys.stderr)
        assert report[name]["steps"] > 25 and counts["values"] > 30_000
        assert counts["value_mismatches"] == counts["language_mismatches"] == counts["wrong_frame"] == 0, counts
        assert counts["frames"] == report[name]["steps"]
        late = _mismatches(exported, got, name, shift=1)  # the check sees actions or states one frame late
        assert late["value_mismatches"] > late["values"] // 10, late
    assert _mismatches(exported, got, "lerobot/gr00t_robot_sim_picknplace")["psnr_min"] > 30  # real frames
    got["lingzu/lingzu|steps"] = got["planted|steps"]
    got |= {k.replace("planted|", "lingzu/lingzu|"): v for k, v in got.items() if k.startswith("planted|")}
    assert _mismatches(exported, got, "lingzu/lingzu")["value_mismatches"] > 1000  # the zero padding is seen
