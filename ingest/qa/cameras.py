"""Camera behaviour of one episode: frozen pictures, a repeat cadence, near-black, near-white and flat frames.

A near-white frame is a whited-out picture: bright (mean grey above `bright_level`) and without texture (grey standard
deviation below `bright_std`). Brightness alone is not enough: Diffusion Policy's real PushT renders are a white table
with the T and the agent on it, mean grey 0.967-0.978 on every frame, and they are good pictures.

Frames are reduced to a small grey thumbnail first (every k-th pixel, at most ~32x32 samples): a frozen or black
picture is frozen or black at any scale, and the checks then cost a few microseconds per frame whatever the camera.

A frozen camera is a run of same-picture frame pairs while the robot moves: a still scene with a still robot (a sim
start, an idle hand) legitimately gives identical frames. A camera recorded slower than the stored fps repeats each
picture p times (a 15 Hz camera stored at 30 fps: every other frame), which is recognised as a cadence, not a freeze:
`repeat_period` is p, and only runs longer than the cadence's own p - 1 same pairs count as frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.canonical.validity import runs
from schemas.behaviour import BehaviourConfig

THUMB = 32  # samples per side of the grey thumbnail


@dataclass(frozen=True)
class CameraBehaviour:
    """One camera's measured behaviour over an episode."""

    frames: int
    repeat_period: int  # frames per new picture: 1 normally, 2 for 15 Hz stored at 30 fps
    frozen_s: float  # longest same-picture run while moving, beyond the cadence
    frozen_fraction: float  # of moving frames, frames inside a frozen run
    dark_fraction: float
    bright_fraction: float
    flat_fraction: float


def thumbnails(frames: np.ndarray) -> np.ndarray:
    """(N, H, W[, C]) uint8 -> (N, h, w) float32 grey in 0..1 on a strided grid of at most ~THUMB x THUMB."""
    f = np.asarray(frames)
    sy, sx = max(1, f.shape[1] // THUMB), max(1, f.shape[2] // THUMB)
    small = f[:, sy // 2 :: sy, sx // 2 :: sx]
    if small.ndim == 4:
        small = small.mean(axis=3, dtype=np.float32)
    return small.astype(np.float32) / 255.0


def frame_signals(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean grey per frame, grey std per frame, mean and max |difference| to the previous frame (N-1 each))."""
    flat = thumbs.reshape(len(thumbs), -1)
    delta = np.abs(np.diff(flat, axis=0)) if len(flat) > 1 else np.zeros((0, flat.shape[1]), np.float32)
    return flat.mean(axis=1), flat.std(axis=1), delta.mean(axis=1), delta.max(axis=1, initial=0.0)


def repeat_period(same: np.ndarray, max_period: int = 4) -> int:
    """Frames per new picture: the regular spacing of the picture changes when at least 80% of the changes are that
    many frames apart (a camera slower than the stored rate), else 1."""
    changes = np.flatnonzero(~same)
    if len(changes) < 4:
        return 1
    gaps = np.diff(changes)
    period = int(np.bincount(np.minimum(gaps, max_period + 1)).argmax())
    return period if 2 <= period <= max_period and np.mean(gaps == period) >= 0.8 else 1


def _frozen_runs(
    thumbs: np.ndarray, same: np.ndarray, period: int, config: BehaviourConfig, moving: np.ndarray
) -> np.ndarray:
    """The frozen frames of each frozen run: consecutive same pictures whose first and last frame still
    match (a slow move shows small consecutive differences but drifts away from its first frame); its frozen frames
    are the run's moving frames beyond the cadence's own `period` (a still robot's still picture is not frozen)."""
    starts, ends = runs(same)  # pair runs s..e-1 -> frames s..e
    if not len(starts):
        return starts
    drift = np.abs(thumbs[ends] - thumbs[starts]).reshape(len(starts), -1).max(axis=1)
    csum = np.concatenate([[0], np.cumsum(moving)])
    frozen = csum[ends + 1] - csum[starts] - period
    keep = (drift < config.frozen_drift) & (frozen > 0)
    return frozen[keep]


def camera_behaviour(
    frames: np.ndarray, fps: float, config: BehaviourConfig, moving: np.ndarray | None = None
) -> CameraBehaviour:
    """Measure one camera. `moving` (N,) bool marks frames where the robot moves (`state.moving_frames`); without it
    every frame counts as moving."""
    return camera_behaviour_thumbs(thumbnails(frames), fps, config, moving)


def camera_behaviour_thumbs(
    thumbs: np.ndarray, fps: float, config: BehaviourConfig, moving: np.ndarray | None = None
) -> CameraBehaviour:
    """`camera_behaviour` on (N, h, w) grey thumbnails already taken (`thumbnails`) as the writer's frames passed."""
    n = len(thumbs)
    mean, std, diff, peak = frame_signals(thumbs)
    same = (diff < config.static_pair_diff) & (peak < config.frozen_drift)  # a slow arm: small mean, large peak
    period = repeat_period(same)
    # near-white needs no texture as well: a clean white scene (a render's white table, PushT) is bright but textured
    dark, bright = mean < config.dark_level, (mean > config.bright_level) & (std < config.bright_std)
    flat = (std < config.flat_std) & ~dark & ~bright
    blank = dark | bright | flat  # a capped or dead feed is reported as degenerate, not again as frozen
    moving = np.ones(n, bool) if moving is None else np.asarray(moving, bool)
    lengths = _frozen_runs(thumbs, same & ~blank[1:] & ~blank[:-1], period, config, moving)
    longest = int(lengths.max()) if len(lengths) else 0
    counted = int(moving.sum())
    return CameraBehaviour(
        frames=n,
        repeat_period=period,
        frozen_s=longest / fps,
        frozen_fraction=min(1.0, float(lengths.sum()) / counted) if counted and len(lengths) else 0.0,
        dark_fraction=float(np.mean(dark)) if n else 0.0,
        bright_fraction=float(np.mean(bright)) if n else 0.0,
        flat_fraction=float(np.mean(flat)) if n else 0.0,
    )
