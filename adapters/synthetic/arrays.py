"""Array recordings written as the makers' code writes them (the conventions are cited in adapters/arrays/layouts.yaml):
a robomimic / LIBERO HDF5 file, for `make demo`'s `robomimic` source and the tests (the other layouts' writers, which
only tests use: `tests/fixtures/writers/arrays.py`); never read as evidence of a convention, only of the reading of
the layout. Motion is plausible (a smooth reach, the gripper closing and opening) over `synthetic_frame` images. Bad
input: `truncate`, a file cut to half its size (h5py cannot open it).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from adapters.synthetic.video import synthetic_frames


def reach(n: int, dims: int, seed: int) -> np.ndarray:
    """(n, dims) smooth values: each dim a slow sine about its own offset, a different phase per seed."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    k = np.arange(dims)[None, :]
    return 0.1 * (k % 3) + 0.15 * np.sin(np.pi * t + 0.7 * k + 0.3 * seed)


def write_robomimic(path: Path, lengths: list[int], *, image_size: tuple[int, int] = (8, 10)) -> Path:
    """A robomimic-layout file (robomimic docs/datasets/overview.md) at robosuite's 20 Hz: `data` attrs `total`,
    `env_args`; per demo `obs/<key>`, `next_obs/<key>`, `actions`, `rewards`, `dones`, `states`, attr `num_samples`
    (LIBERO's additions and other rates: `tests/fixtures/writers/arrays.py`)."""
    kwargs = {"robots": ["Panda"], "control_freq": 20}
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = sum(lengths)
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": kwargs})
        for i, n in enumerate(lengths):
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = n
            pos, quat = reach(n + 1, 3, i), reach(n + 1, 4, i + 7) + np.array([0.0, 1.0, 0.0, 0.0])
            quat /= np.linalg.norm(quat, axis=1, keepdims=True)
            images = np.stack(synthetic_frames(n + 1, *image_size, i))
            for group, rows in (("obs", slice(0, n)), ("next_obs", slice(1, n + 1))):
                demo[f"{group}/robot0_eef_pos"] = pos[rows]
                demo[f"{group}/robot0_eef_quat"] = quat[rows]
                demo[f"{group}/agentview_image"] = images[rows]
            grip = np.where(np.linspace(0, 1, n) < 0.5, -1.0, 1.0)[:, None]  # robosuite: -1 open, 1 closed
            demo["actions"] = np.concatenate([np.diff(pos, axis=0) * 10, np.zeros((n, 3)), grip], axis=1)
            demo["rewards"] = (np.arange(n) == n - 1).astype(np.float64)
            demo["dones"] = np.arange(n) == n - 1
            demo["states"] = reach(n, 32, i + 3)
    return path


def truncate(path: Path) -> Path:
    """`path` cut to half its size: what an interrupted copy leaves."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
