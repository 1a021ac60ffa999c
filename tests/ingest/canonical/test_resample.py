"""Properties of the 10 Hz resampling: identity on the native grid, exactness, SLERP geometry, hold, frames, gaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from ingest.canonical.resample import (
    common_span,
    find_gaps,
    gap_mask,
    interpolated_mask,
    make_grid,
    nearest_at_or_before,
    resample_hold,
    resample_linear,
    resample_poses,
    segments_without_gaps,
)
from schemas.canonical import CANONICAL_FPS

FAST = settings(max_examples=40, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def jittered(rng: np.random.Generator, n: int, period: float, jitter: float = 0.3) -> np.ndarray:
    """Increasing timestamps with roughly `period` spacing."""
    return np.cumsum(period * (1 + jitter * rng.uniform(-1, 1, n))) - period


def poses_from(rot: Rotation, trans: np.ndarray) -> np.ndarray:
    p = np.tile(np.eye(4), (len(trans), 1, 1))
    p[:, :3, :3], p[:, :3, 3] = rot.as_matrix(), trans
    return p


def slerped(t: np.ndarray, quats_xyzw: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The rotations `resample_poses` gives for the quaternions `quats_xyzw` (its SLERP), as quaternions."""
    poses = poses_from(Rotation.from_quat(quats_xyzw), np.zeros((len(quats_xyzw), 3)))
    return Rotation.from_matrix(resample_poses(t, poses, grid)[:, :3, :3]).as_quat()


def same_rotation(a: np.ndarray, b: np.ndarray, atol: float = 1e-9) -> bool:
    """Quaternions a and b describe the same rotations (q ~ -q)."""
    return bool(np.allclose(np.abs(np.sum(a * b, axis=-1)), 1.0, atol=atol))


# ---------------------------------------------------------------- grid


@FAST
@given(st.integers(0, 36_000), st.floats(0, 1e4))
def test_grid_is_exactly_k_over_fps(n: int, t0: float) -> None:
    grid = make_grid(t0, t0 + n / CANONICAL_FPS)
    assert len(grid) == n + 1  # the float error in (t0 + n/fps) - t0 never loses or adds the last frame
    assert np.array_equal(grid, np.arange(n + 1) / CANONICAL_FPS)
    assert grid.dtype == np.float64


def test_grid_one_hour_and_accumulated_end() -> None:
    grid = make_grid(0.0, 3600.0)
    assert len(grid) == 36_001
    assert all(grid[k] == k / 10 for k in (0, 1, 3, 7, 12_345, 35_999, 36_000))
    t_end = float(np.sum(np.full(36_000, 0.1)))  # summed steps: off from 3600 by float drift
    assert t_end != 3600.0 and len(make_grid(0.0, t_end)) == 36_001
    assert len(make_grid(0.0, 0.7)) == 8  # 0.7 * 10 = 7.000000000000001
    assert len(make_grid(0.0, 0.29)) == 3


def test_grid_single_point_and_errors() -> None:
    assert np.array_equal(make_grid(2.5, 2.5), [0.0])
    with pytest.raises(ValueError, match="span"):
        make_grid(1.0, 0.5)
    with pytest.raises(ValueError, match="span"):
        make_grid(0.0, np.nan)


def test_common_span() -> None:
    assert common_span([np.array([0.0, 5.0]), np.array([1.0, 2.0, 9.0]), np.array([0.5, 4.0])]) == (1.0, 4.0)
    assert common_span([np.array([3.0])]) == (3.0, 3.0)
    with pytest.raises(ValueError, match=r"stream 1 starts at 6.0 s, after stream 0 ends at 5.0 s"):
        common_span([np.array([0.0, 5.0]), np.array([6.0, 7.0])])
    with pytest.raises(ValueError, match="no streams"):
        common_span([])
    with pytest.raises(ValueError, match="stream 1 timestamps is empty"):
        common_span([np.array([0.0]), np.array([])])


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("t", "match"),
    [
        (np.array([0.0, 0.1, np.nan, 0.3]), r"timestamps\[2\] is not finite"),
        (np.array([0.0, np.inf]), r"timestamps\[1\] is not finite"),
        (np.array([0.0, 0.2, 0.1, 0.0]), "decrease at index 2"),
        (np.array([]), "empty"),
        (np.zeros((2, 2)), "1-D"),
    ],
)
def test_bad_timestamps_are_rejected(t: np.ndarray, match: str) -> None:
    values = np.zeros((len(t), 4, 4)) + np.eye(4)
    grid = np.array([0.0])
    for call in (
        lambda: resample_linear(t, values, grid),
        lambda: resample_hold(t, values, grid),
        lambda: resample_poses(t, values, grid),
        lambda: nearest_at_or_before(t, grid),
        lambda: interpolated_mask(t, grid, 0.01),
        lambda: find_gaps(t, 0.5),
    ):
        with pytest.raises(ValueError, match=match):
            call()


