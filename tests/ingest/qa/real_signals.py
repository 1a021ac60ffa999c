"""Real recordings as canonical episodes for the glitch and plateau checks (each read with `tests.realdata.realdata`):
the GR00T PickNPlace sample, the real AgiBot `proprio_stats.h5` (read by the adapter's own `read_proprio`: no videos or
task_info exist for it) and the real Unitree G1 Inspire teleoperation set (YifanTian07/G1-policy-train @ d1d3bb4, MIT;
awaited in the shared folder, so its tests skip until it is there: tests/REAL_SAMPLES.md). Planters change the
state of a raw episode at its native rate and leave its command as recorded."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from adapters.agibot.proprio import FPS as AGIBOT_FPS
from adapters.agibot.proprio import read_proprio
from adapters.agibot_g1 import hand_signals
from adapters.base import EpisodeRef, RawEpisode
from adapters.registry import get_adapter
from adapters.storage.location import locate
from ingest.episode import CanonicalEpisode
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepare
from tests.realdata import realdata

G1 = "unitree_g1_policy_train"  # the sample's folder (tests/REAL_SAMPLES.md)
G1_STATE = "observation.state"  # 26 columns: left arm 0-6, right arm 7-13 (wrist 11-13), hands 14-25 (meta/info.json)
GR1_RIGHT_ARM = "state.right_arm"  # shoulder pitch/roll/yaw, elbow, wrist yaw/roll/pitch (modality.json)


def canonical(raw: RawEpisode, spec: CanonicalizeSpec | None = None) -> CanonicalEpisode:
    """The one episode canonicalization makes of `raw` (cameras left out: these checks read no frame)."""
    result = prepare(replace(raw, cameras={}), spec or CanonicalizeSpec())
    assert len(result.episodes) == 1, result.rejection_message()
    return result.episodes[0]


def with_state(raw: RawEpisode, stream: str, values: np.ndarray) -> RawEpisode:
    states = dict(raw.states)
    states[stream] = replace(states[stream], values=values.astype(states[stream].values.dtype))
    return replace(raw, states=states)


def wrist_jump(raw: RawEpisode, stream: str, cols: list[int], frame: int, size: float = 0.8) -> RawEpisode:
    """+`size` rad on `cols` of `stream` for 0.1 s (at least one frame) from `frame`, the command untouched."""
    v = raw.states[stream].values.astype(np.float64).copy()
    v[frame : frame + max(1, round(0.1 * (raw.native_fps or 10.0))), cols] += size
    return with_state(raw, stream, v)


def clamp(raw: RawEpisode, stream: str, col: int, share: float = 0.35) -> tuple[RawEpisode, float]:
    """`col` of `stream` clipped at the value `share` of its frames exceed (held there), and that value."""
    v = raw.states[stream].values.astype(np.float64).copy()
    top = float(np.float32(np.quantile(v[:, col], 1 - share)))
    v[:, col] = np.minimum(v[:, col], top)
    return with_state(raw, stream, v), top


def agibot_raw() -> RawEpisode:
    h5 = realdata("agibot_proprio_stats_real/proprio_stats.h5")
    a = get_adapter("agibot")
    p = read_proprio(locate(h5), lambda msg, field: a.error(msg, file=h5, episode="real", field=field))
    ref = EpisodeRef(adapter="agibot", source="agibot", subset="real", raw_id="proprio_stats", paths=(str(h5),))
    hands = hand_signals(p.states, a.options.gripper_open_mm, a.options.gripper_closed_mm)
    return RawEpisode(ref, "agibot_g1", p.embodiment, a.options.tier, AGIBOT_FPS, p.states, p.actions, hands=hands)


@functools.cache
def _g1_refs() -> list[EpisodeRef]:
    return sorted(get_adapter("lerobot").discover(realdata(G1)), key=lambda r: r.raw_id)


def g1_raws(indices: range) -> list[RawEpisode]:
    """The real G1 episodes at `indices` (the test skips where the set is absent: `realdata`)."""
    realdata(G1)
    refs = _g1_refs()
    return [get_adapter("lerobot").read(refs[i]) for i in indices]
