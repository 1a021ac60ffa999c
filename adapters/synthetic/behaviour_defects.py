"""Planted behaviour defects: copies of a real episode's arrays with one defect each, for the behaviour QA's tests,
benchmark and the side-by-side run of the LeRobot dataset linters.

Each planter takes an `Episode` (state, action (N, D), frames (N, H, W, 3) uint8, fps) and returns a new one with one
defect class planted at a documented place and size, plus the value a check should measure (`Planted.expect`).
Nothing here guesses a format: the input is a real sample's arrays (`tests/data/real/gr00t_robot_sim_picknplace`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Episode:
    state: np.ndarray  # (N, D) float64
    action: np.ndarray  # (N, D) float64
    frames: np.ndarray  # (N, H, W, 3) uint8
    fps: float


@dataclass(frozen=True)
class Planted:
    defect: str
    episode: Episode
    expect: float  # the value the matching check should measure (seconds, fraction, count, ...)


def _copy(ep: Episode) -> Episode:
    return Episode(ep.state.copy(), ep.action.copy(), ep.frames.copy(), ep.fps)


def _mid(ep: Episode) -> int:
    return len(ep.state) // 3


def frozen_camera(ep: Episode, seconds: float = 2.0) -> Planted:
    """The camera repeats one picture for `seconds` mid-episode while the robot goes on moving."""
    out, t, k = _copy(ep), _mid(ep), round(seconds * ep.fps)
    out.frames[t : t + k + 1] = out.frames[t]
    return Planted("frozen_camera", out, k / ep.fps)


def black_frames(ep: Episode, fraction: float = 0.3) -> Planted:
    """A lens cap: the last `fraction` of the frames are black."""
    out = _copy(ep)
    k = round(fraction * len(out.frames))
    out.frames[-k:] = 0
    return Planted("black_frames", out, k / len(out.frames))


def frozen_state(ep: Episode, seconds: float = 1.5) -> Planted:
    """The state recorder repeats one row for `seconds` mid-episode (a serial dropout)."""
    out, t, k = _copy(ep), _mid(ep), round(seconds * ep.fps)
    out.state[t : t + k] = out.state[t]
    return Planted("frozen_state", out, k / ep.fps)


def dead_joint(ep: Episode, dim: int) -> Planted:
    """One joint reads a constant over the whole episode (a disconnected motor)."""
    out = _copy(ep)
    out.state[:, dim] = out.state[0, dim]
    return Planted("dead_joint", out, dim)


def saturated_joint(ep: Episode, dim: int, upper: float, fraction: float = 0.97) -> Planted:
    """A calibration offset pushes one joint past its upper limit, where it is clamped for `fraction` of frames."""
    out = _copy(ep)
    x = out.state[:, dim]
    out.state[:, dim] = np.minimum(x + upper - np.quantile(x, 1 - fraction), upper)
    return Planted("saturated_joint", out, float(np.mean(out.state[:, dim] >= upper)))


def jump(ep: Episode, dim: int, size: float) -> Planted:
    """A one-frame teleoperation glitch: one joint jumps by `size` for one frame and comes back."""
    out = _copy(ep)
    out.state[_mid(ep), dim] += size
    return Planted("jump", out, abs(size) * ep.fps)


def wraparound(ep: Episode, dim: int, size: float) -> Planted:
    """An encoder wrap-around: from mid-episode on one joint reads `size` higher."""
    out = _copy(ep)
    out.state[_mid(ep) :, dim] += size
    return Planted("wraparound", out, abs(size))


def idle_ends(ep: Episode, start_s: float = 12.0, end_s: float = 12.0) -> Planted:
    """The operator waits `start_s` before moving and the recording runs `end_s` after the robot settled."""
    a, b = round(start_s * ep.fps), round(end_s * ep.fps)

    def pad(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.repeat(x[:1], a, axis=0), x, np.repeat(x[-1:], b, axis=0)])

    return Planted("idle", Episode(pad(ep.state), pad(ep.action), pad(ep.frames), ep.fps), start_s)


def not_tracking(ep: Episode, other: Episode) -> Planted:
    """The action column belongs to another recording (a leader/follower mix-up): the state does not follow it."""
    n = len(ep.action)
    action = np.resize(other.action, (n, other.action.shape[1]))
    return Planted("not_tracking", replace(_copy(ep), action=action), 0.0)


def nan_values(ep: Episode, dim: int, count: int = 3) -> Planted:
    """A few NaN readings in the state."""
    out = _copy(ep)
    out.state[_mid(ep) : _mid(ep) + count, dim] = np.nan
    return Planted("nan", out, count)


def duplicate(ep: Episode, trim: int = 7, noise: float = 1e-4, seed: int = 0) -> Planted:
    """The same demonstration stored again: float32-rounded, its first `trim` frames cut, a little noise added."""
    rng = np.random.default_rng(seed)
    s = ep.state[trim:].astype(np.float32).astype(np.float64)
    s = s + rng.normal(0.0, noise, s.shape) * (np.ptp(ep.state, axis=0) > 0)
    return Planted("duplicate", Episode(s, ep.action[trim:].copy(), ep.frames[trim:].copy(), ep.fps), 1.0)


PLANTERS: dict[str, Callable[..., Planted]] = {
    p.__name__: p
    for p in (
        frozen_camera,
        black_frames,
        frozen_state,
        dead_joint,
        saturated_joint,
        jump,
        wraparound,
        idle_ends,
        not_tracking,
        nan_values,
        duplicate,
    )
}
