"""The consumer layout (`jobs/export/layout.py`): bool flags under lerobot's policy namespaces move under `frame.`,
multi-dimensional features become 1-D in C order with names and the shape to restore, the per-frame table follows the
features, and the episode columns (action mask, caption, per-camera intrinsics) come from the lineage and the
dataset's feature info. What lerobot makes of it is checked by lerobot itself (`lerobot_v3/test_clients.py`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from jobs.export.layout import consumer_layout, episode_columns, flat_names, flatten_column, without_intrinsics
from schemas.canonical import (
    ACTION,
    HAND_KEYPOINTS,
    INTERPOLATED,
    INTRINSICS_KEY,
    STATE,
    canonical_features,
    image_key,
    intrinsics_info,
)
from schemas.corpus import LINEAGE_KEY
from schemas.export_layout import (
    ACTION_MASK_COLUMN,
    CAPTION_COLUMN,
    ND_NAMES_KEY,
    ND_SHAPE_KEY,
    intrinsics_column,
    is_policy_key,
)
from schemas.lerobot_features import default_features

HEAD = image_key("head")
NESTED = pa.list_(pa.list_(pa.list_(pa.float32())))


def _features() -> dict:
    mask = np.zeros(50, dtype=bool)
    mask[:9] = True
    feats = canonical_features({"head": (8, 12)}, "human", mask, ["left"], ["camera.x"], interpolated_flag=True)
    feats[HEAD].info = intrinsics_info(np.array([[10.0, 0, 6], [0, 10, 4], [0, 0, 1]]))
    return {k: v.to_json() for k, v in {**feats, **default_features()}.items()}


def test_flags_leave_the_policy_namespaces_and_nd_features_become_flat() -> None:
    feats = _features()
    layout = consumer_layout(feats)
    out = layout.features
    assert INTERPOLATED not in out and out["frame.interpolated"]["dtype"] == "bool"
    assert not is_policy_key("frame.interpolated") and is_policy_key(INTERPOLATED) and is_policy_key("action.native")
    kp = out[HAND_KEYPOINTS]
    assert kp["shape"] == [126] and kp["info"][ND_SHAPE_KEY] == [2, 21, 3]
    assert kp["names"][:4] == ["left.wrist.x", "left.wrist.y", "left.wrist.z", "left.thumb1.x"]
    assert kp["names"][-1] == "right.pinky_tip.z" and kp["info"][ND_NAMES_KEY] == feats[HAND_KEYPOINTS]["names"]
    assert kp["info"]["has_hands"] == ["left"]  # the feature's own info kept beside
    assert out[STATE] == feats[STATE] and out[ACTION] == feats[ACTION] and out[HEAD] == feats[HEAD]
    assert list(out)[: len(feats)] == [k if k != INTERPOLATED else "frame.interpolated" for k in feats]
    assert {c.source: c.key for c in layout.columns if c.source != c.key} == {INTERPOLATED: "frame.interpolated"}
    kept = consumer_layout(feats, keep_nd=True).features[HAND_KEYPOINTS]
    assert kept["shape"] == [2, 21, 3] and ND_SHAPE_KEY not in (kept.get("info") or {})


def test_the_table_follows_the_features() -> None:
    feats = _features()
    layout = consumer_layout(feats)
    n = 3
    kp = np.arange(n * 126, dtype=np.float32).reshape(n, 2, 21, 3)
    cols = {
        STATE: pa.array(list(np.ones((n, 50), np.float32)), pa.list_(pa.float32(), 50)),
        ACTION: pa.array(list(np.zeros((n, 50), np.float32)), pa.list_(pa.float32(), 50)),
        HAND_KEYPOINTS: pa.array(kp.tolist(), NESTED),  # nested lists, as datasets' Array3D stores them
        "observation.state.native": pa.array([[0.5]] * n, pa.list_(pa.float32(), 1)),
        INTERPOLATED: pa.array([False, True, False]),
        **{k: pa.array(np.arange(n, dtype=np.float32 if k == "timestamp" else np.int64)) for k in default_features()},
    }
    table = layout.apply(pa.table({k: cols[k] for k in layout.source_columns}))
    assert table.column_names == [c.key for c in layout.columns]
    flat = np.stack(table[HAND_KEYPOINTS].to_numpy(zero_copy_only=False))
    assert table.schema.field(HAND_KEYPOINTS).type == pa.list_(pa.float32(), 126)
    assert np.array_equal(flat.reshape(n, 2, 21, 3), kp)  # C order: reshape restores it
    assert table["frame.interpolated"].to_pylist() == [False, True, False]
    with pytest.raises(ValueError, match="expected 127"):
        flatten_column(pa.array(kp.tolist(), NESTED), 127)


def test_names_fall_back_to_indices() -> None:
    assert flat_names([["a", "b"], ["x", "y", "z"]], (2, 3))[:4] == ["a.x", "a.y", "a.z", "b.x"]
    assert flat_names(None, (2, 2)) == ["0.0", "0.1", "1.0", "1.1"]
    assert flat_names([["a"], ["x", "y"]], (2, 2))[0] == "0.0"  # names of the wrong length are not trusted


def test_a_name_taken_by_the_dataset_is_refused() -> None:
    feats = _features() | {"frame.interpolated": {"dtype": "float32", "shape": [1], "names": None}}
    with pytest.raises(ValueError, match=r"would be exported as 'frame\.interpolated'"):
        consumer_layout(feats)


def test_episode_columns_from_lineage_and_feature_info() -> None:
    feats = _features()
    mask = [1] * 25 + [0] * 25
    line = {"episode_index": 0, LINEAGE_KEY: {"mask": mask, "caption": {"text": "fold the towel", "model": "r"}}}
    cols = episode_columns(line, feats, [HEAD])
    assert cols[ACTION_MASK_COLUMN] == mask and cols[CAPTION_COLUMN] == "fold the towel"
    assert cols[intrinsics_column(HEAD)] == [10.0, 0, 6, 0, 10, 4, 0, 0, 1]
    bare = episode_columns({"episode_index": 0}, {**feats, HEAD: without_intrinsics(feats[HEAD])}, [HEAD])
    assert bare[ACTION_MASK_COLUMN] == feats[ACTION]["info"]["mask"]  # the dataset's mask when no lineage has one
    assert bare[CAPTION_COLUMN] is None and bare[intrinsics_column(HEAD)] is None
    assert INTRINSICS_KEY in feats[HEAD]["info"]  # without_intrinsics copies
