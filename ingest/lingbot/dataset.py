"""One canonical dataset as LingBot-VA post-training reads it: the 30-dim `action` feature, each episode's frame table
with that action, and segment texts. Pure functions of meta and tables; the export job does the I/O."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingest.lerobot.table import arrow_schema
from ingest.lingbot.action import lingbot_mask, to_lingbot_actions
from schemas.canonical import ACTION, ACTION_NAMES, CANONICAL_DIM, STATE, STATE_NAMES
from schemas.corpus import EpisodeLineage
from schemas.lerobot import ActionSegment, InfoJson
from schemas.lerobot_features import FeatureSpec
from schemas.lingbot import LAYOUT_NAME, LINGBOT_ACTION_DIM, LINGBOT_ACTION_NAMES, QUATERNION_ORDER


class NotCanonicalError(ValueError):
    """The dataset does not carry eidata's canonical state/action, so there is nothing to map."""


def dataset_mask(info: InfoJson) -> np.ndarray:
    """The 50-dim action mask `info.json` declares; raises for a dataset that is not canonical."""
    for key, names in ((STATE, STATE_NAMES), (ACTION, ACTION_NAMES)):
        ft = info.features.get(key)
        if ft is None or tuple(ft.shape) != (CANONICAL_DIM,) or ft.flat_names() != list(names):
            raise NotCanonicalError(f"feature {key!r} is not eidata's canonical {CANONICAL_DIM}-dim vector")
    mask = (info.features[ACTION].info or {}).get("mask")
    if mask is None or len(mask) != CANONICAL_DIM:
        raise NotCanonicalError(f"features.{ACTION}.info.mask is missing or not {CANONICAL_DIM} long")
    return np.asarray(mask, dtype=bool)


def episode_mask(lineage: EpisodeLineage, info: InfoJson) -> np.ndarray:
    """An episode's own mask (lineage `mask`, narrowed per episode at ingest) else the dataset's."""
    mask = lineage.mask
    return np.asarray(mask, dtype=bool) if mask is not None else dataset_mask(info)


def lingbot_info(info: InfoJson) -> InfoJson:
    """`info` with `action` replaced by the 30-dim LingBot-VA vector; its mask says which dims are real."""
    src = info.features[ACTION]
    out = info.model_copy(deep=True)
    out.features[ACTION] = FeatureSpec(
        dtype="float32",
        shape=(LINGBOT_ACTION_DIM,),
        names=list(LINGBOT_ACTION_NAMES),
        info={
            "layout": LAYOUT_NAME,
            "quaternion": QUATERNION_ORDER,
            "embodiment": (src.info or {}).get("embodiment"),
            "mask": lingbot_mask(dataset_mask(info)).astype(int).tolist(),
        },
    )
    return out


def vectors(table: pa.Table, key: str, dim: int) -> np.ndarray:
    """A fixed-size-list column as a (T, dim) float64 array."""
    col = table.column(key).combine_chunks()
    return np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float64).reshape(len(col), dim)


def lingbot_table(src: pa.Table, info_out: InfoJson, mask: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """A canonical episode's frame table -> (the same table with the 30-dim action and `info_out`'s schema,
    the (T, 30) float32 actions)."""
    actions = to_lingbot_actions(vectors(src, STATE, CANONICAL_DIM), vectors(src, ACTION, CANONICAL_DIM), mask)
    schema = arrow_schema(info_out.features)
    action_col = pa.FixedSizeListArray.from_arrays(pa.array(actions.reshape(-1), pa.float32()), LINGBOT_ACTION_DIM)
    if missing := [f.name for f in schema if f.name != ACTION and f.name not in src.column_names]:
        raise ValueError(f"frame table lacks column(s) {missing} that info.json declares")
    cols = [action_col if f.name == ACTION else src.column(f.name) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema), actions


def english_segments(segments: list[ActionSegment]) -> list[ActionSegment]:
    """Source segments with `action_text` in English where the source gave a translation (AgiBot's
    `english_action_text`); the original text stays beside it as `original_action_text`."""
    out = []
    for seg in segments:
        extra = dict(seg.model_extra or {})
        english = extra.get("english_action_text")
        if isinstance(english, str) and english.strip() and english != seg.action_text:
            extra.setdefault("original_action_text", seg.action_text)
            seg = ActionSegment(start_frame=seg.start_frame, end_frame=seg.end_frame, action_text=english, **extra)
        out.append(seg)
    return out
