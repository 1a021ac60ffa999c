"""Canonicalization never loses a source's numbers: natives-only episodes are written with the cause (issue 23).

An episode whose canonical dims cannot be filled (no hand signals) and that has no camera is still written, its
native streams on their own time base; its first tier reason says why there is no canonical dim, carrying the first
specific cause recorded before (never the generic fallback alone). Only an episode with nothing at all raises, and
the error says what was looked for and the same cause. Signals (flags, any other column) are natives too, outcomes
(a reward, a done flag) beside the state;
a camera without a canonical slot is written under its own name.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from adapters.cameras import EncodedImagesCamera
from adapters.synthetic.video import synthetic_frame
from ingest.canonical.canonicalize import native_camera_name
from ingest.canonical.natives import MAX_NATIVE_DIMS, MAX_NATIVE_VECTOR_DIMS
from schemas.actions import NotCanonical, not_canonical
from schemas.tiers import QualityTier, TierVerdict
from tests.fixtures.offline import prepared

CAUSE = "joint space (piper): joints ['joint_1.pos'] do not resolve to ['joint1']"


def _raw(n: int = 40, fps: float = 30.0, *, states: bool = True, cameras: bool = False) -> RawEpisode:
    t = np.arange(n) / fps
    ref = EpisodeRef(adapter="lerobot", source="lerobot", subset="piper", raw_id="episode_000000", paths=("d.pq",))
    raw = RawEpisode(
        ref=ref,
        robot_type="piper",
        embodiment="unknown",
        tier=QualityTier.high,
        native_fps=fps,
        verdicts=(TierVerdict.note(CAUSE, NotCanonical.joints_unread.value),),
    )
    if states:
        raw.states["observation.state"] = Stream(t, np.sin(t)[:, None] * np.arange(1, 8), names=tuple("abcdefg"))
        raw.actions["action"] = Stream(t, np.cos(t)[:, None] * np.arange(1, 7))
        raw.outcomes["next.done"] = Stream(t, (np.arange(n) == n - 1))
        raw.outcomes["next.reward"] = Stream(t, np.linspace(0, 1, n))
    if cameras:
        frames = [cv2.imencode(".png", synthetic_frame(16, 24, i))[1].tobytes() for i in range(n)]
        raw.cameras["observation.images.cam0"] = EncodedImagesCamera(frames, "observation.images.cam0", None, t)
    return raw


def test_without_cameras_the_natives_are_written_with_the_first_cause() -> None:
    [ep] = prepared(_raw())
    assert not ep.mask.any() and ep.cameras == {}
    assert ep.tier_reasons[0] == f"no canonical dims (15 native dims and 0 camera(s) kept): {CAUSE}"
    assert CAUSE not in ep.tier_reasons[1:]  # issue 68: the recorder's own reason is said once, in the first
    assert ep.num_frames == 14  # 0 .. 1.3 s (39 / 30) at 10 Hz: the natives' own time base
    assert ep.natives.state_names == [f"observation.state.{c}" for c in "abcdefg"]
    assert ep.natives.outcome_names == ["next.done.0", "next.reward.0"]  # beside the state, not in it
    grid = ep.span_s[0] + ep.timestamps
    t = np.arange(40) / 30.0
    np.testing.assert_allclose(ep.natives.outcome[:, 1], np.interp(grid, t, np.linspace(0, 1, 40)), atol=1e-6)
    np.testing.assert_allclose(ep.natives.state, np.sin(grid)[:, None] * np.arange(1, 8), atol=1e-5)
    held = (np.arange(40) == 39)[np.searchsorted(t, grid + 1e-6, side="right") - 1]
    np.testing.assert_array_equal(ep.natives.outcome[:, 0], held.astype(np.float32))
    np.testing.assert_allclose(ep.natives.action, np.cos(grid)[:, None] * np.arange(1, 7), atol=1e-5)


def test_the_cause_is_the_first_note_that_names_one_and_its_code_goes_with_it() -> None:
    """Issue 97 item 4: a note of another check said first (a family member chosen) is no cause; the first note
    naming one is, and its code (`NotCanonical`) goes with the first reason, where the summary and catalog read it."""
    from dataclasses import replace

    raw = _raw()
    family = TierVerdict.note("piper: the family member chosen by the recording", "canonical_family")
    [ep] = prepared(replace(raw, verdicts=(family, *raw.verdicts)))
    assert ep.tier_reasons[0] == f"no canonical dims (15 native dims and 0 camera(s) kept): {CAUSE}"
    assert ep.verdicts[0].code == NotCanonical.joints_unread
    assert not_canonical(ep.verdicts) is NotCanonical.joints_unread
    assert family in ep.verdicts  # still said, as the note it is


def test_an_unplaced_camera_is_written_under_its_own_name() -> None:
    [ep] = prepared(_raw(cameras=True))
    assert set(ep.cameras) == {"cam0"}
    assert ep.tier_reasons[0].startswith("no canonical dims (15 native dims and 1 camera(s) kept): joint space")
    assert native_camera_name("observation.images.head", set()) == "native_head"  # never a vocabulary slot's name
    assert native_camera_name("observation.images.Cam-0", {"cam_0"}) == "cam_0_2"


def test_nothing_at_all_raises_saying_what_was_looked_for_and_the_cause() -> None:
    with pytest.raises(ValueError) as err:
        prepared(_raw(states=False))
    msg = str(err.value)
    assert "nothing to canonicalize (no hand signals, no camera, no numeric state or action column)" in msg
    assert msg.endswith(CAUSE)


def test_a_vector_wider_than_the_native_limit_is_named_not_dropped_silently() -> None:
    raw = _raw()
    t = raw.states["observation.state"].timestamps
    raw.signals["language_embedding"] = Stream(t, np.zeros((len(t), MAX_NATIVE_VECTOR_DIMS + 1)))
    raw.states["observation.effort"] = Stream(t, np.ones((len(t), 96)))  # a wide proprio vector is kept
    [ep] = prepared(raw)
    assert sum(n.startswith("observation.effort.") for n in ep.natives.state_names) == 96
    assert not any(n.startswith("language_embedding") for n in ep.natives.state_names)
    [left_out] = [r for r in ep.tier_reasons if r.startswith("not kept as natives")]
    assert f"language_embedding ({MAX_NATIVE_VECTOR_DIMS + 1} dims)" in left_out


def test_natives_wider_than_a_schema_may_be_refuse_the_episode() -> None:
    """10^5 scalar columns made a 100,058-dim native state that became the subset's features and refused every later
    valid episode (reliability review 1e'): past MAX_NATIVE_DIMS per side the episode itself is refused, naming the
    width and the widest streams; the episode with the ordinary columns is written as before."""
    raw = _raw()
    t = raw.states["observation.state"].timestamps
    for i in range(MAX_NATIVE_DIMS):
        raw.states[f"extra_{i:05d}"] = Stream(t, np.full(len(t), float(i)))
    with pytest.raises(
        ValueError, match=r"state natives: 4,103 dims from 4,097 streams \(widest observation\.state \(7\)"
    ):
        prepared(raw)
    [ep] = prepared(_raw())
    assert len(ep.natives.state_names) == 7 and len(ep.natives.outcome_names) == 2


def test_a_multi_rate_recording_takes_its_span_from_its_states() -> None:
    """A ROS bag's topics need not share an instant (the real sample rosbag_ats: /parameter_events only in the first
    0.3 s, /rosout at 8.7..9.3 s): the states set a natives-only episode's span, as a joint-space robot's joints set
    its wrists', and every other native is sampled on it (held before its first and after its last message)."""
    raw = _raw()  # states, actions and signals over 0 .. 1.3 s
    raw.signals["parameter_events"] = Stream(np.array([0.0, 0.1]), np.array([1.0, 2.0]))
    raw.signals["rosout"] = Stream(np.array([1.0, 1.2]), np.array([3.0, 4.0]))
    [ep] = prepared(raw)
    assert ep.num_frames == 14 and ep.span_s[0] == 0.0  # the states' own 0 .. 1.3 s
    names = ep.natives.state_names
    np.testing.assert_array_equal(ep.natives.state[:, names.index("parameter_events.0")], [1.0] + [2.0] * 13)
    np.testing.assert_array_equal(
        ep.natives.state[:, names.index("rosout.0")][[0, 9, 10, 11, 12, 13]], [3, 3, 3, 3.5, 4, 4]
    )


