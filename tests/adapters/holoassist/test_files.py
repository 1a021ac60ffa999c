"""HoloAssist's text files parsed (`adapters/holoassist/adapter.py`): the MANO-21 joints picked in psi's order, ticks
kept exact past float64's range, psi's NaN sentinel and a joint not valid masking the hand in that frame only, a
flag that is not 0/1 and a time going back named by line, the intrinsics' matrix and size."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.holoassist.adapter import (
    HAND_FIELDS,
    JOINTS,
    MANO21_INDEX,
    parse_hand,
    parse_intrinsics,
    parse_poses,
)


class Bad(Exception):
    pass


def fail(message: str, field: str) -> Bad:
    return Bad(f"{field}: {message}")


def _line(ticks: int, active: int, poses: np.ndarray, valid: int = 1) -> str:
    vals = ["0.5", str(ticks), str(active), *("NaN" if np.isnan(v) else repr(float(v)) for v in poses.reshape(-1))]
    return "\t".join(vals + [str(valid)] * 26 + ["1"] * 26)


def _poses(offset: float = 0.0) -> np.ndarray:
    poses = np.tile(np.eye(4), (26, 1, 1))
    poses[:, 0, 3] = np.arange(26) / 100 + offset  # joint j at x = j cm: which joint went where is readable
    return poses


def test_the_21_joints_are_psis_wrist_thumb_from_its_metacarpal_fingers_from_proximal() -> None:
    assert [JOINTS[i] for i in MANO21_INDEX[:6]] == [
        "Wrist",
        *("Thumb" + j for j in ("Metacarpal", "Proximal", "Distal", "Tip")),
        "IndexProximal",
    ]
    assert sorted(set(range(26)) - set(MANO21_INDEX.tolist())) == [0, 6, 11, 16, 21]  # palm, finger metacarpals
    t0 = 638_300_000_000_000_001  # not representable in float64
    hand = parse_hand(f"{_line(t0, 1, _poses())}\n{_line(t0 + 333_333, 1, _poses())}\n".encode(), fail)
    assert hand.ticks.tolist() == [t0, t0 + 333_333]
    np.testing.assert_allclose(hand.mano21()[0, :, 0], MANO21_INDEX / 100)


def test_a_hand_is_masked_where_psi_wrote_no_pose_or_a_joint_is_not_valid() -> None:
    gone = np.full((26, 4, 4), np.nan)
    lines = [_line(1, 1, _poses()), _line(2, 0, gone), _line(3, 1, _poses(), valid=0), _line(4, 1, _poses())]
    kp = parse_hand("\n".join(lines).encode(), fail).mano21()
    assert np.isnan(kp).all(axis=(1, 2)).tolist() == [False, True, True, False]
    half = _poses()
    half[JOINTS.index("IndexTip")] = np.nan  # one used joint without a pose: the hand is not whole
    assert np.isnan(parse_hand(_line(1, 1, half).encode(), fail).mano21()).all()
    palm = _poses()
    palm[JOINTS.index("Palm")] = np.nan  # a joint MANO-21 does not use: the hand stays
    assert np.isfinite(parse_hand(_line(1, 1, palm).encode(), fail).mano21()).all()


def test_bad_lines_are_named_by_line_number() -> None:
    good = _line(1, 1, _poses())
    with pytest.raises(Bad, match=r"line 2: line 2: 3 tab-separated values, expected 471"):
        parse_hand(f"{good}\n1\t2\t3\n".encode(), fail)
    with pytest.raises(Bad, match=r"line 2: .*column 3 is 2\.0"):
        parse_hand(f"{good}\n{_line(2, 2, _poses())}\n".encode(), fail)
    with pytest.raises(Bad, match=r"line 2: time .* goes back"):
        parse_hand(f"{_line(5, 1, _poses())}\n{good}\n".encode(), fail)
    with pytest.raises(Bad, match="line 1: camera pose not finite"):
        parse_poses(("0\t1\t" + "\t".join(["NaN"] * 16)).encode(), fail)
    assert HAND_FIELDS == 471


def test_intrinsics_give_the_matrix_and_the_size_it_is_for() -> None:
    K = [600.0, 0, 448, 0, 600, 252, 0, 0, 1]
    text = "\t".join(map(str, [*K, 0, 0, 0, 0, 0, 600, 600, 600, 448, 252, 1, 896, 504]))
    matrix, hw = parse_intrinsics(text.encode(), fail)
    assert matrix.tolist() == np.reshape(K, (3, 3)).tolist() and hw == (504, 896)
    with pytest.raises(Bad, match="not a pinhole"):
        parse_intrinsics("\t".join(["0"] * 11).encode(), fail)
