"""Every planted defect class, in copies of the real GR00T PickNPlace episodes, is found with the value planted and
routed to its tier; the clean real episodes give no finding at all (their measured values in
test_real_samples.py)."""

from __future__ import annotations

import numpy as np
import pytest

import tests.fixtures.behaviour_defects as plant
from ingest.qa.behaviour import measure_episode
from ingest.qa.copies import copy_check, scale_with_floor
from ingest.qa.duplicates import fingerprint, similarity
from ingest.qa.findings import findings, route
from schemas.behaviour import BehaviourConfig
from schemas.tiers import QualityTier
from tests.ingest.qa import gr00t_sample as g

CFG = BehaviourConfig()
ELBOW = 25  # right_arm slice 22..29: shoulder pitch, roll, yaw, elbow pitch (schemas/robots/joint_space.yaml gr1)


def measure(ep: plant.Episode, config: BehaviourConfig = CFG):
    return measure_episode(ep.state, ep.fps, g.limits(), config, action=ep.action, cameras={"ego": ep.frames})


def codes(ep: plant.Episode, config: BehaviourConfig = CFG) -> tuple[set[str], QualityTier, object]:
    rec = measure(ep, config)
    found = findings(rec, config)
    return {f.code for f in found}, route(QualityTier.high, found).tier, rec


@pytest.mark.parametrize("index", range(g.EPISODES))
def test_clean_real_episode_keeps_its_tier(index: int) -> None:
    found, tier, _ = codes(g.episode(index))
    assert found == set() and tier == QualityTier.high


def test_frozen_camera_found_with_its_duration() -> None:
    p = plant.frozen_camera(g.episode(0), seconds=2.0)
    found, tier, rec = codes(p.episode)
    assert found == {"qa_cam_frozen_s"} and tier == QualityTier.low
    assert rec.cam_frozen_s == pytest.approx(p.expect, abs=2 / g.FPS)


def test_15hz_camera_stored_at_30fps_is_a_cadence_not_a_freeze() -> None:
    ep = g.episode(0)
    repeated = np.repeat(ep.frames[::2], 2, axis=0)[: len(ep.frames)]
    found, _, rec = codes(plant.Episode(ep.state, ep.action, repeated, ep.fps))
    # the sim's own still moments (identical renders a frame apart) measure 0.1 s beyond the cadence, far below 1 s
    assert rec.cam_repeat_period == 2 and rec.cam_frozen_s <= 0.1 and found == set()
    frozen = plant.frozen_camera(plant.Episode(ep.state, ep.action, repeated, ep.fps), seconds=2.0)
    assert "qa_cam_frozen_s" in codes(frozen.episode)[0]  # a real freeze inside the cadence is still found


def test_black_frames_found_with_their_fraction() -> None:
    p = plant.black_frames(g.episode(1), fraction=0.3)
    found, tier, rec = codes(p.episode)
    assert found == {"qa_cam_degenerate"} and tier == QualityTier.low  # not frozen as well
    assert rec.cam_dark_fraction == pytest.approx(p.expect, abs=1e-9)
    assert codes(plant.black_frames(g.episode(1), fraction=0.95).episode)[1] == QualityTier.rejected


def test_frozen_state_found_with_its_duration() -> None:
    p = plant.frozen_state(g.episode(2), seconds=1.5)
    found, tier, rec = codes(p.episode)
    assert "qa_state_frozen_s" in found and tier == QualityTier.low
    assert rec.state_frozen_s == pytest.approx(p.expect, abs=1 / g.FPS)


def test_dead_joint_found_by_its_dim() -> None:
    p = plant.dead_joint(g.episode(3), ELBOW)
    found, tier, rec = codes(p.episode)
    assert rec.dead_dims == [ELBOW] and "qa_dead_dims" in found and tier == QualityTier.low


