"""The OXE rows whose wrist is FK of recorded joints beside a recorded pose that is not read as the wrist (issue 87,
`joint_fk.recorded_pose`, `adapters.oxe.reference`), on shards in each row's TFDS layout, the pose columns holding
what the recorder writes for the recorded joints:

- berkeley_mvp (an xArm 7's joint_pos; a pose whose quaternion order TFDS does not state, the makers' builder writing
  scipy's scalar-last, ir413/rlds_dataset_builder@4def153): the pose the recorder would write (the flange by
  UFACTORY's DH table, then any constant tool) tells FK's motion on every frame; canonicalization reads it in the
  builder's order and says it agrees with FK, and disagrees for a copy written scalar-first or another motion's pose.
- maniskill (a Panda's qpos; ManiSkill2's world poses, haosulab/ManiSkill2@d04c2dc: tcp_pose and base_pose as SAPIEN
  [p, qw, qx, qy, qz]), the base off the world's origin and turned: the reference the adapter composes,
  base_pose⁻¹·tcp_pose, is the Franka Hand TCP (0.1034 m along the wrist's z, panda_v2.urdf) of eidata's FK wrist on
  every frame, and the note says they agree; read scalar-last it is not that frame; the TCP of the motion played
  backwards disagrees.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.spatial.transform import Rotation

from adapters.base import RawEpisode
from adapters.oxe.hands import fk_hand_signals
from adapters.oxe.subsets import SUBSETS, OXESubset
from adapters.registry import get_adapter
from adapters.synthetic.rlds import write_rlds
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.eef_agreement import fit_residuals
from ingest.canonical.joint_space import joint_space_hands
from schemas.robots.registry import default_registry
from tests.adapters.oxe.test_hands import HAND_TCP, franka_dh, modified_dh
from tests.ingest.kinematics.dh import trans
from tests.ingest.kinematics.test_dh import XARM7_MDH

MVP = "berkeley_mvp_converted_externally_to_rlds"
MANISKILL = "maniskill_dataset_converted_externally_to_rlds"


def _episode(tmp_path: Path, subset: str, steps: int = 40) -> RawEpisode:
    write_rlds(tmp_path, subset, episodes={"train": 1}, steps=steps, seed=11)
    a = get_adapter("oxe", {"splits": ["train"]})
    [raw] = [a.read(r) for r in a.discover(tmp_path) if r.error is None]
    return raw


def _fk(raw: RawEpisode) -> np.ndarray:
    """(T, 4, 4) the canonical right wrist canonicalization builds from the episode's joints."""
    hands = joint_space_hands(raw, default_registry().get(raw.embodiment))
    track = hands.signals.hands[1]
    assert track.rotation is not None and track.rotation.unit == "se3_4x4", hands.reasons
    return track.rotation.values.astype(np.float64)


def _with(raw: RawEpisode, columns: dict[str, np.ndarray]) -> RawEpisode:
    """The episode with `columns` replaced, its hand declaration (the references) made again from them."""
    states = {**raw.states, **{k: replace(raw.states[k], values=v.astype(np.float32)) for k, v in columns.items()}}
    return replace(raw, states=states, hands=fk_hand_signals(SUBSETS[raw.metadata["subset_config"]], states))


def _agreement(raw: RawEpisode) -> dict[str, str]:
    """reference label -> 'agree' / 'disagree', from the canonical episode's verdicts."""
    [ep] = canonicalize_spans(raw, source="oxe").episodes
    said = [v.reason for v in ep.verdicts if v.code == "canonical_fk_agreement"]
    return {r.split(" vs the ")[0].removeprefix("recorded "): r.split(": ")[1].split(",")[0] for r in said}


def test_the_fk_rows_keep_their_recorded_pose_natively() -> None:
    for subset in (MVP, MANISKILL):
        cfg = SUBSETS[subset]
        assert cfg.fk_wrist and not cfg.natives_reason, subset  # canonical by FK, the pose not read as the wrist
        assert cfg.joint_fk.recorded_pose is not None, subset
        assert {"position", "rotation"} <= set(cfg.octo.departs), subset  # octo's pose proprio is not eidata's wrist


def test_a_recorded_pose_must_name_columns_of_the_row() -> None:
    """The table refuses a recorded_pose whose columns are not the row's or not 3 / 4 values wide."""
    row = SUBSETS[MANISKILL].model_dump()
    ref = row["joint_fk"]["recorded_pose"]
    for bad in ({**ref, "xyz": ref["quat"]}, {**ref, "base_quat": "observation/nowhere:q"}):
        with pytest.raises(ValidationError, match=r"joint_fk\.recorded_pose names"):
            OXESubset.model_validate({**row, "joint_fk": {**row["joint_fk"], "recorded_pose": bad}})


