"""The features.json of the synthetic RLDS builders (`adapters/synthetic/rlds_features.py`), read back by the OXE
adapter's own parser: every subset's cameras, states, actions and language are there under `steps/` with their declared
kind and dtype, images shrunk to the asked size, and a key with two slashes split at its first one only. The real Bridge
file is compared in tests/adapters/synthetic/test_rlds.py."""

from __future__ import annotations

import pytest

from adapters.oxe.builder import parse_features
from adapters.oxe.subsets import SUBSETS
from adapters.synthetic.rlds_features import features_json, steps_layout


@pytest.mark.parametrize("name", sorted(SUBSETS))
def test_every_declared_stream_is_a_feature_of_its_kind(name: str) -> None:
    cfg = SUBSETS[name]
    parsed = parse_features(features_json(cfg, steps_layout(cfg, (32, 48))))
    for cam in cfg.cameras:
        info = parsed[f"steps/{cam.key}"]
        assert (info.kind, info.shape[:2]) == ("image", (32, 48)), cam.key
    for spec in (*cfg.states, *cfg.actions):
        info = parsed[f"steps/{spec.key}"]
        assert (info.kind, info.dtype, info.shape) == ("tensor", spec.dtype, tuple(spec.shape)), spec.key
    for text in cfg.language:
        assert parsed[f"steps/{text.key}"].kind == "text", text.key
    assert {"steps/is_first", "steps/is_last", "steps/is_terminal", "steps/reward"} <= set(parsed)
    assert ("steps/discount" in parsed) is cfg.has_discount


def test_a_key_is_nested_at_its_first_slash_only() -> None:
    """kuka's `clip_function_input/base_pose_tool_reached` is one feature name inside `observation`, bc_z's
    `future/xyz_residual` one inside `action` (TFDS catalog)."""
    nested = [cfg for cfg in SUBSETS.values() if any(s.key.count("/") > 1 for s in (*cfg.states, *cfg.actions))]
    assert nested, "a subset with a two-slash key (kuka) is in the table"
    for cfg in nested:
        doc = features_json(cfg, steps_layout(cfg, (16, 16)))
        steps = doc["featuresDict"]["features"]["steps"]["sequence"]["feature"]["featuresDict"]["features"]
        for spec in (*cfg.states, *cfg.actions):
            if spec.key.count("/") > 1:
                outer, name = spec.key.split("/", 1)
                assert name in steps[outer]["featuresDict"]["features"], spec.key
