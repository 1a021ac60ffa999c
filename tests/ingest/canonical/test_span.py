"""One span on the grid (`ingest.canonical.span`), run directly on a hand-built context (an OXE arm's reach): the
phases fill the span, the kept frames become episodes carrying the context's reasons first, and a span validity
rejects comes back as a `SpanRejection` with nothing written to the context or the raw episode."""

from __future__ import annotations

import numpy as np

from adapters.base import EpisodeRef, Language, RawEpisode, Stream
from adapters.oxe.hands import hand_signals
from ingest.canonical.hand_state import wrist_poses
from ingest.canonical.span import PIPELINE_VERSION, EpisodeContext, SpanRejection, canonicalize_span
from schemas.canonicalize import CanonicalizeSpec
from schemas.robots.registry import default_registry
from schemas.tiers import QualityTier


def _context(n: int, spec: CanonicalizeSpec, teleport_at: int | None = None) -> EpisodeContext:
    t = np.arange(n) / 10.0
    s = np.linspace(0, 1, n)[:, None]
    xyz = np.array([0.4, -0.1, 0.3]) + s * np.array([0.15, 0.2, -0.15])
    if teleport_at is not None:
        xyz[teleport_at:] += np.array([2.0, 0.0, 0.0])  # 2 m in 0.1 s: past any arm's speed limit
    rpy = np.column_stack([np.full(n, np.pi), np.zeros(n), 0.6 * s[:, 0]])
    states = {
        "observation/state:eef_xyz": Stream(t, xyz, unit="m", frame="robot_base"),
        "observation/state:eef_rpy": Stream(t, rpy, unit="rad", frame="robot_base"),
        "observation/state:gripper": Stream(t, np.ones((n, 1)), names=("gripper_open",), unit="0..1"),
    }
    ref = EpisodeRef(adapter="oxe", source="oxe", subset="kuka", raw_id="ep0", paths=("x.tfrecord",))
    raw = RawEpisode(
        ref=ref,
        robot_type="x",
        embodiment="kuka_iiwa",
        tier=QualityTier.high,
        native_fps=10.0,
        states=states,
        language=[Language("pick the block")],
        tier_reasons=["the adapter's note"],
        hands=hand_signals(states),
    )
    sig = raw.hands
    wrists = {h: w for h, track in sig.hands.items() if (w := wrist_poses(track)) is not None}
    emb = default_registry().get(raw.embodiment)
    return EpisodeContext(raw, "oxe", spec, emb, sig, wrists, {}, [], ("the adapter's note", "a context reason"))


def test_a_span_becomes_an_episode_with_the_context_reasons_first() -> None:
    ctx = _context(30, CanonicalizeSpec())
    [ep] = canonicalize_span(ctx, 0.0, 2.9, "")
    assert ep.num_frames == 30 and ep.uid.endswith("/ep0") and ep.task == "pick the block"
    assert ep.tier_reasons[:2] == ["the adapter's note", "a context reason"]
    assert ep.info["pipeline_version"] == PIPELINE_VERSION and "validity" in ep.info and "eef_offset" in ep.info
    assert ep.qa is not None and ep.mask.any()
    assert ctx.raw.tier_reasons == ["the adapter's note"]


def test_a_teleport_cuts_the_span_into_tagged_episodes() -> None:
    ctx = _context(60, CanonicalizeSpec(), teleport_at=30)
    eps = canonicalize_span(ctx, 0.0, 5.9, "#span1")
    assert isinstance(eps, list) and len(eps) == 2
    assert [ep.uid.rsplit("/", 1)[1] for ep in eps] == ["ep0#span1#keep0", "ep0#span1#keep1"]
    assert eps[1].span_s[0] > eps[0].span_s[1]
    assert all(ep.info is eps[0].info for ep in eps)  # one span's lineage extras, shared by its episodes


def test_a_rejected_span_is_a_value_naming_its_time_and_cause() -> None:
    ctx = _context(15, CanonicalizeSpec(validity={"min_length_frames": 20}))
    out = canonicalize_span(ctx, 0.0, 1.4, "#span0")
    assert isinstance(out, SpanRejection) and out.reason.startswith("episode too short: 15 frames")
    assert out.note == f"span [0.00, 1.40] s rejected: {out.reason}"
    assert ctx.reasons == ("the adapter's note", "a context reason") and ctx.raw.tier_reasons == ["the adapter's note"]
