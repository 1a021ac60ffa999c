"""eidata's OXE reading against Octo's own standardization (issue 76 item 2): `tests/oracle/octo_oxe_oracle.py` runs
octo-models/octo@241fb35's `OXE_STANDARDIZATION_TRANSFORMS` (read through dlimp, as Octo reads) in `.venv-oracle-octo`
on the same builder directories the `oxe` adapter reads: the real Bridge shard, and RLDS shards written in each mapped
subset's layout (`adapters.synthetic.rlds`, TFDS's feature structure per subset).

Per episode and frame, for every subset whose row maps a canonical wrist:
- wrist position = Octo's proprio[:, :3], bit for bit;
- wrist rotation = Octo's proprio rotation (the columns after the position: 3 angles, 4 quaternion values), as
  rotation matrices (the subset's reference rotation D undone: Bridge stores R_ee·Dᵀ), to 1e-6. Both sides read
  them with the row's convention (fixed-axis xyz or zxy Euler, scalar-last quaternion, rotation vector; Octo passes the
  numbers on uninterpreted, and labels bc_z's axis-angle POS_EULER): this proves the slices, the rows cite the
  conventions;
- gripper = Octo's proprio[:, -1] (its "gripper open/close" column, ProprioEncoding) through one of the three
  readings `adapters.oxe.hands` applies (as is, 1 - v, width / 0.08 m), over the frames where eidata's opening
  is not clipped; where Octo's proprio is the joints (JOINT: viola, BUDS, MUTEX) only the gripper and the action
  are compared;
- action: Octo's action[:, :6] = eidata's delta action streams (`action_encoding.relative`, in order; a row that
  settles none, as robocook's velocities, is not compared), or, where
  Octo relabels them from the state (Bridge: `relabel_actions`, one step fewer), the state's frame-to-frame change
  as eidata reads the state. The gripper action is not compared: Octo's is the command made absolute, eidata's
  canonical one the measured opening at t+1 (`ingest.canonical.hand_state.action_from_state`); the command is kept
  among the natives.

For every JOINT row whose joints go to forward kinematics (`joint_fk`: toto, iamlab, play fusion, and viola, BUDS,
MUTEX beside their pose): the joint column eidata sends to FK = Octo's proprio joints, the column Octo appends as its
gripper = the native eidata keeps under that name, Octo's gripper action = the column the row names (toto's
open_gripper, iamlab's action[7]; play fusion's is its terminate flag, which is why the row reads no gripper), and
the delta actions as above, bit for bit.

Where eidata departs from Octo it follows the data's makers, and the departure is asserted here with its citation
(`DEPARTS`), so it cannot change silently.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import RawEpisode
from adapters.oxe.hands import FRANKA_MAX_WIDTH_M
from adapters.oxe.subsets import SUBSETS, OXESubset
from adapters.registry import get_adapter
from adapters.synthetic.rlds import write_rlds
from tests.needs import tool_missing
from tests.realdata import REPO, realdata

ORACLE_PY = REPO / ".venv-oracle-octo" / "bin" / "python"
MAPPED = sorted(n for n, s in SUBSETS.items() if s.octo is not None and s.has_wrist)
JOINT_FK = sorted(n for n, s in SUBSETS.items() if s.octo is not None and s.octo.proprio == "JOINT" and s.joint_fk)
ROT_PARTS = (":eef_rpy", ":eef_euler", ":tcp_euler")
# Octo's reading that eidata does not follow, with the makers' word, as each row records it (`OctoEntry.departs`;
# checked: the frames differ there, and nowhere else): taco_play's gripper, austin_sailor's pose (state_ee) and
# gripper, austin_sirius' pose and gripper
DEPARTS = {
    (name, part): why
    for name, cfg in SUBSETS.items()
    if cfg.octo is not None
    for part, why in cfg.octo.departs.items()
    if part in ("position", "rotation", "gripper", "action")  # the numbers compared here, not their reading
}


def octo(builder_dir: Path, name: str, out: Path, split: str = "train") -> dict[str, np.ndarray]:
    """Octo's standardized episodes of `builder_dir` (its transform for dataset `name`)."""
    if not ORACLE_PY.exists():
        tool_missing("Octo's oracle environment", "make oracle-octo (.venv-oracle-octo)")
    maker = realdata("octo_maker_code")
    script = REPO / "tests" / "oracle" / "octo_oxe_oracle.py"
    cmd = [str(ORACLE_PY), str(script), str(maker), str(builder_dir), name, split, str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"octo oracle failed:\n{proc.stderr[-6000:]}"
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


# The row's rotation part, in the precedence `adapters.oxe.hands` reads it, and how its values read as rotations
ROTATIONS = {
    "eef_quat": (4, Rotation.from_quat),
    "eef_axis_angle": (3, Rotation.from_rotvec),
    "eef_euler_zxy": (3, lambda v: Rotation.from_euler("zxy", v)),  # DLR's scipy as_euler("zxy")
    "eef_matrix": (4, Rotation.from_quat),  # eidata reads a matrix; Octo's POS_QUAT proprio holds a quaternion there
    **{name: (3, lambda v: Rotation.from_euler("xyz", v)) for name in ("eef_rpy", "eef_euler", "tcp_euler")},
}


def _rotation(values: np.ndarray, cfg: OXESubset) -> Rotation:
    """Octo's proprio rotation, the columns after the position, read with the row's convention."""
    parts = {p.name for s in cfg.states for p in s.parts}
    width, read = next(ROTATIONS[name] for name in ROTATIONS if name in parts)
    return read(values[:, 3 : 3 + width].astype(np.float64))


def _readings(v: np.ndarray) -> list[np.ndarray]:
    """The openings `adapters.oxe.hands` may make of a native gripper column."""
    v = v.astype(np.float64)
    return [np.clip(v, 0, 1), np.clip(1 - v, 0, 1), np.clip(v / FRANKA_MAX_WIDTH_M, 0, 1)]


def mismatches(raw: RawEpisode, cfg: OXESubset, proprio: np.ndarray, action: np.ndarray) -> dict[str, int]:
    """Frames where eidata's reading of one episode differs from Octo's, per part."""
    assert cfg.octo is not None
    track = raw.hands.hands[1]
    n = len(proprio)  # Octo's relabel_actions drops the last step (no next state): compared over Octo's frames
    pos = track.position.values
    out: dict[str, int] = {}
    if cfg.octo.proprio in ("POS_EULER", "POS_QUAT"):  # Octo's proprio holds a pose (JOINT: the joints, no pose)
        rot = track.rotation.values[:n].astype(np.float64)
        r_eidata = Rotation.from_quat(rot) if track.rotation.unit == "quat_xyzw" else Rotation.from_euler("xyz", rot)
        if cfg.eef_reference_rotation is not None:
            r_eidata = r_eidata * Rotation.from_matrix(np.asarray(cfg.eef_reference_rotation)).inv()
        r_octo = _rotation(proprio, cfg)
        out["position"] = int(np.sum(np.any(pos[:n] != proprio[:, :3], axis=1)))
        out["rotation"] = int(np.sum(np.abs(r_eidata.as_matrix() - r_octo.as_matrix()).max(axis=(1, 2)) > 1e-6))
    if track.gripper is not None:  # over the frames where eidata's opening is not clipped (a reading is invertible)
        g = track.gripper.values[:n].astype(np.float64)
        free = (g > 1e-6) & (g < 1 - 1e-6)
        out["gripper_frames"] = int(free.sum())  # the frames the gripper check reads (must not be none)
        out["gripper"] = min(int(np.sum((np.abs(g - r) > 1e-6) & free)) for r in _readings(proprio[:, -1]))
    if len(action) == len(pos) - 1:  # Octo relabels the movement from the state (relabel_actions)
        [rot_key] = [k for k in raw.states if k.endswith(ROT_PARTS)]
        state = np.concatenate([pos, raw.states[rot_key].values], axis=1)
        out["action"] = int(np.sum(np.any((state[1:] - state[:-1])[:n] != action[:, :6], axis=1)))
        return out
    return out | action_mismatches(raw, cfg, action)


def action_mismatches(raw: RawEpisode, cfg: OXESubset, action: np.ndarray) -> dict[str, int]:
    """Frames where eidata's delta action streams (`action_encoding.relative`, in order) differ from Octo's first
    action columns; none compared where the row settles no delta (robocook's velocities, asu's unstated action)."""
    if cfg.action_encoding is None or not cfg.action_encoding.relative:
        return {}
    n = len(action)
    ours = np.concatenate([raw.actions[k].values.reshape(n, -1) for k in cfg.action_encoding.relative], 1)
    return {"action": int(np.sum(np.any(ours != action[:, : ours.shape[1]], axis=1)))}  # Octo pads what a set lacks


# Octo's JOINT proprio: the recorded joints, then (where its transform appends one) a state column it calls the
# gripper, read from each transform (octo-models/octo@241fb35 oxe_standardization_transforms.py)
OCTO_PROPRIO_GRIPPER = {
    "viola": "observation/gripper_states:gripper_width",  # :232-237 joint_states, gripper_states
    "austin_buds_dataset_converted_externally_to_rlds": "observation/state:gripper_pos",  # :393 state[:, :8]
    "utaustin_mutex": "observation/state:gripper_pos",  # :792 state[:, :8]
    "iamlab_cmu_pickup_insert_converted_externally_to_rlds": "observation/state:gripper_status",  # :755-760
    "cmu_play_fusion": "observation/state:gripper_pos",  # :843 state
    "toto": None,  # :280 state, the 7 joints only
    "ucsd_kitchen_dataset_converted_externally_to_rlds": None,  # :470 state[:, :7], the xArm 7's joints only
    "roboset": "observation/state:gripper",  # :929 state: qp_arm, then qp_ee (the Robotiq's driver joint)
}
# Octo's gripper action, its last column, per row whose joint_fk reads the gripper from an action column or says why
# it reads none: the column of eidata's natives it equals (toto :276 open_gripper cast; iamlab :750 action[7:8];
# play fusion :836-841 action[:, -4:], whose last column is the terminate flag, the reason joint_fk gives; ucsd_kitchen
# action[6], whose sign no maker states, the reason its joint_fk gives)
OCTO_GRIPPER_ACTION = {
    "toto": "action/open_gripper",
    "iamlab_cmu_pickup_insert_converted_externally_to_rlds": "action:gripper",
    "cmu_play_fusion": "action:terminate",
    "ucsd_kitchen_dataset_converted_externally_to_rlds": "action:gripper",  # :469 action[..., :-1], its last: [6]
}


def joint_mismatches(raw: RawEpisode, cfg: OXESubset, proprio: np.ndarray, action: np.ndarray) -> dict[str, int]:
    """Frames where a JOINT row's natives differ from Octo's proprio (the joints `joint_fk` sends to forward
    kinematics, the column Octo appends as the gripper) and gripper action, and its delta actions."""
    assert cfg.joint_fk is not None
    joints = raw.states[cfg.joint_fk.joints[0]].values
    out = {"joints": int(np.sum(np.any(joints != proprio[:, : joints.shape[1]], axis=1)))}
    if (column := OCTO_PROPRIO_GRIPPER[cfg.name]) is not None:
        values = raw.states[column].values.reshape(len(proprio), -1)[:, 0]
        out["proprio_gripper"] = int(np.sum(values != proprio[:, joints.shape[1]]))
    else:
        assert proprio.shape[1] == joints.shape[1], proprio.shape
    if (command := OCTO_GRIPPER_ACTION.get(cfg.name)) is not None:
        values = raw.actions[command].values.reshape(len(action), -1)[:, 0].astype(np.float32)
        out["gripper_action"] = int(np.sum(values != action[:, -1]))
    return out | action_mismatches(raw, cfg, action)


def _compare(root: Path, name: str, tmp: Path, joints: bool = False) -> tuple[dict[str, int], int]:
    """Mismatch counts per part over the train split of the one builder under `root`, and its frame count. Octo
    names a dataset as TFDS does, by its builder's name (the folder above the version)."""
    cfg = SUBSETS[name]
    [builder] = {p.parent for p in root.rglob("features.json")}
    got = octo(builder, builder.parent.name, tmp / "octo.npz")
    a = get_adapter("oxe", {"splits": ["train"]})
    refs = [r for r in a.discover(root) if r.error is None]
    assert refs and all(f"proprio_{i}" in got for i in range(len(refs)))
    total: dict[str, int] = {}
    frames = 0
    for i, ref in enumerate(refs):
        raw = a.read(ref)
        compare = joint_mismatches if joints else mismatches
        for part, n in compare(raw, cfg, got[f"proprio_{i}"], got[f"action_{i}"]).items():
            total[part] = total.get(part, 0) + n
        frames += len(got[f"proprio_{i}"])
    assert set(got["names"]) <= {n for s in SUBSETS.values() for n in (s.name, *s.aliases)}
    return total, frames


@pytest.mark.parametrize("subset", MAPPED)
def test_eidata_reads_what_octo_reads(tmp_path: Path, subset: str) -> None:
    write_rlds(tmp_path / "data", subset, episodes={"train": 3}, steps=12, seed=7)
    total, frames = _compare(tmp_path / "data", subset, tmp_path)
    cfg = SUBSETS[subset]
    # Octo's pose proprio (NONE: uiuc_d3field's zeros, no pose to compare; JOINT: the joints)
    enc, octo_pose = cfg.action_encoding, cfg.octo is not None and cfg.octo.proprio in ("POS_EULER", "POS_QUAT")
    compared = ({"position", "rotation"} if octo_pose else set()) | ({"action"} if enc and enc.relative else set())
    assert frames >= 30 and set(total) >= compared and total.get("gripper_frames", 1) > 0, total
    for part, n in total.items():
        if part == "gripper_frames":
            continue
        departs = (subset, part) in DEPARTS  # a different column: the frames differ
        assert (n > 0) if departs else (n == 0), (subset, part, total, DEPARTS.get((subset, part)))


@pytest.mark.parametrize("subset", JOINT_FK)
def test_joint_rows_read_what_octo_reads(tmp_path: Path, subset: str) -> None:
    """Rows whose state holds a described robot's joints (`joint_fk`): the joints eidata sends to forward kinematics
    are Octo's JOINT proprio, frame for frame, and so are the column Octo appends as its gripper, its gripper action
    and its delta actions: 0 mismatches."""
    write_rlds(tmp_path / "data", subset, episodes={"train": 3}, steps=12, seed=7)
    total, frames = _compare(tmp_path / "data", subset, tmp_path, joints=True)
    expected = {"joints"} | ({"proprio_gripper"} if OCTO_PROPRIO_GRIPPER[subset] else set())
    expected |= {"gripper_action"} if subset in OCTO_GRIPPER_ACTION else set()
    enc = SUBSETS[subset].action_encoding
    expected |= {"action"} if enc is not None and enc.relative else set()
    assert frames >= 30 and set(total) == expected, total
    assert all(n == 0 for n in total.values()), (subset, total)


# Rows whose wrist comes from FK of the joints while Octo's proprio is the recorded pose (POS_EULER): the natives
# eidata keeps that make Octo's proprio and action, in order (tokyo_lsmo_dataset_transform :683-691: state[:, :6],
# state[:, -1:]; the action untouched)
OCTO_POSE_NATIVES = {
    "tokyo_u_lsmo_converted_externally_to_rlds": (
        ("observation/state:ee_position", "observation/state:ee_euler_zyx", "observation/state:gripper_reading"),
        ("action:ee_xyz", "action:ee_euler", "action:gripper"),
    ),
    # berkeley_mvp_dataset_transform :599-617: pose, gripper as float; the action's joint deltas (its gripper inverted)
    "berkeley_mvp_converted_externally_to_rlds": (
        ("observation/pose:pose_xyz", "observation/pose:pose_quat", "observation/gripper"),
        ("action:joint_deltas",),
    ),
    # maniskill_dataset_transform :422-430: tcp_pose, state[:, 7:8]; the action untouched
    "maniskill_dataset_converted_externally_to_rlds": (
        ("observation/tcp_pose:world_xyz", "observation/tcp_pose:world_quat", "observation/state:finger_left"),
        ("action:delta_xyz", "action:delta_axis_angle", "action:gripper"),
    ),
}
# (the two-arm JOINT_BIMANUAL rows, ALOHA's, keep Octo's proprio, their whole state, as it is: not compared here)
POSE_FK = sorted(
    n
    for n, s in SUBSETS.items()
    if s.octo is not None and s.octo.proprio not in ("JOINT", "JOINT_BIMANUAL") and s.fk_wrist
)


@pytest.mark.parametrize("subset", POSE_FK)
def test_fk_rows_keep_octos_pose_proprio_among_the_natives(tmp_path: Path, subset: str) -> None:
    """A row that builds its wrist from the joints where Octo reads the recorded pose (tokyo_u_lsmo: the pose is in
    another base than the robot's, test_cobotta.py) keeps Octo's proprio and action columns as natives, frame for
    frame: 0 mismatches."""
    write_rlds(tmp_path / "data", subset, episodes={"train": 3}, steps=12, seed=7)
    [builder] = {p.parent for p in (tmp_path / "data").rglob("features.json")}
    got = octo(builder, builder.parent.name, tmp_path / "octo.npz")
    a = get_adapter("oxe", {"splits": ["train"]})
    refs = [r for r in a.discover(tmp_path / "data") if r.error is None]
    states, actions = OCTO_POSE_NATIVES[subset]
    frames = bad = 0
    for i, ref in enumerate(refs):
        raw = a.read(ref)
        n = len(got[f"proprio_{i}"])
        ours = np.concatenate([raw.states[k].values.reshape(n, -1) for k in states], axis=1)
        cmd = np.concatenate([raw.actions[k].values.reshape(n, -1) for k in actions], axis=1)
        bad += int(np.sum(np.any(ours != got[f"proprio_{i}"], axis=1)))
        bad += int(np.sum(np.any(cmd != got[f"action_{i}"][:, : cmd.shape[1]], axis=1)))
        frames += n
    assert frames >= 30 and bad == 0, (subset, frames, bad)


def test_the_real_bridge_shard_reads_as_octo_reads_it(tmp_path: Path) -> None:
    """Octo's debug Bridge shard, the bytes Octo's own tests read: 25 episodes of 10 steps, 225 frames once Octo's
    relabel_actions drops each last step, 0 mismatches."""
    total, frames = _compare(realdata("octo_bridge_debug_rlds"), "bridge", tmp_path)
    assert frames == 225 and total.pop("gripper_frames") > 0, total
    assert total == {"position": 0, "rotation": 0, "gripper": 0, "action": 0}, total


def test_every_dataset_in_octos_table_has_a_row_with_octos_encoding(tmp_path: Path) -> None:
    """subsets.yaml covers Octo's OXE_DATASET_CONFIGS (read from the maker's code, not a copy), each row's `octo`
    proprio encoding as Octo's table gives it."""
    write_rlds(tmp_path / "data", "bridge", episodes={"train": 1}, seed=1)
    [builder] = {p.parent for p in (tmp_path / "data").rglob("features.json")}
    got = octo(builder, "bridge_dataset", tmp_path / "octo.npz")
    by_name = {n: s for s in SUBSETS.values() for n in (s.name, *s.aliases)}
    missing = sorted(set(got["names"]) - set(by_name))
    assert not missing, missing
    for name, encoding in zip(got["names"], got["proprio_encodings"], strict=True):
        cfg = by_name[str(name)]
        assert cfg.octo is not None and cfg.octo.proprio == str(encoding), name


TWO_ARMS = sorted(n for n, s in SUBSETS.items() if s.octo is not None and s.octo.proprio == "JOINT_BIMANUAL")


@pytest.mark.parametrize("subset", TWO_ARMS)
def test_two_arm_rows_read_what_octo_reads(tmp_path: Path, subset: str) -> None:
    """ALOHA's rows: each arm's joints and gripper, the columns eidata sends to forward kinematics, in the row's arm
    order, are Octo's JOINT_BIMANUAL proprio, and the action's columns in the row's order its JOINT_POS_BIMANUAL(_NAV)
    action, at the frames Octo keeps (aloha_dataset_transform :900-906 keeps every 5th): 0 mismatches."""
    write_rlds(tmp_path / "data", subset, episodes={"train": 3}, steps=40, seed=7)
    [builder] = {p.parent for p in (tmp_path / "data").rglob("features.json")}
    got = octo(builder, builder.parent.name, tmp_path / "octo.npz")
    cfg = SUBSETS[subset]
    assert cfg.joint_fk is not None
    columns = [c for pair in zip(cfg.joint_fk.joints, cfg.joint_fk.gripper, strict=True) for c in pair]
    [action] = cfg.actions
    a = get_adapter("oxe", {"splits": ["train"]})
    refs = [r for r in a.discover(tmp_path / "data") if r.error is None]
    frames = bad = 0
    for i, ref in enumerate(refs):
        raw = a.read(ref)
        flat = lambda s: s.values.reshape(len(s), -1)  # noqa: E731
        state = np.concatenate([flat(raw.states[c]) for c in columns], axis=1)[::5]
        acts = np.concatenate([flat(raw.actions[f"action:{p.name}"]) for p in action.parts], axis=1)[::5]
        proprio, octo_action = got[f"proprio_{i}"], got[f"action_{i}"]
        assert state.shape == proprio.shape and acts.shape == octo_action.shape, (state.shape, proprio.shape)
        bad += int(np.sum(np.any(state != proprio, axis=1)) + np.sum(np.any(acts != octo_action, axis=1)))
        frames += len(proprio)
    assert frames >= 20 and bad == 0, (subset, frames, bad)
