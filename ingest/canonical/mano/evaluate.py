"""Declared MANO hands (`HandTrack.mano`) evaluated into MANO-21 keypoints, so the licensed model and smplx stay out of
the adapters. One path for every form a maker ships (`schemas.mano`): the pose is converted to the whole
articulation in axis-angle (`articulation`), posed at identity global orientation on a `flat_hand_mean` layer,
then mirrored (a left hand on MANO_RIGHT), turned about the wrist joint and moved to it (`place`). For HOT3D
this is the maker's smplx recipe (`adapters/hot3d/adapter.py`); for VITRA its `process_single_hand_labels`.

A track that gives keypoints too (VITRA's joints) keeps them: they are the truth, and the MANO keypoints are measured
against them, the largest joint distance and bone-length difference said in the hands' notes (the lineage).

Every form a maker ships a MANO hand pose in (`schemas.mano`), to the one the MANO layer takes here: the
full articulation as 45 axis-angle values (the mean pose already added), fed to a `flat_hand_mean` layer. Pure
functions of arrays; the evaluation above is their one caller at ingest (the tests hold the inverse).

The mean is added in axis-angle space, as smplx adds `pose_mean` to the axis-angle pose before Rodrigues
(vchoutas/smplx@1265df7:smplx/body_models.py:1683-1688), whatever the form it came in.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, HandSignals, HandTrack, ManoParams, RawEpisode, Stream
from ingest.canonical.mano.convert import MANOModelError
from ingest.canonical.mano.model import ManoHand
from schemas.canonical import MANO21_NAMES, bone_lengths
from schemas.mano import ManoConvention

MIRROR_X = np.array([-1.0, 1.0, 1.0])  # a right hand's points mirrored into a left hand's (VITRA's x flip)


def rotmat_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, angles in [0, pi]."""
    rot = np.asarray(rot, np.float64)
    return Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(*rot.shape[:-2], 3)


def quat_wxyz_to_rotmat(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3)."""
    q = np.asarray(q, np.float64)
    return Rotation.from_quat(q.reshape(-1, 4), scalar_first=True).as_matrix().reshape(*q.shape[:-1], 3, 3)


def articulation(pose: np.ndarray, conv: ManoConvention, components: np.ndarray, hands_mean: np.ndarray) -> np.ndarray:
    """(T, ...) a hand pose in `conv`'s form -> (T, 45) the whole articulation in axis-angle (mean added unless the
    pose is `flat_hand_mean`). `components` (>= k, 45) and `hands_mean` (45,) are the model's own."""
    pose = np.asarray(pose, np.float64)
    want = conv.row_shape()
    if pose.ndim != 1 + len(want) or pose.shape[1:] != want:
        raise ValueError(f"{conv.form} hand pose: shape {pose.shape}, expected (T, {', '.join(map(str, want))})")
    n = len(pose)
    if conv.form == "pca":
        aa = pose @ np.asarray(components, np.float64)[: conv.num_pca_comps]
    elif conv.form == "axis_angle":
        aa = pose
    elif conv.form == "rotmat":
        aa = rotmat_to_axis_angle(pose).reshape(n, -1)
    else:
        aa = rotmat_to_axis_angle(quat_wxyz_to_rotmat(pose)).reshape(n, -1)
    return aa if conv.flat_hand_mean else aa + np.asarray(hands_mean, np.float64)


def place(local: np.ndarray, wrist: np.ndarray, rest_wrist: np.ndarray, conv: ManoConvention) -> np.ndarray:
    """Posed points relative to the wrist joint (T, P, 3), at identity global orientation, -> the source's frame:
    mirrored across x for a left hand given on MANO_RIGHT, turned by the wrist rotation about the wrist joint, and
    moved to the wrist joint, which is the wrist stream's translation (`wrist_at` "joint") or MANO's rest wrist
    joint J0(betas) plus it (`wrist_at` "transl", smplx's `transl`). `wrist` (T, 4, 4), `rest_wrist` (T, 3)."""
    local = np.asarray(local, np.float64) * (MIRROR_X if conv.left_on_right else 1.0)
    origin = wrist[:, :3, 3] + (0.0 if conv.wrist_at == "joint" else rest_wrist)
    return np.einsum("tij,tpj->tpi", wrist[:, :3, :3], local) + origin[:, None]


