"""One span on the grid (`ingest.canonical.span`), run directly on a hand-built context (an OXE arm's reach): the
phases fill the span, the kept frames become episodes carrying the context's reasons first, and a span validity
rejects comes back as a `SpanRejection` with nothing written to the context or the raw episode."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from adapters.base import CameraSource, EpisodeRef, Language, RawEpisode, Stream
from adapters.lerobot.adapter import LeRobotSource
from adapters.oxe.hands import hand_signals
from ingest.canonical.hand_state import wrist_poses
from ingest.canonical.span import EpisodeContext, canonicalize_span
from ingest.episode import CanonicalEpisode, JudgedEpisode, SpanRejection
from schemas.canonical import Camera
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import EpisodeLineage, tier_fields
from schemas.image_size import FrameFit
from schemas.robots.registry import default_registry
from schemas.tiers import QualityTier, TierVerdict
from tests.fixtures.corpus import tier_now
from tests.fixtures.layouts import load_case, materialize
from tests.fixtures.offline import prepared

CONTEXT = "a context reason"


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
        verdicts=(TierVerdict.note("the adapter's note"),),
        hands=hand_signals(states),
    )
    sig = raw.hands
    wrists = {h: w for h, track in sig.hands.items() if (w := wrist_poses(track)) is not None}
    emb = default_registry().get(raw.embodiment)
    return EpisodeContext(raw, "oxe", spec, emb, sig, wrists, {}, [], (*raw.verdicts, TierVerdict.note(CONTEXT)))


def test_a_span_becomes_an_episode_with_the_context_reasons_first() -> None:
    ctx = _context(30, CanonicalizeSpec())
    [ep] = canonicalize_span(ctx, 0.0, 2.9, "")
    assert ep.num_frames == 30 and ep.uid.endswith("/ep0") and ep.task == "pick the block"
    assert ep.tier_reasons[:2] == ["the adapter's note", "a context reason"]
    assert ep.validity["speed"] == 0 and ep.eef_offset
    # canonicalization measures, never judges: no QA record, no verdict but notes, the evidence for the judging step
    assert not isinstance(ep, JudgedEpisode) and ep.mask.any()
    assert ep.tier == QualityTier.high and all(v.tier == QualityTier.high for v in ep.verdicts)
    assert ctx.raw.verdicts == (TierVerdict.note("the adapter's note"),)
    notes = tier_fields(QualityTier.high, ep.verdicts)["tier_notes"]  # the lineage's
    assert notes == ["the adapter's note", "a context reason"]  # both lower nothing here


def test_an_adapters_verdict_lowers_the_default_it_is_given_and_is_kept_as_given() -> None:
    """Issue 69: a source's verdict (a simulation) comes with its code and its tier and is kept as it came, never
    folded into the default and re-inflated from its sentence: a job spec's default replaces the adapter's default,
    and the verdict still lowers it; canonicalization's lines stay notes (issue 59)."""
    sim = TierVerdict(tier=QualityTier.low, reason="a simulation", code="source_simulation")
    ctx = _context(30, CanonicalizeSpec())
    ctx = replace(ctx, raw=replace(ctx.raw, tier=QualityTier.high), reasons=(sim, TierVerdict.note(CONTEXT)))
    [ep] = canonicalize_span(ctx, 0.0, 2.9, "")
    assert ep.tier == QualityTier.low and ep.verdicts[0] is sim
    kept = EpisodeLineage(**tier_fields(QualityTier.high, ep.verdicts))  # the lineage's tier keys
    assert kept.tier == QualityTier.low and kept.tier_verdicts is not None and kept.tier_verdicts[0] == sim
    assert tier_now(kept) == QualityTier.low and tier_now(kept, overrule=["source_simulation"]) == QualityTier.high
    assert kept.tier_reasons == ["a simulation", CONTEXT] and kept.tier_notes == [CONTEXT]


def test_a_teleport_cuts_the_span_into_tagged_episodes() -> None:
    ctx = _context(60, CanonicalizeSpec(), teleport_at=30)
    eps = canonicalize_span(ctx, 0.0, 5.9, "#span1")
    assert isinstance(eps, list) and len(eps) == 2
    assert [ep.uid.rsplit("/", 1)[1] for ep in eps] == ["ep0#span1#keep0", "ep0#span1#keep1"]
    assert eps[1].span_s[0] > eps[0].span_s[1]
    assert all(ep.validity == eps[0].validity and ep.validity["speed"] > 0 for ep in eps)  # the span's counts


