"""Run LDA-1B's own loader on an LDA export and compare what it returns with what eidata wrote; one JSON report out.

    PYTHON lda_consumer.py --lda CHECKOUT --root OUT --entry ENTRY.py --setting pretrain|finetune --report R.json

Runs in a Python that has LDA's dependencies (torch, torchvision 0.21, decord, pandas, pydantic, numpydantic,
transformers, qwen-vl-utils, accelerate, omegaconf, albumentations, av, opencv), never in eidata's venv: nothing of
LDA's is imported by eidata. CHECKOUT is a folder holding LDA's `lda/` package (jiangranlv/latent-dynamics-action,
e.g. @99bf08b). ENTRY is the text `eidata export --format lda` printed, executed as a user pastes it into LDA's
`data_config.py`, `embodiment_tags.py` and `mixtures.py` (their names in one namespace; nothing else of LDA's is
changed). Environment only, no LDA code changed:
- LDA imports itself as `LDA.*` while its folder is `lda/`: a temporary folder with `LDA -> CHECKOUT/lda` goes first
  on sys.path;
- torchvision's PyPI wheels cannot load their `_C` beside a CPU torch (`operator torchvision::nms does not exist`):
  the op's schema is declared (no kernel; detection only, data loading never calls it);
- `lda/utils/rotation_convert.py` imports `pytorch3d.transforms` and uses none of it in the functions the loader calls:
  an empty module stands for it when pytorch3d is not installed.

Checks, per dataset of the mixture and every step LDA samples (`all_steps`): `get_step_data`'s state, action (every
index of the chunk, LDA's first/last padding at the ends), language and frames (`video.main`, `future_video.main`;
PyAV decode of the same mp4 frame by frame) equal the parquet and the video; then the mixture's `__getitem__` (with
`use_delta_action` as the setting says) on every step: no retry (a sample that raises makes LDA draw another, hiding
the error), 16 action steps, the action mask only on the dims of the layout's keys, and in the pretraining setting
LDA's own differences of the absolute poses equal the relative motion computed here from the parquet.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np


def _environment(checkout: Path, tmp: Path) -> None:
    (tmp / "LDA").symlink_to(checkout / "lda", target_is_directory=True)
    sys.path.insert(0, str(tmp))
    import torch

    with contextlib.suppress(RuntimeError):  # a torchvision whose _C loads declares it itself
        torch.library.define("torchvision::nms", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    try:
        import pytorch3d.transforms  # noqa: F401
    except ImportError:
        p3d = types.ModuleType("pytorch3d")
        p3d.transforms = types.ModuleType("pytorch3d.transforms")  # type: ignore[attr-defined]
        sys.modules["pytorch3d"], sys.modules["pytorch3d.transforms"] = p3d, p3d.transforms  # type: ignore[attr-defined]


def _paste(entry: str) -> None:
    """The printed entry, executed in the namespace of the three LDA modules it is pasted into."""
    import LDA.dataloader.gr00t_lerobot.data_config as dc
    import LDA.dataloader.gr00t_lerobot.embodiment_tags as et
    import LDA.dataloader.gr00t_lerobot.mixtures as mx

    namespace = {**vars(et), **vars(mx), **vars(dc)}
    exec(compile(entry, "<eidata export --format lda>", "exec"), namespace)


def _decode_all(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])


def _rel_pose(xyz: np.ndarray, rpy: np.ndarray) -> np.ndarray:
    """(N, 6) consecutive relative motions T_i^-1 T_{i+1} as xyz + roll/pitch/yaw (R = Rz Ry Rx), from scipy."""
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("xyz", rpy)
    dR = R[:-1].inv() * R[1:]
    dt = R[:-1].inv().apply(xyz[1:] - xyz[:-1])
    return np.concatenate([dt, dR.as_euler("xyz")], axis=1)


def check_steps(ds, root: Path, counts: dict) -> None:
    import pandas as pd

    modality = json.loads((ds.dataset_path / "meta/modality.json").read_text())
    lines = (ds.dataset_path / "meta/tasks.jsonl").read_text().splitlines()
    tasks = {t["task_index"]: t["task"] for t in map(json.loads, filter(None, lines))}
    videos: dict = {}
    for traj, base in ds.all_steps:
        rel = ds.data_path_pattern.format(episode_chunk=traj // ds.chunk_size, episode_index=traj)
        df = pd.read_parquet(ds.dataset_path / rel)
        n = len(df)
        data = ds.get_step_data(traj, base)
        counts["steps"] += 1
        for key in [*ds.modality_keys["state"], *ds.modality_keys["action"]]:
            group, sub = key.split(".", 1)
            spec = modality[group][sub]
            rows = np.clip(base + ds.delta_indices[key], 0, n - 1)
            want = np.stack(df[spec["original_key"]].to_numpy())[rows, spec["start"] : spec["end"]]
            got = np.asarray(data[key])
            counts["values"] += want.size
            counts["value_mismatches"] += int((got.astype(np.float32) != want).sum())
        for key in ds.modality_keys["language"]:
            rows = np.clip(base + ds.delta_indices[key], 0, n - 1)
            want = [tasks[int(i)] for i in df["task_index"].to_numpy()[rows]]
            counts["language"] += len(want)
            counts["language_mismatches"] += sum(a != b for a, b in zip(data[key], want, strict=True))
        for key in [*ds.modality_keys["video"], *ds.modality_keys["future_video"]]:
            alias = key.split(".", 1)[1]
            path = ds.get_video_path(traj, alias)
            if path not in videos:
                videos[path] = _decode_all(path)
            rows = np.clip(base + ds.delta_indices[key], 0, n - 1)
            got = np.asarray(data[key])
            counts["frames"] += len(rows)
            same = [np.array_equal(g, videos[path][r]) for g, r in zip(got, rows, strict=True)]
            counts["frame_mismatches"] += same.count(False)


def check_mixture(mix, setting: str, counts: dict) -> None:
    calls: list = []
    original = mix.sample_step
    forced: list = []

    def sample_step(index: int):
        calls.append(index)
        return forced[0] if len(calls) == 1 else original(index)

    mix.sample_step = sample_step
    for ds in mix.datasets:
        modality = json.loads((ds.dataset_path / "meta/modality.json").read_text())
        for traj, base in ds.all_steps:
            calls.clear()
            forced[:] = [(ds, traj, base)]
            item = mix[0]
            counts["items"] += 1
            counts["retries"] += len(calls) - 1
            action, mask = item["action"], item["action_mask"]
            counts["bad_chunk_length"] += int(action.shape[0] != 16)
            # the dims LDA's padding gives each configured key, in its order (datasets.py:105-145)
            allowed = np.zeros(action.shape[1], dtype=bool)
            at = 0
            for key in ds.modality_keys["action"]:
                spec = modality["action"][key.split(".", 1)[1]]
                width = 3 if ("eef_position" in key or "eef_rotation" in key) else 63
                allowed[at : at + min(spec["end"] - spec["start"], width)] = True
                at += width
                if "eef_rotation" in key and ds.tag in ("egodex", "taco"):
                    at += 63  # LDA's `dataset_no_mano` zeros where MANO actions go
            counts["mask_outside_keys"] += int((mask & ~allowed).sum())
            if setting == "pretrain":
                raw = ds.get_step_data(traj, base)
                hist = len(ds.history_action_indices)
                for hand in ("left", "right"):
                    pk, rk = f"action.{hand}_eef_position", f"action.{hand}_eef_rotation"
                    if pk not in raw:
                        continue
                    xyz, rpy = np.asarray(raw[pk], dtype=np.float64), np.asarray(raw[rk], dtype=np.float64)
                    want = np.concatenate([_rel_pose(xyz[:hist], rpy[:hist]), _rel_pose(xyz[hist:], rpy[hist:])])
                    out = mix.get_delta_action_from_raw_data(dict(raw), ds.history_action_indices)
                    got = np.concatenate([out[pk], out[rk]], axis=1)
                    counts["deltas"] += want.size
                    diff = np.abs(np.angle(np.exp(1j * (got - want))))  # angles compared modulo 2 pi
                    diff[:, :3] = np.abs(got[:, :3] - want[:, :3])
                    counts["delta_mismatches"] += int((diff > 1e-6).sum())
                    counts["pred_delta_steps"] = max(counts.get("pred_delta_steps", 0), len(got) - (hist - 1))
    mix.sample_step = original


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lda", type=Path, required=True)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--entry", type=Path, required=True)
    ap.add_argument("--setting", choices=("pretrain", "finetune"), required=True)
    ap.add_argument("--report", type=Path, required=True)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        _environment(a.lda.resolve(), Path(tmp))
        _paste(a.entry.read_text())
        import LDA.dataloader.gr00t_lerobot.data_config as dc
        from LDA.dataloader.lerobot_datasets import get_vla_dataset
        from omegaconf import OmegaConf

        if a.setting == "finetune":  # the printed comment: 16 steps without LDA's differencing
            for name, cfg in dc.ROBOT_TYPE_CONFIG_MAP.items():
                if name.startswith("eidata_"):
                    cfg.action_indices = list(range(-5, 16))
        data_cfg = OmegaConf.create(
            {"data_root_dir": str(a.root), "data_mix": "eidata", "use_delta_action": a.setting == "pretrain"}
        )
        mix = get_vla_dataset(data_cfg, model_cfg={"state_dim": 64, "action_dim": 138})
        keys = ("steps", "values", "value_mismatches", "language", "language_mismatches", "frames", "frame_mismatches")
        counts = dict.fromkeys(keys, 0) | {"items": 0, "retries": 0, "bad_chunk_length": 0, "mask_outside_keys": 0}
        counts |= {"deltas": 0, "delta_mismatches": 0, "datasets": [d.dataset_name for d in mix.datasets]}
        for ds in mix.datasets:
            check_steps(ds, a.root, counts)
        check_mixture(mix, a.setting, counts)
    a.report.write_text(json.dumps(counts, indent=2))
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