SIDES = ("left", "right")  # hand index 0, 1 (`HandSignals.hands`)


def mano_hands(raw: RawEpisode) -> HandSignals:
    """`raw.hands` with each declared MANO hand's keypoints filled in, as a new `HandSignals` (`raw` is not changed);
    `raw.hands` itself when no hand declares MANO parameters. A model that cannot be loaded is an `AdapterError`
    naming the model folder, the episode and the field `mano_model_dir`, as when the adapter loaded it."""
    if not any(t.mano is not None for t in raw.hands.hands.values()):
        return raw.hands
    notes = list(raw.hands.notes)
    hands = {}
    for h, t in raw.hands.hands.items():
        hands[h] = t if t.mano is None else _evaluated(raw, SIDES[h], t.mano, t, notes)
    return dataclasses.replace(raw.hands, hands=hands, notes=notes)


def _load(raw: RawEpisode, side: str, mano: ManoParams) -> ManoHand:
    model_dir = Path(mano.model_dir)
    try:
        conv = mano.convention
        return ManoHand.load(
            model_dir,
            side,  # type: ignore[arg-type]
            flat_hand_mean=True,
            tips=conv.tips,
            fix_left_shapedirs=conv.fix_left_shapedirs,
        )
    except (OSError, MANOModelError, ValueError) as e:
        raise AdapterError(
            f"MANO {side} model: {e}",
            adapter=raw.ref.adapter,
            file=model_dir,
            episode=raw.ref.raw_id,
            field="mano_model_dir",
        ) from e


def mano_keypoints(layer: ManoHand, mano: ManoParams) -> np.ndarray:
    """(T, 21, 3) keypoints of a declared MANO hand in its wrist stream's frame, or carried by `frame_pose` out of
    the moving frame the parameters were fitted in (NaN rows stay NaN)."""
    conv = mano.convention
    full = articulation(mano.pose.values, conv, *layer.basis)
    local = layer.keypoints(np.zeros((len(full), 3)), full, mano.betas)  # identity orientation, no translation
    rest_wrist = local[:, 0].copy()  # J0(betas): the wrist joint does not move under the hand pose
    kp = place(local - rest_wrist[:, None], mano.wrist.values.astype(np.float64), rest_wrist, conv)
    if mano.frame_pose is None:
        return kp
    pose = np.asarray(mano.frame_pose, np.float64)  # the fitting frame, per frame, in the signals' frame
    return np.einsum("tij,tpj->tpi", pose[:, :3, :3], kp) + pose[:, None, :3, 3]


def _evaluated(raw: RawEpisode, side: str, mano: ManoParams, track: HandTrack, notes: list[str]) -> HandTrack:
    layer = _load(raw, "right" if mano.convention.left_on_right else side, mano)
    kp = mano_keypoints(layer, mano)
    if track.keypoints is not None:
        notes.append(agreement(side, kp, track.keypoints.values))
        return track
    frame = mano.wrist.frame if mano.frame_pose is None else raw.hands.frame
    keypoints = Stream(mano.wrist.timestamps, kp, names=MANO21_NAMES, unit="m", frame=frame)
    return dataclasses.replace(track, keypoints=keypoints)


def agreement(side: str, mano_kp: np.ndarray, given: np.ndarray) -> str:
    """How far MANO keypoints lie from the source's own, over the frames where both are finite."""
    given = np.asarray(given, np.float64)
    ok = np.isfinite(mano_kp).all(axis=(1, 2)) & np.isfinite(given).all(axis=(1, 2))
    if not ok.any():
        return f"MANO {side} hand: no frame with both MANO and given keypoints to compare"
    dist = np.linalg.norm(mano_kp[ok] - given[ok], axis=-1).max()
    bones = np.abs(bone_lengths(mano_kp[ok]) - bone_lengths(given[ok])).max()
    return (
        f"MANO {side} hand checked against the source's keypoints (kept as the truth) on {int(ok.sum())} frames:"
        f" joints within {dist * 1000:.2f} mm, bone lengths within {bones * 1000:.2f} mm"
    )
