"""Declared MANO hands (`HandTrack.mano`) evaluated into MANO-21 keypoints, so the licensed model and smplx stay out of
the adapters. The evaluation is the one `adapters/hot3d/adapter.py` documents from the maker's loaders: `global_orient`
= the wrist rotation as axis-angle, `transl` = the wrist translation, the PCA hand pose with the mean added, one
`betas`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, HandSignals, HandTrack, ManoParams, RawEpisode, Stream
from ingest.canonical.mano.convert import MANOModelError
from ingest.canonical.mano.model import ManoHand
from schemas.canonical import MANO21_NAMES

SIDES = ("left", "right")  # hand index 0, 1 (`HandSignals.hands`)


def mano_hands(raw: RawEpisode) -> HandSignals:
    """`raw.hands` with each declared MANO hand's keypoints filled in, as a new `HandSignals` (`raw` is not changed);
    `raw.hands` itself when no hand declares MANO parameters. A model that cannot be loaded is an `AdapterError`
    naming the model folder, the episode and the field `mano_model_dir`, as when the adapter loaded it."""
    if not any(t.mano is not None for t in raw.hands.hands.values()):
        return raw.hands
    hands = {h: t if t.mano is None else _evaluated(raw, SIDES[h], t.mano, t) for h, t in raw.hands.hands.items()}
    return dataclasses.replace(raw.hands, hands=hands)


def _evaluated(raw: RawEpisode, side: str, mano: ManoParams, track: HandTrack) -> HandTrack:
    model_dir = Path(mano.model_dir)
    try:
        layer = ManoHand.load(model_dir, side, num_pca_comps=mano.num_pca_comps, tips=mano.tips)  # type: ignore[arg-type]
    except (OSError, MANOModelError, ValueError) as e:
        raise AdapterError(
            f"MANO {side} model: {e}",
            adapter=raw.ref.adapter,
            file=model_dir,
            episode=raw.ref.raw_id,
            field="mano_model_dir",
        ) from e
    wrist = mano.wrist.values
    rotvec = Rotation.from_matrix(wrist[:, :3, :3]).as_rotvec()
    kp = layer.keypoints(rotvec, mano.pose.values, mano.betas, wrist[:, :3, 3])
    keypoints = Stream(mano.wrist.timestamps, kp, names=MANO21_NAMES, unit="m", frame=mano.wrist.frame)
    return dataclasses.replace(track, keypoints=keypoints)
