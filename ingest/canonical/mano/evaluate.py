"""Declared MANO hands (`HandTrack.mano`) evaluated into MANO-21 keypoints, so the licensed model and smplx stay out of
the adapters. One path for every form a maker ships (`schemas.mano`): the pose is converted to the whole
articulation in axis-angle (`forms.articulation`), posed at identity global orientation on a `flat_hand_mean` layer,
then mirrored (a left hand on MANO_RIGHT), turned about the wrist joint and moved to it (`forms.place`). For HOT3D
this is the maker's smplx recipe (`adapters/hot3d/adapter.py`); for VITRA its `process_single_hand_labels`.

A track that gives keypoints too (VITRA's joints) keeps them: they are the truth, and the MANO keypoints are measured
against them, the largest joint distance and bone-length difference said in the hands' notes (the lineage).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from adapters.base import AdapterError, HandSignals, HandTrack, ManoParams, RawEpisode, Stream
from ingest.canonical.mano.convert import MANOModelError
from ingest.canonical.mano.forms import articulation, place
from ingest.canonical.mano.model import ManoHand
from schemas.canonical import MANO21_NAMES, bone_lengths

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