def test_mvp_fk_against_the_recorded_pose_decides_its_quaternion_order(tmp_path: Path) -> None:
    raw = _episode(tmp_path, MVP)
    assert raw.hands.empty  # the pose is not declared as the wrist: the wrist is FK of joint_pos
    q = raw.states["observation/joint_pos"].values.astype(np.float64)
    fk = _fk(raw)
    tool = np.eye(4)
    tool[:3, :3], tool[:3, 3] = Rotation.from_rotvec([0.1, -0.2, 0.3]).as_matrix(), [0.0, 0.01, 0.17]
    pose = modified_dh(q, XARM7_MDH) @ tool  # the recorder's point: some constant tool past the flange
    rot, pos = fit_residuals(pose, fk)  # every frame, after the constant base and tool transforms
    assert rot.max() < 0.01 and pos.max() < 1e-4, (rot.max(), pos.max())
    xyzw = Rotation.from_matrix(pose[:, :3, :3]).as_quat()
    label = "observation/pose read xyzw"  # the makers' builder's order, the only one read
    for written, quat in (("agree", xyzw), ("disagree", np.roll(xyzw, 1, axis=1))):  # a copy written scalar-first
        cols = {"observation/pose:pose_xyz": pose[:, :3, 3], "observation/pose:pose_quat": quat}
        said = _agreement(_with(raw, cols))
        assert said == {label: written}, said
    backwards = {"observation/pose:pose_xyz": pose[::-1, :3, 3], "observation/pose:pose_quat": xyzw[::-1]}
    assert set(_agreement(_with(raw, backwards)).values()) == {"disagree"}  # another motion's pose: neither order


def _pose7(m: np.ndarray) -> np.ndarray:
    """(T, 4, 4) -> (T, 7) SAPIEN's [x, y, z, qw, qx, qy, qz] (vectorize_pose)."""
    return np.concatenate([m[:, :3, 3], np.roll(Rotation.from_matrix(m[:, :3, :3]).as_quat(), 1, axis=1)], axis=1)


def test_maniskill_fk_wrist_is_the_tcp_in_the_base_on_every_frame(tmp_path: Path) -> None:
    raw = _episode(tmp_path, MANISKILL)
    assert raw.hands.empty
    q = raw.states["observation/state:joints"].values.astype(np.float64)
    fk = _fk(raw)
    base = np.eye(4)  # the robot placed off the world's origin and turned, as a ManiSkill scene places it
    base[:3, :3], base[:3, 3] = Rotation.from_euler("z", 0.4).as_matrix(), [-0.615, 0.2, 0.0]
    bases = np.repeat(base[None], len(q), axis=0)
    base_pose = _pose7(bases)

    def world(tcp: np.ndarray) -> dict[str, np.ndarray]:  # the columns ManiSkill writes for a TCP in the base
        v = _pose7(bases @ tcp)
        return {
            "observation/tcp_pose:world_xyz": v[:, :3],
            "observation/tcp_pose:world_quat": v[:, 3:],
            "observation/base_pose:world_xyz": base_pose[:, :3],
            "observation/base_pose:world_quat": base_pose[:, 3:],
        }

    tcp = franka_dh(q) @ HAND_TCP  # the Franka Hand TCP by Franka's DH table
    both = _with(raw, world(tcp))
    [(hand, ref)] = both.hands.references.values()
    # eidata's wrist is panda_hand (the flange turned -pi/4): the TCP is 0.1034 m along its z, the frame the same
    assert hand == 1
    np.testing.assert_allclose(fk @ trans(0, 0, 0.1034), ref.values, atol=1e-5)  # position and rotation, every frame
    label = "observation/tcp_pose read wxyz, composed with observation/base_pose⁻¹"
    assert _agreement(both) == {label: "agree"}
    v = _pose7(bases @ tcp)
    scalar_last = Rotation.from_quat(v[:, 3:]).as_matrix()  # the same numbers read xyzw: not the TCP's frame
    assert np.abs(scalar_last - (bases @ tcp)[:, :3, :3]).max() > 0.1
    assert _agreement(_with(raw, world(tcp[::-1].copy()))) == {label: "disagree"}
