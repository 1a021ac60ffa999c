"""Issue 55, "Done when": array recordings export alone to LeRobot v3.0 with an action that trains, end to end
(adapter -> ingest -> catalog -> export -> `lerobot-train`).

- Isaac Lab human demonstrations in robomimic's layout (`Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-v0`, 20 Hz): the
  relative IK command's six pose deltas are accumulated to 10 Hz, so the exported `action.native` frame k holds the
  sum of the raw rows in [k/10, (k+1)/10) and each episode's column sums are the file's (decimation would keep half),
  the binary gripper is sampled; the canonical `action` comes from the recorded end-effector pose: the wrist (the
  `franka` flange) is the recorded TCP moved 0.1034 m back along the recorded approach axis, and the action's wrist
  translation is that wrist's motion to the next frame.
- A LIBERO-layout recording (`ee_pos`, axis-angle `ee_ori`, `gripper_states`) and a robomimic one (robosuite's
  `robot0_eef_pos`, xyzw `robot0_eef_quat`) export canonical actions: the right hand's dims move, the left hand's are
  zero, the wrist is the recorded grip site 0.097 m back along its approach axis (robosuite's Panda).

The files are written here with h5py in the makers' layouts (keys, units and quaternion orders as cited in
adapters/arrays/layouts.yaml); the motion is a smooth reach whose end-effector follows the commanded deltas.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.spatial.transform import Rotation

from adapters.registry import get_adapter
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.query import run_query
from jobs.export.lerobot_v3.job import export_corpus
from schemas.canonical import ACTION, ACTION_NATIVE, GRIPPER, STATE, WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import dataset_dir
from schemas.image_size import ImageSpec
from tests.adapters.arrays.test_real_isaaclab import ISAACLAB, ISAACLAB_FROM
from tests.ingest.qa.planted_raw import ingest
from tests.realdata import realdata

RATE = 20  # Hz: Isaac Lab's stack envs and robosuite's default control_freq
LENGTHS = (62, 47)  # rows per demo: 3.1 s and 2.35 s
ISAAC_ENV = "Isaac-Stack-Cube-Franka-IK-Rel-Visuomotor-v0"
IK_SCALE = 0.5  # stack_ik_rel_visuomotor_env_cfg.py: DifferentialInverseKinematicsActionCfg scale
TCP = {"isaaclab": 0.1034, "libero": 0.097, "robomimic": 0.097}  # the EEF offsets of `franka`, `robosuite_panda`
TRAIN_STEPS = 2


def _motion(n: int, seed: int) -> tuple[np.ndarray, Rotation, np.ndarray, np.ndarray]:
    """(n, 7) float32 IK-Rel commands (6 pose deltas, then -1 close / 1 open), the (n,) end-effector positions and
    rotations they drive (each row's pose is before its command), the (n,) finger travel 0 -> 0.04 m."""
    t = np.linspace(0.0, 1.0, n)
    delta = np.stack(
        [
            0.02 * np.cos(2 * t + seed),
            0.015 * np.sin(3 * t),
            -0.01 + 0.004 * t,
            0.01 * np.sin(t + seed),
            0.02 * t,
            0.03 * np.cos(t),
        ],
        axis=1,
    )
    grip = np.where(t < 0.6, 1.0, -1.0)[:, None]
    command = np.concatenate([delta, grip], axis=1).astype(np.float32)
    pos = np.array([0.45, 0.05 * seed, 0.35]) + np.vstack([np.zeros(3), np.cumsum(IK_SCALE * command[:-1, :3], 0)])
    rotvec = np.vstack([np.zeros(3), np.cumsum(IK_SCALE * command[:-1, 3:6], 0)])
    rot = Rotation.from_euler("x", np.pi) * Rotation.from_rotvec(rotvec)  # pointing down, turning as commanded
    return command, pos, rot, 0.04 * t


def _frames(n: int, seed: int) -> np.ndarray:
    """(n, 16, 16, 3) uint8 pictures that change with time."""
    t = np.arange(n)[:, None, None, None]
    yx = np.add.outer(np.arange(16), np.arange(16))[None, :, :, None]
    return ((yx * 9 + t * 5 + seed * 40 + np.arange(3) * 70) % 256).astype(np.uint8)


def _write(path: Path, kind: str) -> dict[str, np.ndarray]:
    """A recording of `kind` (isaaclab, libero, robomimic) with one demo per LENGTHS; returns demo -> commands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    commands = {}
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = sum(LENGTHS)
        if kind == "isaaclab":  # isaaclab/utils/datasets/hdf5_dataset_file_handler.py: env_name and type 2 only
            data.attrs["env_args"] = json.dumps({"env_name": ISAAC_ENV, "type": 2})
        else:
            kwargs = {"robots": ["Panda"], "control_freq": RATE}
            data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": kwargs})
        if kind == "libero":
            data.attrs["problem_info"] = json.dumps({"language_instruction": "open the drawer"})
        for i, n in enumerate(LENGTHS):
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = n
            command, pos, rot, q = _motion(n, i)
            commands[f"demo_{i}"] = command
            demo["actions"] = command
            obs = demo.create_group("obs")
            fingers = np.stack([q, -q], axis=1)
            if kind == "isaaclab":
                demo.attrs["success"] = np.bool_(True)
                obs["eef_pos"], obs["eef_quat"] = (
                    pos.astype(np.float32),
                    rot.as_quat()[:, [3, 0, 1, 2]].astype(np.float32),
                )
                obs["gripper_pos"], obs["joint_pos"] = fingers.astype(np.float32), np.zeros((n, 9), np.float32)
                obs["table_cam"], obs["wrist_cam"] = _frames(n, i), _frames(n, i + 3)
            elif kind == "libero":
                obs["ee_pos"], obs["ee_ori"], obs["gripper_states"] = pos, rot.as_rotvec(), fingers
                obs["joint_states"], obs["agentview_rgb"] = np.zeros((n, 7)), _frames(n, i)
            else:
                obs["robot0_eef_pos"], obs["robot0_eef_quat"], obs["robot0_gripper_qpos"] = pos, rot.as_quat(), fingers
                obs["agentview_image"] = _frames(n, i)
            demo["rewards"] = (np.arange(n) == n - 1).astype(np.float64)
            demo["dones"] = np.arange(n) == n - 1
    return commands


FILES = {"isaaclab": "dataset.hdf5", "libero": "KITCHEN_SCENE1_open_the_drawer_demo.hdf5", "robomimic": "low_dim.hdf5"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("arrays_actions")
    root, spec = tmp / "corpus", CanonicalizeSpec(image=ImageSpec(size="32x32"))
    commands, motions = {}, {}
    adapter = get_adapter("arrays")
    for source, name in FILES.items():
        commands[source] = _write(tmp / "raw" / source / name, source)
        motions[source] = {f"demo_{i}": _motion(n, i) for i, n in enumerate(LENGTHS)}
        refs = list(adapter.discover(tmp / "raw" / source))
        assert len(refs) == len(LENGTHS) and all(r.error is None for r in refs), [r.error for r in refs]
        for ref in refs:
            kept, why = ingest(adapter.read(ref), spec, root / dataset_dir(source, ref.subset))
            assert kept, why
    rebuild_catalog(Corpus(root))
    out = tmp / "out"
    results = export_corpus(root, out)
    assert all(status == "written" for status, _ in results.values()), results
    exported = {s: out / next(p for p in results if p.startswith(s)) for s in FILES}
    return SimpleNamespace(root=root, out=out, exported=exported, commands=commands, motions=motions, tmp=tmp)


def _episodes(root: Path, key: str) -> list[np.ndarray]:
    """The column `key` of an exported dataset, one float64 array per episode in episode order."""
    table = pq.read_table(sorted((root / "data").rglob("*.parquet")))
    values = np.stack(table[key].to_numpy(zero_copy_only=False)).astype(np.float64)
    index = table["episode_index"].to_numpy()
    return [values[index == e] for e in sorted(set(index.tolist()))]


def _names(root: Path, key: str) -> list[str]:
    return json.loads((root / "meta" / "info.json").read_text())["features"][key]["names"]


def test_the_catalog_says_every_array_episode_has_a_canonical_action(corpus: SimpleNamespace) -> None:
    rows = run_query(corpus.root, "SELECT dataset, action_kind, embodiment, tier FROM episodes").to_pylist()
    assert len(rows) == len(FILES) * len(LENGTHS)
    want = {"isaaclab": "franka", "libero": "robosuite_panda", "robomimic": "robosuite_panda"}
    for r in rows:
        assert (
            r["action_kind"] == "canonical"
            and r["embodiment"] == want[r["dataset"].split("/")[1]]
            and r["tier"] != "actionless"
        ), r


def test_isaac_lab_ik_rel_natives_are_the_command_accumulated_at_10_hz(corpus: SimpleNamespace) -> None:
    ds = corpus.exported["isaaclab"]
    names = _names(ds, ACTION_NATIVE)
    cols = [names.index(f"actions.{i}") for i in range(7)]
    episodes = _episodes(ds, ACTION_NATIVE)
    assert len(episodes) == len(LENGTHS)
    per = RATE // 10  # raw rows per 10 Hz frame
    for exported, (demo, raw) in zip(episodes, sorted(corpus.commands["isaaclab"].items()), strict=True):
        got = exported[:, cols]
        frames = len(got)
        assert frames == math.ceil(len(raw) / per)
        raw = raw.astype(np.float64)
        # frame k holds what the command moved over [k/10, (k+1)/10): raw rows 2k and 2k+1 (the last frame: the rest)
        want = np.stack([raw[per * k : per * (k + 1) if k < frames - 1 else None, :6].sum(0) for k in range(frames)])
        np.testing.assert_allclose(got[:, :6], want, atol=1e-5)
        np.testing.assert_allclose(got[:, :6].sum(0), raw[:, :6].sum(0), atol=1e-4)  # the file's sums kept
        sampled = raw[::per, :6].sum(0)  # what decimation kept: about half of the motion
        assert np.all(np.abs(sampled) < 0.7 * np.abs(raw[:, :6].sum(0)) + 1e-3), (demo, sampled, raw[:, :6].sum(0))
        np.testing.assert_array_equal(got[:, 6], raw[::per, 6])  # the binary gripper is absolute: sampled
        assert got[:, :6].std(0).min() > 0  # every commanded axis moves


@pytest.mark.parametrize("source", sorted(FILES))
def test_the_canonical_action_is_the_recorded_end_effector_motion(corpus: SimpleNamespace, source: str) -> None:
    ds = corpus.exported[source]
    info = json.loads((ds / "meta" / "info.json").read_text())
    assert info["features"][ACTION]["info"].get("from") != ACTION_NATIVE  # the canonical action, not the natives
    states, actions = _episodes(ds, STATE), _episodes(ds, ACTION)
    right, left = hand_dims(1, WRIST_POS), hand_dims(0, slice(0, 25))
    for state, action, (_, (_, pos, rot, _)) in zip(
        states, actions, sorted(corpus.motions[source].items()), strict=True
    ):
        rows = np.arange(len(state)) * (RATE // 10)  # the 10 Hz frames of 20 Hz rows
        z = rot[rows].as_matrix()[:, :, 2]
        wrist = state[:, right]
        # the wrist (flange) is the recorded TCP / grip site moved the embodiment's offset back along the approach axis
        np.testing.assert_allclose(wrist, pos[rows] - TCP[source] * z, atol=1e-4)
        np.testing.assert_allclose(np.linalg.norm(wrist - pos[rows], axis=1), TCP[source], atol=1e-4)
        # the action's wrist translation is that wrist's motion to the next frame (none after the last)
        np.testing.assert_allclose(action[:-1, right], np.diff(wrist, axis=0), atol=1e-4)
        np.testing.assert_allclose(action[-1, right], 0.0, atol=1e-6)
        assert np.abs(action[:, right]).max() > 1e-3 and np.all(action[:, left] == 0.0)  # moves; one hand only
        g = action[:, hand_dims(1, GRIPPER)][:, 0]
        assert g[-1] > g[0]  # the fingers part over the demo: the opening rises


@pytest.mark.slow
@pytest.mark.oracle
@pytest.mark.parametrize("source", ["isaaclab", "libero"])
def test_lerobot_train_trains_on_the_export(corpus: SimpleNamespace, run_oracle_v30, source: str) -> None:
    from tests.jobs.export.lerobot_v3.test_clients import TRAIN_ARGS

    ds = corpus.exported[source]
    args = [a for a in TRAIN_ARGS if not a.startswith("--steps")] + [f"--steps={TRAIN_STEPS}"]
    run = run_oracle_v30("train", ds, "--out", corpus.tmp / f"runs_{source}", "--", *args, timeout=600)[str(ds)]
    assert run["ok"], (run.get("error"), run.get("where"))
    assert len(run["losses"]) == TRAIN_STEPS and all(math.isfinite(v) for v in run["losses"]), run


def test_a_real_isaac_lab_recording_exports_its_accumulated_command(tmp_path: Path) -> None:
    """The real teleoperated stack demonstrations (no cameras: exported with `--cameras none`'s equivalent, the dataset
    has none): canonical action kind, an `action` that moves, `action.native` summing to the file's commands."""
    path = realdata(ISAACLAB)
    if path is None:
        pytest.skip(f"real sample absent: {ISAACLAB_FROM}")
    adapter, root = get_adapter("arrays"), tmp_path / "corpus"
    refs = list(adapter.discover(path.parent))
    for ref in refs:
        kept, why = ingest(adapter.read(ref), CanonicalizeSpec(), root / dataset_dir("isaaclab", ref.subset))
        assert kept, why
    rebuild_catalog(Corpus(root))
    kinds = run_query(root, "SELECT action_kind FROM episodes").column("action_kind").to_pylist()
    assert kinds == ["canonical"] * len(refs)
    results = export_corpus(root, tmp_path / "out")
    (name,) = results
    assert results[name][0] == "written", results
    ds = tmp_path / "out" / name
    names = _names(ds, ACTION_NATIVE)
    cols = [names.index(f"actions.{i}") for i in range(6)]
    with h5py.File(path) as f:
        demos = sorted(f["data"], key=lambda d: int(d.split("_")[1]))
        sums = [f["data"][d]["actions"][:, :6].astype(np.float64).sum(0) for d in demos]
    exported = _episodes(ds, ACTION_NATIVE)
    assert len(exported) == len(sums) == 10
    for native, want in zip(exported, sums, strict=True):
        np.testing.assert_allclose(native[:, cols].sum(0), want, atol=1e-3)
    action = np.concatenate(_episodes(ds, ACTION))
    assert action[:, hand_dims(1, WRIST_POS)].std(0).min() > 1e-3  # the canonical action moves