def test_a_rejected_span_is_a_value_naming_its_time_and_cause() -> None:
    ctx = _context(15, CanonicalizeSpec(validity={"min_length_frames": 20}))
    out = canonicalize_span(ctx, 0.0, 1.4, "#span0")
    assert isinstance(out, SpanRejection) and out.reason.startswith("episode too short: 15 frames")
    assert out.note == f"span [0.00, 1.40] s rejected: {out.reason}"
    assert [v.reason for v in ctx.reasons] == ["the adapter's note", CONTEXT]
    assert ctx.raw.verdicts == (TierVerdict.note("the adapter's note"),)


class _Rows(CameraSource):
    """A camera with one frame per row; its frames are never decoded here (the pairing is in the indices)."""

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        raise AssertionError("not decoded in this test")


def _paired(t: np.ndarray) -> CanonicalEpisode:
    """Row i holds state (i, 10 i) and camera frame i, both at t[i]; natives only (no robot to resolve)."""
    ref = EpisodeRef(adapter="lerobot", source="rec", subset="s", raw_id="ep0", paths=("x.parquet",))
    state = np.arange(len(t))[:, None] * np.array([1.0, 10.0])
    raw = RawEpisode(
        ref=ref,
        robot_type=None,
        embodiment="unknown",
        tier=QualityTier.high,
        native_fps=None,
        states={"observation.state": Stream(t, state)},
        cameras={"cam": _Rows("cam", Camera.head, t, 4, 4)},
    )
    [ep] = prepared(raw)
    return ep


def test_a_wall_clock_recorder_pairs_each_image_with_its_own_row() -> None:
    """Jittery rows (0.05..0.35 s steps) with one camera frame each: every output frame's state is the row its image
    is (blending between rows paired the image of row i with a state between i and i + 1); regular rows are still
    interpolated. The lineage says so."""
    rng = np.random.default_rng(7)
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(0.05, 0.35, 60))])
    ep = _paired(t)
    rows = ep.cameras["head"].indices
    assert ep.natives.state is not None
    np.testing.assert_array_equal(ep.natives.state[:, 0], rows)  # state i is row i
    np.testing.assert_array_equal(ep.natives.state[:, 1], 10 * rows)
    assert ep.row_clock is not None and "0.051..0.349 s steps" in ep.row_clock
    regular = _paired(np.arange(40) / 15.0)  # frame_index / fps: grid times between rows stay interpolated
    assert regular.natives.state is not None and regular.row_clock is None
    assert not np.array_equal(regular.natives.state[:, 0], regular.cameras["head"].indices)


def test_the_real_bimanual_recorder_pairs_images_and_states_by_row(tmp_path: Path) -> None:
    """The real two-arm SO-101 set (64 recorded rows: wall-clock steps 0.050..0.057 s, its mp4s at 20 fps PTS, so
    frame i is row i): each output frame's state is exactly the recorded row its image is; interpolated between rows
    (before) 33 of its 35 frames held a state half an encoder step or more from their image's row."""
    case = load_case(Path(__file__).parents[2] / "fixtures/lerobot_layouts/so101_bimanual_chunk_index_v21")
    root = materialize(case, tmp_path / "ds", episodes=1).root
    source = LeRobotSource()
    [ref] = source.discover(root)
    raw = source.read(ref)
    [ep] = prepared(raw)
    recorded = raw.states["observation.state"].values
    cols = [i for i, n in enumerate(ep.natives.state_names) if n.startswith("observation.state.")]
    assert len(cols) == 12 and ep.natives.state is not None and ep.row_clock is not None
    for cam in ep.cameras.values():  # cam0 and cam1, both one frame per row
        np.testing.assert_array_equal(ep.natives.state[:, cols], recorded[cam.indices])
    clock = ep.span_s[0] + ep.timestamps
    t = raw.states["observation.state"].timestamps
    blended = np.stack([np.interp(clock, t, recorded[:, d]) for d in range(12)], axis=1)
    off = np.abs(blended - recorded[ep.cameras["cam0"].indices]).max(axis=1) >= 0.5
    assert (len(off), off.sum()) == (35, 33)
