"""The behaviour phase at ingest, on the real GR00T PickNPlace episodes read by the lerobot
adapter, canonicalized and written: clean episodes keep their tier, each planted defect class is found where ingest
can find it (natives, FK wrists, the frames the writer encodes), with its value and threshold in a tier reason, and
routed to its tier or quarantined. Dead native joints and near-duplicates need the dataset: see
tests/jobs/catalog/test_behaviour.py."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tests.fixtures.behaviour_defects as plant
from adapters.base import RawEpisode
from adapters.lerobot_format.files import read_jsonl
from ingest.canonical import resample as rs
from ingest.episode import CanonicalEpisode
from ingest.qa.phase import FrameTap
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from schemas.tiers import QualityTier
from tests.ingest.qa import gr00t_sample as g
from tests.ingest.qa.planted_raw import ELBOW, episode_of, gr00t_raws, ingest, planted, with_episode
from tests.ingest.qa.real_signals import GR1_RIGHT_ARM, clamp, with_state, wrist_jump
from tests.realdata import realdata

SPEC = CanonicalizeSpec()


@functools.cache
def raw(index: int) -> RawEpisode:
    return gr00t_raws()[index]


def codes(eps) -> list[str]:
    return [r.split(":", 1)[0] for ep in eps for r in ep.tier_reasons if r.startswith("qa_")]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple[list[CanonicalEpisode], str | None]], Path]:
    """The 5 real episodes ingested into one dataset, once for the two tests that judge them: (each one's episodes
    written and quarantine reason, the dataset)."""
    ds = tmp_path_factory.mktemp("clean") / "gr00t"
    return [ingest(raw(i), SPEC, ds) for i in range(g.EPISODES)], ds


def test_clean_real_episodes_keep_their_tier_and_carry_the_record(clean: tuple[list, Path]) -> None:
    results, ds = clean
    for eps, rejected in results:
        assert rejected is None and len(eps) == 1
        ep = eps[0]
        assert ep.tier == QualityTier.high and codes(eps) == [], ep.tier_reasons
        b = ep.behaviour
        # measured on the real episodes: cameras repeat no picture while the arm moves (<= 0.4 s of the sim's still
        # renders), the resting left hand and the thumb at its limit raise nothing, the follower tracks at >= 0.96
        assert b.cam_frozen_s <= 0.4 and b.cam_dark_fraction == 0 and b.jump_sigma < 5 and b.tracking_corr > 0.95
        # the 14 arm joints against gr1_arms' limits (rad, decided by evidence): at a limit in 1.9-4.9 % of frames;
        # the right wrist read past its copied limit (35-82 % of frames) is not at it
        assert 0 < b.native_saturated_fraction < 0.05 and b.native_saturated_dims == []
    lines = [EpisodeLineage.of(line) for _, line in read_jsonl(ds / EPISODES_PATH)]
    assert all(lin.behaviour is not None and lin.behaviour.fingerprint for lin in lines)  # into the lineage


def test_frozen_camera_demotes_from_the_frames_the_writer_encodes(tmp_path: Path) -> None:
    r, p = planted(raw(0), plant.frozen_camera, seconds=2.0)
    eps, rejected = ingest(r, SPEC, tmp_path / "ds")
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_cam_frozen_s"]
    assert eps[0].behaviour.cam_frozen_s == pytest.approx(p.expect, abs=0.15)
    assert "camera frozen 2.00 s while the robot moves > 1.00 s" in eps[0].tier_reasons[-1]


def test_5hz_camera_stored_at_10fps_is_a_cadence_not_a_freeze(tmp_path: Path) -> None:
    ep = episode_of(raw(0))
    assert ep.fps == 2 * CANONICAL_FPS  # the 20 Hz recording: every other frame reaches the grid
    repeated = np.repeat(ep.frames[::4], 4, axis=0)[: len(ep.frames)]  # a new picture every 4 frames: 5 Hz
    r = with_episode(raw(0), plant.Episode(ep.state, ep.action, repeated, ep.fps))
    eps, rejected = ingest(r, SPEC, tmp_path / "ds")  # on the 10 Hz grid every picture shows twice
    assert rejected is None and eps[0].behaviour.cam_repeat_period == 2 and eps[0].tier == QualityTier.high


def test_black_frames_demote_then_quarantine(tmp_path: Path) -> None:
    eps, rejected = ingest(planted(raw(1), plant.black_frames, fraction=0.3)[0], SPEC, tmp_path / "a")
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_cam_degenerate"]
    eps, rejected = ingest(planted(raw(1), plant.black_frames, fraction=0.95)[0], SPEC, tmp_path / "b")
    said = "qa_cam_degenerate: near-black, near-white or flat frames 95% > canonicalize.behaviour"
    assert eps == [] and f"{said}.degenerate_fraction_quarantine 90%" in rejected


def test_frozen_state_demotes(tmp_path: Path) -> None:
    eps, rejected = ingest(planted(raw(2), plant.frozen_state, seconds=1.5)[0], SPEC, tmp_path / "ds")
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_state_frozen_s"]
    assert eps[0].behaviour.state_frozen_s == pytest.approx(1.5, abs=0.1)


def test_one_frame_jump_demotes_in_sigmas(tmp_path: Path) -> None:
    eps, rejected = ingest(planted(raw(0), plant.jump, ELBOW, 0.6)[0], SPEC, tmp_path / "ds")
    # the FK wrist's one-frame jump in sigmas, and an excursion of the elbow or the wrist it carries
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_jump_sigma", "qa_glitch_value"]
    b = eps[0].behaviour
    assert b.jump_sigma > SPEC.behaviour.canonical_jump_sigma_low
    assert b.glitch_signal in ("state.right_arm.motor_25", "observation.state.right.wrist.z")


def test_saturated_native_joint_demotes_against_the_description_limit(tmp_path: Path) -> None:
    from ingest.kinematics import load_model

    model = load_model("gr1_arms")
    k = model.joint_names.index("right_elbow_pitch_joint")
    lower, upper = float(model.lower[k]), float(model.upper[k])  # rad, as the sample records
    r, p = planted(raw(4), plant.saturated_joint, ELBOW, upper, fraction=0.7)
    eps, rejected = ingest(r, SPEC, tmp_path / "ds")
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_native_saturated_fraction"]
    b, names = eps[0].behaviour, eps[0].natives.state_names
    assert [names[i] for i in b.native_saturated_dims] == ["state.right_arm.motor_25"]  # the elbow, ELBOW's column
    # at the limit: the planted clamp plus the frames it left within the tolerance band (1 % of the range) below it
    band = np.mean(p.episode.state[:, ELBOW] >= upper - SPEC.behaviour.saturation_tolerance * (upper - lower))
    assert p.expect < band and b.native_saturated_fraction == pytest.approx(band, abs=0.02)  # the 10 Hz grid
    reason = next(x for x in eps[0].tier_reasons if x.startswith("qa_native_saturated_fraction"))
    assert f"limit in {b.native_saturated_fraction:.0%} of frames > 50%" in reason
    # below the threshold (30 % of frames at the limit): measured, no finding
    eps, _ = ingest(planted(raw(4), plant.saturated_joint, ELBOW, upper, fraction=0.3)[0], SPEC, tmp_path / "b")
    assert eps[0].tier == QualityTier.high and 0.3 < eps[0].behaviour.native_saturated_fraction < 0.4  # + the band


def test_wraparound_is_cut_and_each_part_says_why(tmp_path: Path) -> None:
    stats = json.loads((realdata(g.SAMPLE) / "meta" / "stats.json").read_text())["observation.state"]
    span = stats["max"][ELBOW] - stats["min"][ELBOW]
    eps, rejected = ingest(planted(raw(1), plant.wraparound, ELBOW, 0.8 * span)[0], SPEC, tmp_path / "ds")
    assert rejected is None and len(eps) == 2  # the wrist-speed validity check cuts at the wrap
    for ep in eps:
        assert any(r.startswith("cut by validity") for r in ep.tier_reasons), ep.tier_reasons


def test_idle_ends_are_trimmed_with_their_reason(tmp_path: Path) -> None:
    r, _ = planted(raw(2), plant.idle_ends, 12.0, 12.0)
    eps, rejected = ingest(r, SPEC, tmp_path / "ds")
    (ep,) = eps
    keep = SPEC.behaviour.idle_keep_s
    assert rejected is None and ep.behaviour.idle_start_s == pytest.approx(12.0, abs=0.2)
    assert ep.num_frames == pytest.approx(len(raw(2).states["state.left_arm"]) / 2 + 2 * keep * SPEC.fps, abs=3)
    assert any(x.startswith("qa_idle trimmed (idle start 12.") for x in ep.tier_reasons)
    assert ep.tier == QualityTier.high, ep.tier_reasons  # trimmed, so kept: not a demotion


def test_action_of_another_recording_does_not_track(tmp_path: Path) -> None:
    other = episode_of(raw(1))
    r, _ = planted(raw(3), plant.not_tracking, other)
    eps, rejected = ingest(r, SPEC, tmp_path / "ds")
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_tracking_corr"]
    assert eps[0].behaviour.tracking_corr < SPEC.behaviour.native_tracking_corr_low


def test_nan_readings_are_cut_and_each_part_says_why(tmp_path: Path) -> None:
    eps, rejected = ingest(planted(raw(4), plant.nan_values, ELBOW, 3)[0], SPEC, tmp_path / "ds")
    assert rejected is None and len(eps) == 2  # validity drops the non-finite frames: no NaN reaches a dataset
    for ep in eps:
        assert np.isfinite(ep.natives.state).all() and any(r.startswith("cut by validity") for r in ep.tier_reasons)


def test_nan_in_a_native_column_quarantines(tmp_path: Path) -> None:
    """A NaN in a native column validity does not read (a signal the canonical state is not built from)."""
    r = raw(0)
    done = r.outcomes["next.done"]
    values = done.values.astype(np.float64)
    values[100:103] = np.nan
    bad = with_episode(r, episode_of(r))
    bad.outcomes["next.done"] = replace(bad.outcomes["next.done"], values=values)
    eps, rejected = ingest(bad, SPEC, tmp_path / "ds")
    said = "rejected: qa_nonfinite: 2 NaN/Inf values in the natives (quarantine at canonicalize.behaviour"
    assert eps == [] and f"{said}.nonfinite_quarantine 1+)" in rejected


def test_a_camera_slower_than_the_grid_is_not_frozen() -> None:
    """The real camera at 20/7 Hz (every 7th frame, as slow as the real 3 Hz fractal camera) on the 10 Hz grid: each
    picture shows on 3 or 4 grid frames by design; counted per source frame, nothing is frozen."""
    frames = g.episode(0).frames[::7]
    t = np.arange(len(frames)) * 7 / g.FPS
    idx = rs.nearest_at_or_before(t, np.arange(0, t[-1], 0.1))
    tap = FrameTap()
    for i in idx:
        tap.add("cam", frames[i])
    moving = np.ones(len(idx), bool)
    (cam,) = tap.cameras(SPEC.behaviour, moving, {"cam": idx}).values()
    assert cam.frozen_fraction == 0 and cam.frames == len(frames) - 1
    (per_grid_frame,) = tap.cameras(SPEC.behaviour, moving, {}).values()  # every grid frame counted
    assert per_grid_frame.frozen_fraction > SPEC.behaviour.frozen_camera_fraction_quarantine


def test_clean_real_episodes_measure_glitches_and_plateaus_far_from_their_bounds(clean: tuple[list, Path]) -> None:
    for (ep,), _ in clean[0]:
        b, c = ep.behaviour, SPEC.behaviour
        # the worst signal: 0.15 rad of an arm joint, 11 sigmas of a wrist, a resting hand's motor 0.67 of its range
        # (158 sigmas of its near-still steps): each at most 0.45 of one of its two bounds
        score = min(b.glitch_value / c.glitch_bound(b.glitch_unit), b.glitch_sigma / c.glitch_sigma_low)
        assert b.glitch_signal and score < 0.5
        assert b.plateau_fraction == 0.0 and b.plateau_signal.startswith("state.") and b.plateau_value is None
        assert b.stream_frozen_s < c.frozen_stream_s_low  # measured 0 s


def test_wrist_glitch_of_three_joints_demotes_with_its_column_value_and_bounds(tmp_path: Path) -> None:
    """+0.8 rad on the right wrist's yaw, roll and pitch for 0.1 s (2 frames at 20 Hz), the command untouched: the
    one-frame-jump check in sigmas of the FK wrist does not see it (the wrist's position barely moves)."""
    r = wrist_jump(raw(0), GR1_RIGHT_ARM, [4, 5, 6], 150)
    eps, rejected = ingest(r, SPEC, tmp_path / "ds")
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_glitch_value"], eps[
        0
    ].tier_reasons
    b = eps[0].behaviour
    assert b.glitch_unit == "rad" and b.glitch_value > 0.7 and b.glitch_frame in (74, 75, 76)  # 20 Hz frame 150
    assert (
        b.glitch_signal in {f"state.right_arm.motor_{k}" for k in (26, 27, 28)}
        or "right.wrist.rot6d" in b.glitch_signal
    )
    reason = next(x for x in eps[0].tier_reasons if x.startswith("qa_glitch_value"))
    assert f"left its trend by {b.glitch_value:.2f} rad" in reason and "> 0.30 rad and" in reason and "> 20" in reason