def test_saturated_joint_found_but_resting_fingers_are_not() -> None:
    upper = float(g.limits().upper[ELBOW])
    p = plant.saturated_joint(g.episode(4), ELBOW, upper, fraction=0.97)
    found, tier, rec = codes(p.episode)
    assert rec.saturated_dims == [ELBOW] and rec.saturated_fraction == pytest.approx(p.expect, abs=0.02)
    assert "qa_saturated_fraction" in found and tier == QualityTier.low
    # the real left thumb (dim 12) sits at its limit in 96% of frames and is a rest dim: no finding (clean test)


def test_jump_found_in_sigmas_and_rad_per_s() -> None:
    p = plant.jump(g.episode(0), ELBOW, size=0.6)  # 12 rad/s for one frame: faster than any GR1 elbow
    found, tier, rec = codes(p.episode)
    assert {"qa_jump_sigma", "qa_jump_rad_s"} <= found and tier == QualityTier.low
    assert rec.jump_rad_s == pytest.approx(p.expect, rel=0.1)
    assert abs(rec.jump_frame - len(p.episode.state) // 3) <= 1  # the step in or the step out


def test_wraparound_quarantines() -> None:
    span = float(g.limits().span[ELBOW])
    p = plant.wraparound(g.episode(1), ELBOW, size=0.8 * span)
    found, tier, rec = codes(p.episode)
    assert "qa_jump_range_fraction" in found and tier == QualityTier.rejected
    assert rec.jump_range_fraction == pytest.approx(0.8, abs=0.05)


def test_idle_start_and_end_measured_and_trimmed() -> None:
    ep = g.episode(2)
    p = plant.idle_ends(ep, 12.0, 12.0)
    found, tier, rec = codes(p.episode)
    assert rec.idle_start_s == pytest.approx(12.0, abs=0.1) and rec.idle_end_s == pytest.approx(12.0, abs=0.1)
    keep = round(CFG.idle_keep_s * g.FPS)
    assert rec.trim_start == 240 + 1 - keep and rec.trim_stop == 240 + len(ep.state) - 1 + keep
    assert found == set() and tier == QualityTier.high  # trimmed, so not demoted
    untrimmed = BehaviourConfig(idle_trim=False)
    assert codes(p.episode, untrimmed)[0] == {"qa_idle_start_s", "qa_idle_end_s"}


def test_action_not_tracking_state() -> None:
    p = plant.not_tracking(g.episode(3), g.episode(1))
    found, tier, rec = codes(p.episode)
    assert rec.tracking_corr < CFG.tracking_corr_low and "qa_tracking_corr" in found and tier == QualityTier.low


def test_nan_quarantines_with_its_count() -> None:
    p = plant.nan_values(g.episode(4), ELBOW, count=3)
    found, tier, rec = codes(p.episode)
    assert rec.nonfinite == 3 and "qa_nonfinite" in found and tier == QualityTier.rejected


@pytest.mark.parametrize("index", range(g.EPISODES))
def test_duplicate_found_and_distinct_demonstrations_are_not(index: int) -> None:
    """The fingerprint proposes (a copy is a candidate; distinct demonstrations of this task may be too: 0.5-0.56),
    the signals decide (`copy_check` on the natives at the source rate, the dataset's ranges as scales)."""
    eps = [g.episode(i) for i in range(g.EPISODES)]
    scale = scale_with_floor(np.ptp(np.concatenate([e.state for e in eps]), axis=0))
    ep = eps[index]
    copy = plant.duplicate(ep).episode
    sig = fingerprint(ep.state, ep.fps, g.limits(), CFG)
    assert similarity(sig, fingerprint(copy.state, copy.fps, g.limits(), CFG)) >= CFG.duplicate_candidate_similarity
    assert copy_check(ep.state, copy.state, scale, CFG).is_copy(CFG)
    for other in range(g.EPISODES):
        if other != index:
            check = copy_check(ep.state, eps[other].state, scale, CFG)
            assert not check.is_copy(CFG) and check.residual > 2 * CFG.copy_tolerance, (other, check)
