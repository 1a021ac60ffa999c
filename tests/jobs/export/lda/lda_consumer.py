"""Run LDA-1B's own loader on an LDA export and compare what it returns with what eidata wrote; one JSON report out.

    PYTHON lda_consumer.py --lda CHECKOUT --root OUT --entry ENTRY.py --setting pretrain|finetune --truth T.npz
        --report R.json

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
the error), 16 action steps, the action mask only on the dims of the layout's keys.

Then what LDA trains on against the RECORDED motion (T.npz: per dataset and episode, each LDA hand's wrist position,
rotation matrix and gripper opening as the corpus's `observation.state` recorded them, written by the test from the
corpus, never from the export): for an observation at t, the chunk must hold
- pretraining (`use_delta_action=true`, LDA's `get_delta_action_from_raw_data`): the motions t->t+1 .. t+15->t+16
  (T_k^-1 T_k+1 as xyz and roll/pitch/yaw) and the gripper openings at t+1 .. t+16;
- fine-tuning (`use_delta_action=false`, the rows as `get_step_data` gives them): the poses and gripper openings at
  t+1 .. t+16;
frames past the episode's end are its last (LDA's first/last padding). A robot without a description (its
recorded command, `action.native`, in T.npz as `command`): the commands given at t .. t+15, in both settings. A
value off by more than `TOL` is counted, and the largest difference per dataset is reported (a chunk one frame late
differs by one frame's motion).
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

TOL = 1e-4  # float32 poses through roll/pitch/yaw and back
CHUNK = 16


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


def _rpy(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R).as_euler("xyz")  # R = Rz(yaw) Ry(pitch) Rx(roll), LDA's convention


def _from_rpy(rpy: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("xyz", np.asarray(rpy, dtype=np.float64)).as_matrix()


def recorded_chunk(truth: dict, hand: int, frames: np.ndarray, setting: str) -> tuple[np.ndarray, ...]:
    """What the chunk of `frames` (t .. t+16, clipped) must hold for LDA hand `hand`, from the recorded states:
    (xyz (16, 3), rotations (16, 3, 3), gripper (16,)); pretraining the motions between consecutive frames, fine-tuning
    the poses at frames[1:]. Also where both ends of a step are tracked (16,)."""
    pos, rot, grip = truth["pos"][:, hand], truth["rot"][:, hand], truth["grip"][:, hand]
    a, b = frames[:-1], frames[1:]
    if setting == "pretrain":
        Ra = np.transpose(rot[a], (0, 2, 1))
        xyz, R = np.einsum("nij,nj->ni", Ra, pos[b] - pos[a]), Ra @ rot[b]
    else:
        xyz, R = pos[b], rot[b]
    tracked = truth["tracked"][:, hand]
    return xyz, R, grip[b], tracked[a] & tracked[b]


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


def compare_with_recorded(mix, ds, traj: int, base: int, setting: str, truths: dict, counts: dict) -> None:
    """LDA's chunk for the observation at `base` against the recorded motion of the right frames (module docstring)."""
    truth = truths.get(f"{ds.dataset_name}/{traj}")
    if truth is None:
        counts["no_truth"] += 1
        return
    raw = ds.get_step_data(traj, base)
    hist = len(ds.history_action_indices)
    if setting == "pretrain":
        raw, start = mix.get_delta_action_from_raw_data(dict(raw), ds.history_action_indices), hist - 1
    else:
        start = hist
    if "command" in truth:  # a robot without a description: its recorded commands t .. t+15, as they are
        want = truth["command"][np.clip(base + np.arange(CHUNK), 0, len(truth["command"]) - 1)]
        got = np.asarray(raw["action.native"], dtype=np.float64)[start:]
        diff = np.abs(got - want) if got.shape == want.shape else np.full(want.shape, np.inf)
        worst = counts["max_diff"].setdefault(ds.dataset_name, {"command": 0.0})
        worst["command"] = max(worst["command"], float(diff.max(initial=0.0)))
        counts["command_values"] += diff.size
        counts["command_mismatches"] += int((diff > TOL * np.maximum(1.0, np.abs(want))).sum())
        counts["chunk_steps"] = max(counts["chunk_steps"], len(got))
        return
    n = len(truth["pos"])
    frames = np.clip(base + np.arange(CHUNK + 1), 0, n - 1)
    worst = counts["max_diff"].setdefault(ds.dataset_name, {"xyz": 0.0, "rpy": 0.0, "gripper": 0.0})
    for i, hand in enumerate(("left", "right")):
        pk, rk, gk = (f"action.{hand}_{p}" for p in ("eef_position", "eef_rotation", "gripper"))
        if pk not in raw or not truth["used"][i]:
            continue
        xyz, R, grip, ok = recorded_chunk(truth, i, frames, setting)
        got_xyz = np.asarray(raw[pk], dtype=np.float64)[start:]
        got_rpy = np.asarray(raw[rk], dtype=np.float64)[start:]
        diff = np.concatenate([np.abs(got_xyz - xyz), np.abs(np.angle(np.exp(1j * (got_rpy - _rpy(R)))))], axis=1)
        diff = diff[ok]
        counts["motion_values"] += diff.size
        counts["motion_mismatches"] += int((diff > TOL).sum())
        counts["untracked_steps"] += int((~ok).sum())
        worst["xyz"] = max(worst["xyz"], float(diff[:, :3].max(initial=0.0)))
        worst["rpy"] = max(worst["rpy"], float(diff[:, 3:].max(initial=0.0)))
        if gk in raw and truth["gripper_used"][i]:
            g = np.abs(np.asarray(raw[gk], dtype=np.float64)[start:, 0] - grip)
            counts["gripper_values"] += g.size
            counts["gripper_mismatches"] += int((g > TOL).sum())
            worst["gripper"] = max(worst["gripper"], float(g.max(initial=0.0)))
        counts["chunk_steps"] = max(counts["chunk_steps"], len(got_xyz))