def test_arm_joint_clamped_inside_its_range_demotes_with_the_value_held(tmp_path: Path) -> None:
    r, top = clamp(raw(2), GR1_RIGHT_ARM, 3)  # the right elbow clipped at one value on 35 % of its frames
    eps, rejected = ingest(r, SPEC, tmp_path / "ds")
    assert rejected is None and eps[0].tier == QualityTier.low and codes(eps) == ["qa_plateau_fraction"], eps[
        0
    ].tier_reasons
    b = eps[0].behaviour
    assert b.plateau_signal == "state.right_arm.motor_25" and b.plateau_value == pytest.approx(top, abs=1e-6)
    reason = next(x for x in eps[0].tier_reasons if x.startswith("qa_plateau_fraction"))
    assert f"held {top:.4g} exactly, inside its limits, while its command moved, on {b.plateau_fraction:.0%}" in reason


def test_one_arm_stream_frozen_while_it_moves_demotes_with_the_stream(tmp_path: Path) -> None:
    """The right arm's stream held 1.5 s where it travels farthest, the seven other streams recording: no whole
    state row repeats (qa_state_frozen_s does not see it); the stream repeats its row while its command moves."""
    r = raw(3)
    v = r.states[GR1_RIGHT_ARM].values.astype(np.float64).copy()
    a = int(np.argmax(np.convolve(np.abs(np.diff(v, axis=0)).sum(axis=1), np.ones(30), mode="valid")))
    v[a : a + 30] = v[a]
    eps, rejected = ingest(with_state(r, GR1_RIGHT_ARM, v), SPEC, tmp_path / "ds")
    found = codes(eps)
    assert rejected is None and eps[0].tier == QualityTier.low and "qa_stream_frozen_s" in found, eps[0].tier_reasons
    assert "qa_state_frozen_s" not in found
    b = eps[0].behaviour
    assert b.stream_frozen_signal.startswith("state.right_arm") and b.stream_frozen_s == pytest.approx(1.5, abs=0.2)
    reason = next(x for x in eps[0].tier_reasons if x.startswith("qa_stream_frozen_s"))
    assert f"stream {b.stream_frozen_signal} frozen {b.stream_frozen_s:.2f} s mid-episode while its command" in reason
