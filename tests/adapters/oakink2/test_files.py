"""OakInk2's annotation dict checked into numpy (`adapters.oakink2.adapter`): the hands' quaternions must be unit and
w first (a joint's |w| = cos(angle / 2) stays above 0.5 for the bends of a hand), every mocap frame must have its
entry, each camera its intrinsics and extrinsics on every image frame; each failure names its field.

OakInk2's program: each hand's part of each primitive from the pair-of-intervals keys, the two hands' parts
allowed to overlap, one hand's not; keys that are no such pair named.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.oakink2.adapter import anno, primitives


def _fail(message: str, field: str) -> ValueError:
    return ValueError(f"{field}: {message}")


def _doc(quats: np.ndarray) -> dict:
    n = len(quats)
    hand = {"pose_coeffs": quats, "tsl": np.zeros((n, 3)), "betas": np.zeros((n, 10))}
    mano = {i: {f"{p}__{k}": v[i : i + 1] for p in ("lh", "rh") for k, v in hand.items()} for i in range(n)}
    return {
        "cam_def": {"1": "egocentric"},
        "frame_id_list": [0, 4],
        "cam_intr": {"egocentric": {0: np.eye(3), 4: np.eye(3)}},
        "cam_extr": {"egocentric": {0: np.eye(4), 4: np.eye(4)}},
        "mocap_frame_id_list": list(range(n)),
        "obj_list": [],
        "raw_mano": mano,
    }


def _quats(n: int = 8) -> np.ndarray:
    rotvec = np.random.default_rng(0).normal(0.0, 0.5, (n * 16, 3))  # bends of up to ~90 degrees
    return Rotation.from_rotvec(rotvec).as_quat(scalar_first=True).reshape(n, 16, 4)


def test_a_sequence_reads_into_arrays() -> None:
    q = _quats()
    a = anno(_doc(q), _fail)
    np.testing.assert_array_equal(a.hands["left"].quats, q)
    assert a.cameras["egocentric"].extrinsics.shape == (2, 4, 4) and a.mocap.tolist() == list(range(8))


def test_scalar_last_or_non_unit_quaternions_are_named() -> None:
    q = _quats()
    with pytest.raises(ValueError, match=r"raw_mano\.lh__pose_coeffs: the joints' quaternions look x, y, z, w"):
        anno(_doc(q[..., [1, 2, 3, 0]]), _fail)
    with pytest.raises(ValueError, match=r"raw_mano\.lh__pose_coeffs: not unit"):
        anno(_doc(q * 2), _fail)


def test_a_missing_frame_or_camera_entry_is_named() -> None:
    doc = _doc(_quats())
    del doc["raw_mano"][3]
    with pytest.raises(ValueError, match="raw_mano: no entry for frame 3"):
        anno(doc, _fail)
    doc = _doc(_quats())
    del doc["cam_extr"]["egocentric"][4]
    with pytest.raises(ValueError, match=r"cam_extr\.egocentric: no entry for 1 frame\(s\), first 4"):
        anno(doc, _fail)


def _program_fail(message: str, field: str) -> ValueError:
    return ValueError(f"{field}: {message}")


def test_each_hands_part_of_each_primitive() -> None:
    info = {
        "((0, 50), None)": {"primitive": "hold", "interaction_mode": "lh_main", "primitive_lh": "hold"},
        "(None, (10, 80))": {"primitive": "pour", "interaction_mode": "rh_main"},
        "((50, 90), (80, 90))": {"primitive": "place", "interaction_mode": "bh_main", "primitive_rh": "put"},
    }
    desc = {k: {"seg_desc": f" text {i} "} for i, k in enumerate(info)}
    got = [(p.hand, p.start, p.end, p.text, p.primitive) for p in primitives(info, desc, _program_fail)]
    assert got == [
        ("left", 0, 50, "text 0", "hold"),
        ("right", 10, 80, "text 1", "pour"),
        ("left", 50, 90, "text 2", "place"),
        ("right", 80, 90, "text 2", "put"),
    ]


def test_one_hands_overlap_or_a_bad_key_is_named() -> None:
    info = {"((0, 50), None)": {}, "((40, 60), None)": {}}
    desc = {k: {"seg_desc": "x"} for k in info}
    with pytest.raises(ValueError, match=r"left hand's primitives overlap: \[0, 50\) and \[40, 60\)"):
        primitives(info, desc, _program_fail)
    for key in ("(None, None)", "((5, 1), None)", "__import__('os')", "(0, 50)"):
        with pytest.raises(ValueError, match="program_info: key"):
            primitives({key: {}}, {key: {"seg_desc": "x"}}, _program_fail)
    with pytest.raises(ValueError, match="desc_info"):
        primitives({"((0, 5), None)": {}}, {}, _program_fail)