def test_bad_shapes_and_grids_are_rejected() -> None:
    t = np.array([0.0, 0.1])
    with pytest.raises(ValueError, match="do not match"):
        resample_linear(t, np.zeros(3), t)
    with pytest.raises(ValueError, match="grid"):
        resample_linear(t, np.zeros(2), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"\(T, 4, 4\)"):
        resample_poses(t, np.zeros((2, 3, 3)), t)


def test_empty_grid_gives_empty_outputs() -> None:
    t, g = np.array([0.0, 0.1]), np.array([])
    assert resample_linear(t, np.zeros((2, 3)), g).shape == (0, 3)
    assert resample_hold(t, np.zeros(2, np.int8), g).shape == (0,)
    assert resample_poses(t, np.tile(np.eye(4), (2, 1, 1)), g).shape == (0, 4, 4)
    assert nearest_at_or_before(t, g).shape == interpolated_mask(t, g, 0.01).shape == gap_mask(g, [(0, 1)]).shape


def test_duplicate_timestamps_keep_the_last_sample() -> None:
    t = np.array([0.0, 0.0, 1.0, 1.0, 2.0])
    v = np.array([10.0, 11.0, 20.0, 21.0, 30.0])
    grid = np.array([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0])
    assert np.array_equal(resample_linear(t, v, grid), [11, 11, 16, 21, 25.5, 30])
    assert np.array_equal(resample_hold(t, v, grid), [11, 11, 11, 21, 21, 30])
    assert np.array_equal(nearest_at_or_before(t, grid), [1, 1, 1, 3, 3, 4])
    q = Rotation.from_rotvec([[0, 0, 0], [0, 0, 0.2], [0, 0, 1], [0, 0, 1.4], [0, 0, 2]]).as_quat()
    angle = Rotation.from_quat(slerped(t, q, grid)).as_rotvec()[:, 2]
    assert np.allclose(angle, [0.2, 0.2, 0.8, 1.4, 1.7, 2.0])


# ---------------------------------------------------------------- identity on the native grid


