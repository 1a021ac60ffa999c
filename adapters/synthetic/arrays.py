"""Array recordings written as the makers' code writes them (the conventions are cited in adapters/arrays/layouts.yaml):
a robomimic / LIBERO HDF5 file, an Isaac Lab recording in robomimic's layout, one ACT / ALOHA episode file and a zipped
UMI replay buffer. For the layouts no redistributable real sample was found for, and for `make demo`'s `robomimic`
source; never read as evidence of a convention, only of the reading of the layout.

Motion is plausible (a smooth reach, the gripper closing and opening) and the images show the moving pattern of
`synthetic_frame`, so the QA sees a moving arm in front of a changing picture. Bad input: `truncate`, a file cut to
half its size (h5py cannot open it).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np

from adapters.synthetic.video import synthetic_frame


def _reach(n: int, dims: int, seed: int) -> np.ndarray:
    """(n, dims) smooth values: each dim a slow sine about its own offset, a different phase per seed."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    k = np.arange(dims)[None, :]
    return 0.1 * (k % 3) + 0.15 * np.sin(np.pi * t + 0.7 * k + 0.3 * seed)


def _images(n: int, height: int, width: int, seed: int) -> np.ndarray:
    return np.stack([synthetic_frame(height, width, t, seed) for t in range(n)])


def write_robomimic(
    path: Path,
    lengths: list[int],
    *,
    libero_task: str | None = None,
    freq: int | None = 20,
    image_size: tuple[int, int] = (8, 10),
) -> Path:
    """A robomimic-layout file (robomimic docs/datasets/overview.md): `data` attrs `total`, `env_args`; per demo
    `obs/<key>`, `next_obs/<key>`, `actions`, `rewards`, `dones`, `states`, attr `num_samples`. With `libero_task`,
    LIBERO's additions (scripts/create_dataset.py): `problem_info` with `language_instruction`, `*_rgb` images.
    `freq` None leaves `control_freq` out of `env_args`."""
    kwargs = {"robots": ["Panda"], **({"control_freq": freq} if freq else {})}
    cam = "agentview_rgb" if libero_task is not None else "agentview_image"
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = sum(lengths)
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": kwargs})
        if libero_task is not None:
            data.attrs["problem_info"] = json.dumps({"language_instruction": libero_task, "problem_name": "x"})
            data.attrs["bddl_file_name"] = "x.bddl"
        for i, n in enumerate(lengths):
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = n
            pos, quat = _reach(n + 1, 3, i), _reach(n + 1, 4, i + 7) + np.array([0.0, 1.0, 0.0, 0.0])
            quat /= np.linalg.norm(quat, axis=1, keepdims=True)
            images = _images(n + 1, *image_size, i)
            for group, rows in (("obs", slice(0, n)), ("next_obs", slice(1, n + 1))):
                demo[f"{group}/robot0_eef_pos"] = pos[rows]
                demo[f"{group}/robot0_eef_quat"] = quat[rows]
                demo[f"{group}/{cam}"] = images[rows]
            grip = np.where(np.linspace(0, 1, n) < 0.5, -1.0, 1.0)[:, None]  # robosuite: -1 open, 1 closed
            demo["actions"] = np.concatenate([np.diff(pos, axis=0) * 10, np.zeros((n, 3)), grip], axis=1)
            demo["rewards"] = (np.arange(n) == n - 1).astype(np.float64)
            demo["dones"] = np.arange(n) == n - 1
            demo["states"] = _reach(n, 32, i + 3)
    return path


def write_isaaclab(
    path: Path,
    lengths: list[int],
    *,
    env_name: str = "Isaac-Stack-Cube-Franka-IK-Rel-v0",
    success: list[bool] | None = None,
    gripper: bool = True,
) -> Path:
    """An Isaac Lab recording in robomimic's layout, as isaaclab/utils/datasets/hdf5_dataset_file_handler.py writes it:
    `data` attrs `total` and `env_args` {"env_name", "type": 2} (no rate, no env_kwargs); per demo attrs
    `num_samples` and, when the recorder knew it, `success`; `actions` (T, 7) as an IK-Rel Franka task commands them
    (stack_ik_rel_env_cfg.py: a relative pose, 6, then the binary gripper, -1 close / 1 open), `obs/eef_pos`,
    `obs/eef_quat`, `obs/joint_pos`. `gripper` False: a task without a gripper term (Isaac Lab's reach tasks: the
    arm's 6 columns only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = sum(lengths)
        data.attrs["env_args"] = json.dumps({"env_name": env_name, "type": 2})
        for i, n in enumerate(lengths):
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = n
            if success is not None:
                demo.attrs["success"] = np.bool_(success[i])
            pos = _reach(n + 1, 3, i)
            grip = np.where(np.linspace(0, 1, n) < 0.5, 1.0, -1.0)[:, None]
            arm = [np.diff(pos, axis=0), 0.01 * _reach(n, 3, i + 5)]
            demo["actions"] = np.concatenate([*arm, grip] if gripper else arm, axis=1)
            demo["obs/eef_pos"] = pos[:n]
            demo["obs/eef_quat"] = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
            demo["obs/joint_pos"] = _reach(n, 9, i + 2)
    return path


def write_aloha(path: Path, n: int, image_size: tuple[int, int] = (6, 8)) -> Path:
    """One ACT / ALOHA episode as tonyzhaozh/act record_sim_episodes.py writes it (images made small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    qpos = _reach(n + 1, 14, 1)
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = True
        f["observations/qpos"] = qpos[:n]
        f["observations/qvel"] = np.diff(qpos, axis=0) * 50
        f["observations/images/top"] = _images(n, *image_size, 1)
        f["action"] = qpos[1:]
    return path


def write_umi(path: Path, ends: list[int], image_size: tuple[int, int] = (8, 8)) -> Path:
    """A UMI-style replay buffer (universal_manipulation_interface 07_generate_replay_buffer.py keys; images uint8
    without the JpegXl codec), zipped as UMI saves it (the store's root at the zip's root)."""
    import zarr  # only a caller that writes Zarr pays for the import

    folder = path.with_suffix(".dir")
    g = zarr.open_group(folder, mode="w", zarr_format=2)
    n = ends[-1]
    g.create_array("data/camera0_rgb", data=_images(n, *image_size, 2))
    g.create_array("data/robot0_eef_pos", data=_reach(n, 3, 2).astype(np.float32))
    g.create_array("data/robot0_eef_rot_axis_angle", data=_reach(n, 3, 5).astype(np.float32))
    g.create_array("data/robot0_gripper_width", data=(0.04 + _reach(n, 1, 4) / 4).astype(np.float32))
    g.create_array("data/robot0_demo_start_pose", data=np.zeros((n, 6)))
    g.create_array("meta/episode_ends", data=np.asarray(ends, dtype=np.int64))
    zip_folder(folder, path)
    shutil.rmtree(folder)
    return path


def zip_folder(folder: Path, out: Path) -> Path:
    """`folder`'s files in a zip with the store's root at the zip's root, as zarr's ZipStore writes one (UMI's
    `dataset.zarr.zip`)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder).as_posix())
    return out


def truncate(path: Path) -> Path:
    """`path` cut to half its size: what an interrupted copy leaves."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
