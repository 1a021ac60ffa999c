"""Run in a Python with GR00T's dependencies (never imported by pytest): GR00T's own `LeRobotSingleDataset`
(NVIDIA/Isaac-GR00T `gr00t/data/dataset.py` @ f4e12be) on each dataset the export printed, built from the printed
text as it is, and every step it offers (`all_steps`) read through `get_step_data`, as its trainer's `__getitem__`
does before transforms; what it returned is written to an npz for the test to compare with the corpus.

    python gr00t_consumer.py --gr00t CHECKOUT --loaders loaders.json --out got.npz --report report.json

`loaders.json`: [{"name": ..., "loader": "LeRobotSingleDataset(...)"}]. The npz holds, per dataset NAME and key K
(`state.native`, `action.right_eef_position`, `video.head`, ...), `NAME|K` stacked over steps, `NAME|steps` (trajectory,
base index) and `NAME|language`. The environment, as for LDA's fork of the same loader: torchvision's PyPI `_C` does
not load beside a CPU torch (`operator torchvision::nms does not exist`), so the op's schema is declared (data loading
never calls it); `gr00t/data/transform/state_action.py` imports `pytorch3d.transforms`, unused by the loader, so an
empty module stands for it where pytorch3d is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import types
from pathlib import Path

import numpy as np


def _environment(checkout: Path) -> None:
    sys.path.insert(0, str(checkout))
    import torch

    with contextlib.suppress(RuntimeError):  # a torchvision whose _C loads declares it itself
        torch.library.define("torchvision::nms", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    try:
        import pytorch3d.transforms  # noqa: F401
    except ImportError:
        p3d = types.ModuleType("pytorch3d")
        p3d.transforms = types.ModuleType("pytorch3d.transforms")  # type: ignore[attr-defined]
        sys.modules["pytorch3d"], sys.modules["pytorch3d.transforms"] = p3d, p3d.transforms  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser()
    for flag in ("--gr00t", "--loaders", "--out", "--report"):
        ap.add_argument(flag, required=True)
    args = ap.parse_args()
    _environment(Path(args.gr00t))
    from gr00t.data.dataset import LeRobotSingleDataset, ModalityConfig

    arrays: dict[str, np.ndarray] = {}
    report: dict[str, dict] = {}
    for entry in json.loads(Path(args.loaders).read_text()):
        name, started = entry["name"], time.time()
        ds = eval(entry["loader"], {"LeRobotSingleDataset": LeRobotSingleDataset, "ModalityConfig": ModalityConfig})
        got: dict[str, list] = {}
        steps = list(ds.all_steps)
        for trajectory, base in steps:
            data = ds.get_step_data(trajectory, base)
            for key, value in data.items():
                got.setdefault(key, []).append(value)
        for key, values in got.items():
            if key.startswith("annotation."):
                arrays[f"{name}|language"] = np.asarray(values, dtype=object)
            else:
                arrays[f"{name}|{key}"] = np.stack(values)
        arrays[f"{name}|steps"] = np.asarray(steps, dtype=np.int64)
        item = ds[len(ds) // 2]  # the trainer's path (its transforms: none given)
        report[name] = {
            "steps": len(steps),
            "trajectories": [int(t) for t in ds.trajectory_ids],
            "modality_configs": {k: v.model_dump() for k, v in ds.modality_configs.items()},
            "metadata_modalities": ds.metadata.modalities.model_dump(mode="json"),
            "item_keys": sorted(item),
            "seconds": round(time.time() - started, 2),
        }
    np.savez(args.out, **arrays)
    Path(args.report).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
    # its answer is written and closed: the interpreter's teardown is skipped, in which a library's native thread, still
    # joinable, aborted the process ("terminate called without an active exception", once in a loaded full run)
    sys.stdout.flush()
    os._exit(0)