@FAST
@given(st.integers(1, 60), st.integers(1, 5), st.sampled_from([0.0, 0.3, 17.0]), seeds)
def test_10hz_onto_its_own_grid_is_the_identity(n: int, dims: int, t0: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = make_grid(0.0, (n - 1) / 10)
    t = t0 + np.arange(n) / 10  # how a 10 Hz source stamps its samples
    grid_abs = t0 + grid
    values = rng.normal(size=(n, dims))
    assert len(grid) == n
    assert np.array_equal(resample_linear(t, values, grid_abs), values)
    labels = rng.integers(0, 3, n).astype(np.int16)
    held = resample_hold(t, labels, grid_abs)
    assert held.dtype == np.int16 and np.array_equal(held, labels)
    rot = Rotation.random(n, random_state=seed)
    poses = poses_from(rot, values[:, :1].repeat(3, 1))
    assert np.array_equal(resample_poses(t, poses, grid_abs), poses)
    assert np.array_equal(nearest_at_or_before(t, grid_abs), np.arange(n))
    assert not interpolated_mask(t, grid_abs, 1e-6).any()


# ---------------------------------------------------------------- linear


@FAST
@given(st.integers(2, 50), seeds)
def test_linear_is_exact_on_linear_functions_and_clamped_outside(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = jittered(rng, n, rng.uniform(0.01, 1.0), jitter=0.9)
    slope, offset = rng.normal(size=(2, 3, 2))
    values = t[:, None, None] * slope + offset  # (T, 3, 2): any trailing shape
    grid = rng.uniform(t[0] - 1, t[-1] + 1, 80)
    out = resample_linear(t, values, grid)
    assert out.shape == (80, 3, 2) and out.dtype == np.float64
    expected = np.clip(grid, t[0], t[-1])[:, None, None] * slope + offset
    assert np.allclose(out, expected, atol=1e-9)
    assert np.array_equal(out[grid < t[0]], np.broadcast_to(values[0], out[grid < t[0]].shape))
    assert np.array_equal(out[grid > t[-1]], np.broadcast_to(values[-1], out[grid > t[-1]].shape))


def test_linear_single_sample_integer_input_and_nan_locality() -> None:
    assert np.array_equal(resample_linear(np.array([3.0]), np.array([[7, 8]]), np.array([0.0, 3.0, 9.0])), [[7, 8]] * 3)
    t = np.arange(6) / 5.0  # 5 Hz
    v = np.arange(6.0)
    v[2] = np.nan
    out = resample_linear(t, v, np.arange(11) / 10.0)
    # NaN reaches only grid times whose interpolation uses sample 2 (0.2 s..0.6 s open), hitting samples is exact
    assert np.array_equal(np.isnan(out), [False, False, False, True, True, True, False, False, False, False, False])
    assert out[2] == 1.0 and out[6] == 3.0


# ---------------------------------------------------------------- rotations and poses


@FAST
@given(st.integers(2, 30), seeds)
def test_slerp_hits_every_sample_and_holds_the_ends(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = jittered(rng, n, 0.1, jitter=0.9)
    q = Rotation.random(n, random_state=seed).as_quat()
    grid = np.concatenate([t, rng.uniform(t[0] - 0.5, t[-1] + 0.5, 100)])
    out = slerped(t, q, grid)
    assert same_rotation(out[:n], q, atol=1e-12)  # hits every sample
    assert same_rotation(out[n:][grid[n:] < t[0]], q[:1]) and same_rotation(out[n:][grid[n:] > t[-1]], q[-1:])


@FAST
@given(st.floats(0.01, 2 * np.pi - 0.01), st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1), st.booleans())
def test_slerp_midpoint_is_half_the_shortest_angle(phi: float, x: float, y: float, z: float, flip: bool) -> None:
    axis = np.array([x, y, z + 2.0])  # never zero
    axis /= np.linalg.norm(axis)
    q0 = Rotation.from_rotvec(0.3 * axis)  # start anywhere on the axis
    q1 = Rotation.from_rotvec((0.3 + phi) * axis)
    quats = np.stack([q0.as_quat(), q1.as_quat() * (-1 if flip else 1)])
    mid = Rotation.from_quat(slerped(np.array([0.0, 1.0]), quats, np.array([0.5])))
    step = (q0.inv() * mid).as_rotvec()[0]
    short = phi if phi <= np.pi else phi - 2 * np.pi  # the other way round is shorter past pi
    assert np.allclose(step, 0.5 * short * axis, atol=1e-9)


def test_slerp_reproduces_constant_angular_velocity_from_3hz() -> None:
    omega = np.array([0.4, -1.1, 2.0])  # rad/s, < pi per 1/3 s step
    t = np.arange(10) / 3.0
    grid = make_grid(t[0], t[-1])
    out = slerped(t, Rotation.from_rotvec(t[:, None] * omega).as_quat(), grid)
    assert same_rotation(out, Rotation.from_rotvec(grid[:, None] * omega).as_quat(), atol=1e-12)
    tiny = Rotation.from_rotvec([[0, 0, 0], [0, 0, 1e-12]]).as_quat()  # no 0/0 for nearly equal rotations
    assert np.all(np.isfinite(slerped(np.array([0.0, 1.0]), tiny, np.linspace(0, 1, 7))))


def test_poses_known_motion_and_validity() -> None:
    t = np.arange(4) / 3.0
    rot = Rotation.from_rotvec(t[:, None] * [0.0, 0.0, 1.5])
    trans = t[:, None] * [1.0, -2.0, 0.5] + [0.1, 0.2, 0.3]
    grid = make_grid(0.0, 1.0)
    out = resample_poses(t, poses_from(rot, trans), grid)
    expected = poses_from(Rotation.from_rotvec(grid[:, None] * [0.0, 0.0, 1.5]), grid[:, None] * [1.0, -2.0, 0.5])
    expected[:, :3, 3] += [0.1, 0.2, 0.3]
    assert np.allclose(out, expected, atol=1e-12)
    r = out[:, :3, :3]
    assert np.allclose(r @ r.transpose(0, 2, 1), np.eye(3), atol=1e-12) and np.allclose(np.linalg.det(r), 1.0)
    assert np.array_equal(out[:, 3], np.tile([0.0, 0, 0, 1], (len(grid), 1)))


def test_poses_nan_row_stays_local() -> None:
    t = np.arange(5) / 5.0
    p = poses_from(Rotation.from_rotvec(t[:, None] * [0.0, 1.0, 0.0]), np.zeros((5, 3)))
    p[2, :3, :3] = np.nan
    out = resample_poses(t, p, np.arange(9) / 10.0)
    bad = np.isnan(out).any(axis=(1, 2))
    assert np.array_equal(bad, [False, False, False, True, True, True, False, False, False])


# ---------------------------------------------------------------- hold and frames


@FAST
@given(st.integers(1, 40), seeds)
def test_hold_never_invents_values_and_respects_time(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 4, n).round(1))  # rounding makes duplicates likely
    labels = np.array([f"s{i}" for i in range(n)])
    grid = np.sort(rng.uniform(-1, 5, 60))
    out = resample_hold(t, labels, grid)
    idx = np.array([int(s[1:]) for s in out])
    assert set(out) <= set(labels)
    assert np.all(np.diff(idx) >= 0)  # a later grid time never holds an earlier sample
    assert np.all(t[idx][grid >= t[0]] <= grid[grid >= t[0]] + 1e-6)
    after = np.minimum(idx + 1, n - 1)
    assert np.all((t[after] > grid + 1e-6) | (after == idx))  # and it is the latest such sample


def test_hold_gripper_steps_and_tolerance() -> None:
    t = np.array([0.0, 0.25, 0.5000000001, 0.75])  # the 3rd sample lands a hair after the 0.5 grid time
    cmd = np.array([0.0, 1.0, 0.0, 1.0], np.float32)
    grid = make_grid(0.0, 0.8)
    assert np.array_equal(resample_hold(t, cmd, grid), [0, 0, 0, 1, 1, 0, 0, 0, 1])
    assert resample_hold(t, cmd, grid, tolerance_s=0.0)[5] == 1.0


@FAST
@given(st.sampled_from([10.0, 15.0, 24.0, 29.97, 30.0, 60.0]), st.floats(-0.2, 0.2), seeds)
def test_video_frame_is_never_from_the_future(rate: float, offset: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = offset + jittered(rng, int(rate * 3), 1 / rate, jitter=0.2)
    grid = make_grid(0.0, 2.5)
    idx = nearest_at_or_before(t, grid)
    assert idx.dtype == np.int64
    assert np.all(t[idx][grid >= t[0]] <= grid[grid >= t[0]] + 1e-6)
    assert np.all(idx[grid < t[0]] == 0)
    nxt = np.minimum(idx + 1, len(t) - 1)
    assert np.all((t[nxt] > grid + 1e-6) | (nxt == idx))  # the latest frame not in the future
    assert np.all(np.diff(idx) >= 0)


# ---------------------------------------------------------------- up-sampling flags


@FAST
@given(st.integers(1, 30), st.floats(1e-6, 0.03))
def test_upsampling_flags_exactly_the_made_up_frames(seconds: int, tol: float) -> None:
    k = np.arange(seconds * 10 + 1)
    grid = make_grid(0.0, float(seconds))
    t5 = np.arange(seconds * 5 + 1) / 5.0  # bridge: samples on every second grid point
    t3 = np.arange(seconds * 3 + 1) / 3.0  # fractal: k/10 == j/3 only when 3k == 10j, i.e. whole seconds
    assert np.array_equal(interpolated_mask(t5, grid, tol), k % 2 == 1)
    assert np.array_equal(interpolated_mask(t3, grid, tol), k % 10 != 0)
    t10 = grid + np.random.default_rng(seconds).uniform(-0.9, 0.9, len(grid)) * tol  # jitter inside tolerance
    assert not interpolated_mask(np.sort(t10), grid, tol).any()


# ---------------------------------------------------------------- gaps


def test_find_gaps() -> None:
    t = np.array([0.0, 0.1, 0.2, 1.0, 1.1, 1.6, 1.7])
    assert find_gaps(t, 0.5) == [(0.2, 1.0)]
    assert find_gaps(t, 0.45) == [(0.2, 1.0), (1.1, 1.6)]
    assert find_gaps(np.array([5.0]), 0.5) == []
    with pytest.raises(ValueError, match="positive"):
        find_gaps(t, 0.0)


@pytest.mark.parametrize(
    ("gaps", "min_len", "spans"),
    [
        ([], 0.0, [(0.0, 10.0)]),
        ([(2.0, 3.0)], 0.0, [(0.0, 2.0), (3.0, 10.0)]),
        ([(7.0, 8.0), (2.0, 3.0)], 0.0, [(0.0, 2.0), (3.0, 7.0), (8.0, 10.0)]),  # unsorted input
        ([(2.0, 4.0), (3.0, 5.0)], 0.0, [(0.0, 2.0), (5.0, 10.0)]),  # overlapping gaps of two streams merge
        ([(2.0, 3.0), (3.0, 4.0)], 0.0, [(0.0, 2.0), (3.0, 3.0), (4.0, 10.0)]),  # a lone sample between gaps
        ([(2.0, 3.0), (3.0, 4.0)], 0.5, [(0.0, 2.0), (4.0, 10.0)]),
        ([(-1.0, 1.0), (9.5, 12.0)], 0.0, [(1.0, 9.5)]),  # gaps over the span's ends clip it
        ([(-5.0, -1.0), (10.0, 11.0)], 0.0, [(0.0, 10.0)]),  # gaps outside the span (touching its end) ignored
        ([(0.0, 10.0)], 0.0, [(0.0, 0.0), (10.0, 10.0)]),
        ([(0.0, 10.0)], 1e-9, []),
        ([(1.0, 2.0), (8.5, 9.0)], 2.0, [(2.0, 8.5)]),
    ],
)
def test_segments_without_gaps(gaps: list, min_len: float, spans: list) -> None:
    assert segments_without_gaps(0.0, 10.0, gaps, min_len) == spans


def test_gap_mask_is_strictly_inside() -> None:
    grid = make_grid(0.0, 2.0)
    mask = gap_mask(grid, [(0.2, 0.5), (1.35, 1.6), (1.5, 1.8)])
    assert np.array_equal(np.flatnonzero(mask), [3, 4, 14, 15, 16, 17])
    assert not gap_mask(grid, []).any()
    with pytest.raises(ValueError, match="reversed"):
        gap_mask(grid, [(1.0, 0.5)])


@FAST
@given(st.integers(2, 60), st.floats(0.15, 1.0), seeds)
def test_split_and_invalidate_agree_on_what_is_a_gap(n: int, max_gap: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.choice([0.1, 0.2, 0.7, 1.5], n)) - 0.1
    gaps = find_gaps(t, max_gap)
    spans = segments_without_gaps(t[0], t[-1], gaps)
    assert len(spans) == len(gaps) + 1
    for a, b in spans:  # every span's ends are samples and nothing inside it is a gap
        inside = t[(t >= a) & (t <= b)]
        assert a in t and b in t and np.all(np.diff(inside) <= max_gap)
    grid_abs = t[0] + make_grid(t[0], t[-1])
    masked = gap_mask(grid_abs, gaps)
    i0 = np.searchsorted(t, grid_abs, side="right") - 1
    i1 = np.minimum(i0 + 1, n - 1)
    tol = 1e-6  # grid times this close to a sample are on it
    off_sample = (grid_abs - t[i0] > tol) & (t[i1] - grid_abs > tol)
    assert np.array_equal(masked, (t[i1] - t[i0] > max_gap) & off_sample)
    covered = np.zeros(len(grid_abs), bool)
    for a, b in spans:
        covered |= (grid_abs >= a - tol) & (grid_abs <= b + tol)
    assert np.array_equal(covered, ~masked)  # split keeps exactly the frames invalidate keeps
