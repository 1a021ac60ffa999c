"""The exports used by the clients people train with, as they use them, with no feature removed first (issue 36).

lerobot 0.6.1 from its own venv, its console entry points run as a shell runs them
(`tests/oracle/lerobot_v30_oracle.py`, one process for all: `batch`):
- `lerobot-train` with a tiny ACT (CPU, random backbone, 2 steps) on a single-source export (egodex: hand keypoints,
  the interpolated flag, natives) and on the manifest export (several embodiments, its train split passed as
  `--dataset.episodes`, as jobs/export/README.md tells users);
- `lerobot-edit-dataset` delete_episodes, split and merge (the split halves and a second manifest export), each result
  loaded by `LeRobotDataset` with every value where it belongs;
- `convert_dataset_v21_to_v30` on the manifest exported as LeRobot v2.1 (`--format lerobot-v21`), then loaded.
lerobot 0.3.3 (`tests/oracle/lerobot_oracle.py normalize`): its policies' `Normalize` on a batch of the v2.1 exports;
the canonical dataset they come from is refused there for its bool flag (the reason for the layout).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.layout import find_datasets
from jobs.catalog.curate import curate
from jobs.cli import main
from schemas.canonical import ACTION, HAND_KEYPOINTS, INTERPOLATED
from schemas.export_layout import ACTION_MASK_COLUMN, ND_SHAPE_KEY
from tests.jobs.export.lerobot_v3.conftest import MANIFEST

pytestmark = pytest.mark.shared_ray  # the reference corpus is ingested on the shared Ray (tests/ray_scope.py)

SINGLE = "egodex/default"
SECOND = "high"  # a second manifest, merged with the first's split halves
STEPS = 2
# a tiny ACT on CPU: no pretrained backbone (nothing is downloaded), the smallest transformer lerobot accepts
TRAIN_ARGS = [
    "--dataset.video_backend=pyav",  # torchcodec cannot load here (docker/README.md)
    "--policy.type=act",
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.push_to_hub=false",
    "--policy.dim_model=32",
    "--policy.n_heads=2",
    "--policy.dim_feedforward=64",
    "--policy.n_encoder_layers=1",
    "--policy.n_decoder_layers=1",
    "--policy.chunk_size=4",
    "--policy.n_action_steps=4",
    f"--steps={STEPS}",
    "--batch_size=2",
    "--num_workers=0",
    "--save_checkpoint=false",
    "--log_freq=1",
    "--wandb.enable=false",
]


def _train_split(root: Path) -> list[int]:
    lo, hi = map(int, json.loads((root / "meta" / "info.json").read_text())["splits"]["train"].split(":"))
    return list(range(lo, hi))


@pytest.fixture(scope="module")
def clients(exported: tuple[Path, Path], run_oracle_v30, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    corpus, out = exported
    tmp = tmp_path_factory.mktemp("clients")
    curate(corpus, SECOND, "tier = 'high'", val_fraction=0.0)
    for name, fmt, sub in ((SECOND, "lerobot-v3", "second"), (MANIFEST, "lerobot-v21", "v21")):
        argv = ["export", str(corpus), "--format", fmt, "--out", str(tmp / sub), "--manifest", name]
        # the head camera, the sources without one left out: the same choice as the `exported` fixture's (conftest.py)
        assert main([*argv, "--cameras", "head", "--allow-dropped-sources"]) == 0
    argv = ["export", str(corpus), "--format", "lerobot-v21", "--out", str(tmp / "v21")]
    assert main(argv) == 0  # every dataset as v2.1 too (the 0.3.3 check below)
    converted = tmp / "converted"
    shutil.copytree(tmp / "v21" / MANIFEST, converted)  # the converter rewrites its input in place
    single, manifest, second = out / SINGLE, out / MANIFEST, tmp / "second" / SECOND
    train_manifest = [*TRAIN_ARGS, f"--dataset.episodes={_train_split(manifest)}"]
    plan = [
        {"name": "single", "argv": ["train", str(single), "--out", str(tmp / "t1"), "--", *TRAIN_ARGS]},
        {"name": "manifest", "argv": ["train", str(manifest), "--out", str(tmp / "t2"), "--", *train_manifest]},
        {"name": "edit", "argv": ["edit", str(manifest), str(second), "--out", str(tmp / "edit")]},
        {"name": "convert", "argv": ["convert", str(converted)]},
        {"name": "converted", "argv": ["load", str(converted), "--out", str(tmp / "conv")]},
    ]
    (tmp / "plan.json").write_text(json.dumps(plan))
    results = run_oracle_v30("batch", tmp / "plan.json", timeout=600)
    return SimpleNamespace(
        results=results, single=single, manifest=manifest, second=second, converted=converted, tmp=tmp, corpus=corpus
    )


def _columns(root: Path, key: str) -> np.ndarray:
    table = pq.read_table(sorted((root / "data").rglob("*.parquet")))
    return np.stack(table[key].to_numpy(zero_copy_only=False))


def test_lerobot_train_takes_exports_as_written(clients: SimpleNamespace) -> None:
    for name, root in (("single", clients.single), ("manifest", clients.manifest)):
        features = json.loads((root / "meta" / "info.json").read_text())["features"]
        # nothing removed first: the flag is there, out of the policy namespaces, and the keypoints are flat
        assert features["frame.interpolated"]["dtype"] == "bool" and INTERPOLATED not in features
        assert features[HAND_KEYPOINTS]["shape"] == [126] and features[HAND_KEYPOINTS]["info"][ND_SHAPE_KEY]
        run = clients.results[name][str(root)]
        assert run["ok"], (name, run.get("error"), run.get("where"))
        assert len(run["losses"]) == STEPS and all(math.isfinite(v) for v in run["losses"]), run


def test_lerobot_edit_dataset_deletes_splits_and_merges_exports(clients: SimpleNamespace) -> None:
    edit, manifest, second = clients.results["edit"], clients.manifest, clients.second
    for op in ("deleted", "split/a", "split/b", "merged"):
        assert edit[op]["ok"], (op, edit[op].get("error"), edit[op].get("where"))
    episodes = pq.read_table(manifest / "meta" / "episodes").to_pylist()
    n, first = len(episodes), episodes[0]["length"]
    frames = sum(e["length"] for e in episodes)
    assert (edit["deleted"]["num_episodes"], edit["deleted"]["num_frames"]) == (n - 1, frames - first)
    assert edit["split/a"]["num_episodes"] + edit["split/b"]["num_episodes"] == n
    second_eps = pq.read_table(second / "meta" / "episodes").num_rows
    assert edit["merged"]["num_episodes"] == n + second_eps
    # every value where it belongs: the merge of the halves and the second export is the two exports end to end
    merged = np.load(clients.tmp / "edit" / "merged.npz")
    for key in (ACTION, HAND_KEYPOINTS, "frame.interpolated"):
        want = np.concatenate([_columns(manifest, key), _columns(second, key)])
        assert np.array_equal(merged[key].reshape(want.shape), want), key
    deleted = np.load(clients.tmp / "edit" / "deleted.npz")
    assert np.array_equal(deleted[ACTION], _columns(manifest, ACTION)[first:])
    # our episode columns (jobs/export/README.md): delete_episodes and split write lerobot's own rows without them;
    # merge keeps them, null for the rows of a dataset that had none
    assert ACTION_MASK_COLUMN in episodes[0]
    assert all(ACTION_MASK_COLUMN not in edit[op]["episodes"][0] for op in ("deleted", "split/a", "split/b"))
    masks = [e[ACTION_MASK_COLUMN] for e in edit["merged"]["episodes"]]
    second_masks = pq.read_table(second / "meta" / "episodes")[ACTION_MASK_COLUMN].to_pylist()
    assert masks == [None] * n + second_masks


def test_lerobots_converter_takes_a_v21_export(clients: SimpleNamespace) -> None:
    assert clients.results["convert"] == {"ok": True}, clients.results["convert"]
    loaded = clients.results["converted"][str(clients.converted)]
    assert loaded["ok"], loaded
    v21 = json.loads((clients.tmp / "v21" / MANIFEST / "meta" / "info.json").read_text())
    assert (loaded["num_episodes"], loaded["num_frames"]) == (v21["total_episodes"], v21["total_frames"])
    arrays = np.load(clients.tmp / "conv" / "0.npz")
    assert np.array_equal(arrays[ACTION].reshape(-1, 50), _columns(clients.manifest, ACTION))
    assert loaded["episodes"][0][ACTION_MASK_COLUMN] is not None  # the converter keeps episodes.jsonl's extra keys


def test_lerobot_033_normalizes_v21_exports_but_not_the_canonical_flag(clients: SimpleNamespace, run_oracle) -> None:
    v21 = clients.tmp / "v21"
    canonical = clients.corpus / "datasets" / SINGLE
    got = run_oracle("normalize", v21 / MANIFEST, v21 / SINGLE, canonical, "--items", "0,1", timeout=300)
    for root in (v21 / MANIFEST, v21 / SINGLE):
        assert got[str(root)]["ok"], got[str(root)]
        assert "frame.interpolated" not in got[str(root)]["state"] and got[str(root)]["action"] == [ACTION]
        assert all(d == "torch.float32" for d in got[str(root)]["dtypes"].values())
    refused = got[str(canonical)]
    assert INTERPOLATED in refused["state"] and not refused["ok"]
    assert "Subtraction, the `-` operator, with a bool tensor is not supported" in refused["error"]


@pytest.mark.slow  # a lerobot-train run per dataset: about 100 s
def test_every_dataset_export_trains_and_edits(exported: tuple[Path, Path], run_oracle_v30, tmp_path: Path) -> None:
    """Every dataset of the demo corpus, exported as it is: lerobot-train on each that has a camera (ACT, like every
    lerobot 0.6.1 policy here, needs an image or an environment state: a camera-less export has neither), and
    delete_episodes, split and merge on each of two episodes or more (lerobot refuses to delete every episode or to
    write an empty split)."""
    corpus, out = exported
    roots = [out / d.relative_to(corpus / "datasets") for d in find_datasets(corpus)]
    infos = {r: json.loads((r / "meta" / "info.json").read_text()) for r in roots}
    cams = [r for r in roots if any(ft["dtype"] == "video" for ft in infos[r]["features"].values())]
    several = [r for r in roots if infos[r]["total_episodes"] >= 2]
    plan = [{"name": "train", "argv": ["train", *map(str, cams), "--out", str(tmp_path / "t"), "--", *TRAIN_ARGS]}]
    plan += [
        {"name": str(r), "argv": ["edit", str(r), "--out", str(tmp_path / f"e{i}")]} for i, r in enumerate(several)
    ]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    results = run_oracle_v30("batch", tmp_path / "plan.json", timeout=600)
    assert cams and several, (roots, cams, several)
    for root in cams:
        run = results["train"][str(root)]
        assert run["ok"] and len(run["losses"]) == STEPS, (root, run.get("error"))
    for root in several:
        for op, result in results[str(root)].items():
            assert result["ok"], (root, op, result.get("error"))