def test_an_episode_without_any_action_says_why_in_the_reason_that_sets_its_tier() -> None:
    """Issue 59: the reason an actionless robot episode is actionless names its cause (the episodes that lost their
    actions group by it in the catalog); issue 68: the lineage says each sentence once, the reason that set the tier
    first (the cause's own note, which that reason already says, is not said again); two lengths group into one."""
    from ingest.canonical.store import lineage
    from schemas.tiers import grouped

    reasons = []
    for n in (40, 61):
        raw = _raw(n)
        raw.actions.clear()  # no command at all: neither a canonical nor a native action
        [ep] = prepared(raw)
        assert ep.tier == QualityTier.actionless
        (missing,) = [r for r in ep.tier_reasons if r.startswith("missing actions")]
        assert missing == f"missing actions (has_action=False): {ep.tier_reasons[0]}" and CAUSE in missing
        said = lineage(ep).tier_reasons or []
        assert said[0] == missing and missing not in (lineage(ep).tier_notes or [])
        assert sum(CAUSE in r for r in said) == 1 and ep.tier_reasons[0] not in said  # the cause said once
        reasons.append(grouped(missing))
    assert reasons[0] == reasons[1]


def test_a_robot_without_a_description_is_told_to_name_it_with_the_embodiment_option() -> None:
    """Issue 79 (review 8, item 6): Kuavo's natives said only "the source declares no hand signal", while naming the
    robot (`embodiment: kuavo_4pro_long`) gave it 18 canonical dims: the cause the user can fix is named."""
    from dataclasses import replace

    [ep] = prepared(replace(_raw(), verdicts=()))
    assert ep.tier_reasons[0].startswith("no canonical dims (15 native dims and 0 camera(s) kept): the source ")
    assert not_canonical(ep.verdicts) is NotCanonical.no_description
    assert (
        "its robot (embodiment 'unknown') has no registered description: name it with the source's "
        in (ep.tier_reasons[0])
    )
    assert "`embodiment:` option (one of aloha, " in ep.tier_reasons[0] and "kuavo_4pro_long" in ep.tier_reasons[0]
