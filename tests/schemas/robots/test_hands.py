"""schemas/robots/hands.yaml against its contract and against the hand descriptions it names.

Contract: every entry validates, names links and joints its URDFs have, and the mount it states is the fixed transform
the arm description carries. Geometry (the hand's own FK): an open hand's fingertips lie 0.08-0.25 m from its base, in
front of the palm (beyond the knuckles, along the fingers); driving every native joint from `open` to `closed` brings
each fingertip nearer the palm; a joint marked open == closed (thumb abduction / opposition) is the only exception.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.kinematics import load_model
from schemas.canonical import MANO21_NAMES
from schemas.data_file import read_yaml
from schemas.robots.hands import FINGERS, HandsFile, HandSpec, load_hands

HANDS = load_hands().hands
NAMES = sorted(HANDS)


def _q(spec: HandSpec, which: str, n: int = 1) -> np.ndarray:
    model = load_model(spec.description)
    named = {j: np.full(n, getattr(spec.ranges[j], which)) for j in spec.native_order}
    return model.assemble(named, n)


def _knuckles(spec: HandSpec) -> list[str]:
    """The first joint link of each finger (MANO slot 1): CMC for the thumb, MCP for the others."""
    return [spec.keypoints[4 * i + 1] for i, f in enumerate(FINGERS) if spec.fingertips[f] and f != "thumb"]


def test_the_shipped_file_has_every_dexterous_hand_we_describe() -> None:
    assert set(NAMES) == {
        f"{h}_{s}" for h in ("gr1_fourier_hand", "inspire_hand", "dex3_hand") for s in ("left", "right")
    }
    fingers = {n: tuple(f for f in FINGERS if h.fingertips[f] is not None) for n, h in HANDS.items()}
    assert fingers["dex3_hand_left"] == ("thumb", "index", "middle")
    assert fingers["inspire_hand_right"] == FINGERS


@pytest.mark.parametrize("name", NAMES)
def test_links_and_joints_exist_in_the_description(name: str) -> None:
    spec = HANDS[name]
    model = load_model(spec.description)
    assert spec.base_link == model.root
    named = [k for k in spec.keypoints if k] + [t for t in spec.fingertips.values() if t]
    assert set(named) <= set(model.links), set(named) - set(model.links)
    actuated = {j for j in model.joint_names if j not in model.mimic}
    assert set(spec.native_order) == actuated  # the native vector drives every actuated joint, nothing else
    for j, r in spec.ranges.items():
        i = model.joint_names.index(j)
        for v in (r.open, r.closed):
            assert model.lower[i] - 1e-9 <= v <= model.upper[i] + 1e-9, (j, v)
    assert spec.side in spec.description


@pytest.mark.parametrize("name", NAMES)
def test_each_mount_is_its_arm_descriptions_fixed_transform(name: str) -> None:
    for mount in HANDS[name].mounts:
        arm = load_model(mount.arm)
        t = arm.forward(np.zeros((1, arm.dof)), [mount.mount_link], base=mount.wrist_link)[0, 0]
        np.testing.assert_allclose(t[:3, 3], mount.xyz, atol=1e-12)
        np.testing.assert_allclose(t[:3, :3], Rotation.from_euler("xyz", mount.rpy).as_matrix(), atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_open_fingertips_are_a_hand_length_away_in_front_of_the_palm(name: str) -> None:
    spec = HANDS[name]
    model = load_model(spec.description)
    tips = [t for t in spec.fingertips.values() if t]
    knuckles = _knuckles(spec)
    pose = model.forward(_q(spec, "open"), tips + knuckles)[0, :, :3, 3]
    tip_pos, knuckle_pos = pose[: len(tips)], pose[len(tips) :]
    dist = np.linalg.norm(tip_pos, axis=1)
    assert np.all((dist > 0.08) & (dist < 0.25)), dict(zip(tips, dist.round(3), strict=True))
    along = knuckle_pos.mean(axis=0) / np.linalg.norm(
        knuckle_pos.mean(axis=0)
    )  # base -> knuckles: the finger direction
    beyond = tip_pos @ along - knuckle_pos.mean(axis=0) @ along
    fingers = [t for t, f in zip(spec.fingertips.values(), FINGERS, strict=True) if t and f != "thumb"]
    assert np.all(beyond[[tips.index(t) for t in fingers]] > 0.02), dict(zip(tips, beyond.round(3), strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_closing_brings_every_fingertip_to_the_palm(name: str) -> None:
    spec = HANDS[name]
    model = load_model(spec.description)
    tips = [t for t in spec.fingertips.values() if t]
    links = tips + _knuckles(spec)
    opened = model.forward(_q(spec, "open"), links)[0, :, :3, 3]
    closed = model.forward(_q(spec, "closed"), links)[0, :, :3, 3]
    palm = np.vstack([np.zeros(3), opened[len(tips) :]]).mean(axis=0)  # base and knuckles: fixed while fingers move
    before = np.linalg.norm(opened[: len(tips)] - palm, axis=1)
    after = np.linalg.norm(closed[: len(tips)] - palm, axis=1)
    assert np.all(after < before - 0.01), dict(zip(tips, (before - after).round(3), strict=True))


BROKEN = {
    "keypoints has 20 entries": lambda d: {**d, "keypoints": d["keypoints"][:20]},
    "keypoint index_tip is": lambda d: {**d, "fingertips": {**d["fingertips"], "index": "left_hand_middle_tip"}},
    "fingertips must list": lambda d: {**d, "fingertips": dict(reversed(d["fingertips"].items()))},
    "ranges must cover exactly": lambda d: {**d, "ranges": {}},
    "keypoint 0 \\(wrist\\) must be the base link": lambda d: {**d, "keypoints": ["x", *d["keypoints"][1:]]},
}


@pytest.mark.parametrize("error", sorted(BROKEN))
def test_the_contract_refuses_a_wrong_entry_naming_the_file(error: str, tmp_path: Path) -> None:
    good, path = HANDS["dex3_hand_left"].model_dump(), tmp_path / "hands.json"
    path.write_text(json.dumps({"hands": {"dex3_hand_left": good}}), encoding="utf-8")
    read_yaml(path, HandsFile)  # the unbroken entry passes
    path.write_text(json.dumps({"hands": {"dex3_hand_left": BROKEN[error](good)}}), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"(?s)hands\.json: .*{error}"):
        read_yaml(path, HandsFile)


def test_mano_slots_follow_the_canonical_order() -> None:
    spec = HANDS["inspire_hand_left"]
    slot = dict(zip(MANO21_NAMES, spec.keypoints, strict=True))
    assert slot["wrist"] == "L_hand_base_link" and slot["thumb_tip"] == "L_thumb_tip"
    assert slot["index1"] == "L_index_proximal" and slot["index2"] == "L_index_intermediate" and slot["index3"] is None
    dex3 = dict(zip(MANO21_NAMES, HANDS["dex3_hand_right"].keypoints, strict=True))
    assert dex3["ring_tip"] is None and dex3["pinky1"] is None and dex3["middle_tip"] == "right_hand_middle_tip"