def check_mixture(mix, setting: str, truths: dict, counts: dict) -> None:
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
            compare_with_recorded(mix, ds, traj, base, setting, truths, counts)
    mix.sample_step = original


def load_truths(path: Path) -> dict:
    """T.npz's arrays `<dataset>/<episode>/<field>` as {"<dataset>/<episode>": {field: array}}."""
    out: dict = {}
    with np.load(path) as z:
        for name in z.files:
            key, field = name.rsplit("/", 1)
            out.setdefault(key, {})[field] = z[name]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lda", type=Path, required=True)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--entry", type=Path, required=True)
    ap.add_argument("--setting", choices=("pretrain", "finetune"), required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--report", type=Path, required=True)
    a = ap.parse_args(argv)
    truths = load_truths(a.truth)
    with tempfile.TemporaryDirectory() as tmp:
        _environment(a.lda.resolve(), Path(tmp))
        _paste(a.entry.read_text())  # fine-tuning: the printed switch set as the user sets it (the test edits it)
        from LDA.dataloader.lerobot_datasets import get_vla_dataset
        from omegaconf import OmegaConf

        data_cfg = OmegaConf.create(
            {"data_root_dir": str(a.root), "data_mix": "eidata", "use_delta_action": a.setting == "pretrain"}
        )
        mix = get_vla_dataset(data_cfg, model_cfg={"state_dim": 64, "action_dim": 138})
        keys = ("steps", "values", "value_mismatches", "language", "language_mismatches", "frames", "frame_mismatches")
        counts = dict.fromkeys(keys, 0) | {"items": 0, "retries": 0, "bad_chunk_length": 0, "mask_outside_keys": 0}
        more = ("motion_values", "motion_mismatches", "gripper_values", "gripper_mismatches", "untracked_steps")
        more += ("command_values", "command_mismatches")
        counts |= dict.fromkeys(more, 0) | {"no_truth": 0, "chunk_steps": 0, "max_diff": {}}
        counts["datasets"] = [d.dataset_name for d in mix.datasets]
        for ds in mix.datasets:
            check_steps(ds, a.root, counts)
        check_mixture(mix, a.setting, truths, counts)
    a.report.write_text(json.dumps(counts, indent=2))
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
