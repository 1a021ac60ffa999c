"""Behaviour QA: the thresholds (`BehaviourConfig`, data in a job spec); one episode's values are `BehaviourRecord`
(`schemas.behaviour_record`).

The geometry QA (`schemas.qa`) asks whether the numbers are physically right; behaviour QA asks whether the recording
behaved: a camera that froze, a state that stopped updating, a joint that never moves or sits at its limit, a jump no
motor makes, idle stretches at the start and end, actions the state does not follow, NaN/Inf, the same demonstration
stored twice. Every check measures a value (`ingest.qa.*`); `ingest.qa.findings` compares the record with
the config and says which finding demotes the episode to `low` and which quarantines it, naming value and threshold.

At ingest (`ingest.qa.phase`, `CanonicalizeSpec.behaviour`) the record is measured on each canonical episode
and its natives, the cameras on the frames the writer encodes, and stored in the lineage (`EpisodeLineage.behaviour`,
the thresholds beside it in `behaviour_config`).
A `BehaviourRecord` is flattened into the catalog beside the geometry QA as one nullable `qa_<field>` column per field
(`schemas.qa.catalog_fields`); a field is None where its check does not apply (no camera, no native state, no
action). The verdict step (`eidata verdicts`) adds the copy columns (`CopyColumns`); the catalog build indexes
them (`jobs.catalog.rows`).

Default thresholds were measured on real samples: the GR00T PickNPlace episodes (tests/REAL_SAMPLES.md, tested in
`tests/ingest/qa/test_planted.py` on the natives and `test_phase.py` through ingest), the Bridge debug shard
and a real AgiBot arm log (soul667/DatasetTools @ 8971d93, not redistributable: `test_real_agibot.py` skips without
it); each default sits clear of what the clean episodes give (the figures are in the field descriptions).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BehaviourConfig(BaseModel):
    """Thresholds of the behaviour checks. `*_low` demotes the episode to `low`; `*_quarantine` quarantines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- cameras -----------------------------------------------------------------------------------------------------
    static_pair_diff: float = Field(
        0.5 / 255,
        gt=0,
        description="two consecutive frames whose mean absolute grey difference (0..1) is below this"
        " are the same picture (lerobot-lint's FROZEN_CAMERA bound; decoded AV1/H.264 of a moving scene stays above)",
    )
    frozen_drift: float = Field(
        16 / 255,
        gt=0,
        description="a run of same pictures is frozen only if its last frame still matches its first"
        " within this grey level everywhere (H.264 noise on a repeated picture measured up to 14/255, AV1 0; a slow"
        " arm drifts far past it)",
    )
    frozen_camera_s_low: float = Field(
        1.0,
        gt=0,
        description="a camera showing the same picture this long (s) while the state moves demotes to low;"
        " a repeat cadence (a 15 Hz camera stored at 30 fps repeats every other frame) never reaches it",
    )
    frozen_camera_fraction_quarantine: float = Field(
        0.5, gt=0, le=1, description="a camera frozen over more than this fraction of the moving frames quarantines"
    )
    dark_level: float = Field(10 / 255, gt=0, lt=1, description="a frame whose mean grey (0..1) is below is near-black")
    bright_level: float = Field(245 / 255, gt=0, lt=1, description="a frame whose mean grey is above is near-white")
    bright_std: float = Field(
        10 / 255,
        gt=0,
        description="a bright frame is near-white only if its grey standard deviation (0..1) is below this too: a"
        " whited-out picture keeps no texture (real frames washed out by glare until near-white: 0.002-0.023), a"
        " clean white scene does (Diffusion Policy's PushT renders, mean 0.967-0.978: 0.068-0.090)",
    )
    flat_std: float = Field(
        2 / 255, gt=0, description="a frame whose grey standard deviation (0..1) is below is flat (a dead feed, a cap)"
    )
    degenerate_fraction_low: float = Field(
        0.1, ge=0, le=1, description="near-black, near-white or flat frames above this fraction demote to low"
    )
    degenerate_fraction_quarantine: float = Field(
        0.9, ge=0, le=1, description="near-black, near-white or flat frames above this fraction quarantine"
    )
    # -- state -------------------------------------------------------------------------------------------------------
    frozen_state_s_low: float = Field(
        0.5,
        gt=0,
        description="identical state rows mid-episode (not touching start or end) this long (s) demote to"
        " low: a recorder hiccup or serial dropout (lerobot-lint: 15 frames at 30 fps)",
    )
    dead_range_fraction: float = Field(
        1e-4,
        gt=0,
        description="a dim in use whose range over the episode is below this fraction of its limit range"
        " is dead (a 12-bit encoder's one tick is 2.4e-4 of a turn: a dead motor reads a constant)",
    )
    dead_range_m: float = Field(
        1e-6,
        gt=0,
        description="a metre dim is dead only when its range is below this too: a held reading, float32-rounded"
        " (the real GR00T sample's resting left wrist drifts 0.6-1 mm over an episode: resting, not dead)",
    )
    moving_range_fraction: float = Field(
        0.01,
        gt=0,
        description="a dim moves when its range exceeds this fraction of its limit range; a dead dim counts"
        " only in an episode where another dim moves",
    )
    min_move_rad: float = Field(0.02, ge=0, description="a radian dim moves only when its range exceeds this too")
    min_move_m: float = Field(0.005, ge=0, description="a metre dim moves only when its range exceeds this too")
    saturation_tolerance: float = Field(
        0.01, ge=0, description="a value within this fraction of the limit range of a limit is at the limit"
    )
    saturated_fraction_low: float = Field(
        0.9,
        gt=0,
        le=1,
        description="a dim at one of its limits in more than this fraction of frames demotes to low;"
        " a dexterous hand's fingers resting open at their range end for half an episode are not saturated",
    )
    native_saturated_fraction_low: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a native arm joint within saturation_tolerance of a limit of its description (in the decided"
        " unit) in more than this fraction of frames demotes to low (a calibration offset clamps it there). The real"
        " GR00T GR1 episodes' 14 arm joints measure 1.9-4.9 % at a limit; their right wrist read past the MJCF's copied"
        " limit (35-82 % of frames) is not at it; hands and grippers rest at range ends and are not counted",
    )
    max_joint_speed_rad_s: float = Field(
        10.0,
        gt=0,
        description="a radian dim stepping faster than this between two frames jumped (lerobot-lint: 8"
        " rad/s for hobby servos; industrial arms peak near 3 rad/s)",
    )
    max_step_speed_m_s: float = Field(
        3.0, gt=0, description="a metre dim stepping faster than this jumped (the validity default wrist speed limit)"
    )
    jump_sigma_low: float = Field(
        150.0,
        gt=0,
        description="a one-frame step whose acceleration spikes in and out this many robust sigmas of the"
        " dim's own accelerations (1.4826 MAD over moving frames) demotes to low (clean GR00T arms: 25-62)",
    )
    canonical_jump_sigma_low: float = Field(
        20.0,
        gt=0,
        description="jump_sigma_low for the canonical state at ingest (wrist metres on the 10 Hz grid): clean real"
        " wrists measure 0-4 (GR00T, Bridge) and 8.9 (AgiBot, a real arm at 30 Hz); a planted 0.6 rad one-frame"
        " elbow glitch on GR00T measures 41",
    )
    jump_range_fraction_quarantine: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a single step over this fraction of the limit range quarantines (an encoder"
        " wrap-around, a teleport: lerobot-lint's DISCONTINUITY)",
    )
    nonfinite_quarantine: int = Field(1, ge=1, description="this many NaN/Inf values in the natives quarantine")
    # -- glitches and plateaus, in every signal (`ingest.qa.glitch`, `ingest.qa.plateau`) -------------
    # Measured on real recordings with `benchmarks/behaviour_real.py` (BENCHMARKS.md "Glitches and plateaus"): the G1
    # Inspire teleop set (100 episodes), GR00T PickNPlace (5), Bridge (50), the AgiBot arm log (1).
    glitch_max_s: float = Field(
        0.3,
        gt=0,
        description="the longest excursion that is a glitch (s): the trend is a running median over twice this plus"
        " a frame (0.7 s on the 10 Hz grid), which such an excursion cannot move; one out for 1 s is a move",
    )
    glitch_sigma_low: float = Field(
        20.0,
        gt=0,
        description="a glitch is at least this many robust sigmas of its signal's own steps (clean real worst: 11,"
        " a GR00T wrist; G1 2.6, Bridge 2.7, AgiBot 5.6; a planted 0.8 rad wrist glitch on G1 >= 40)",
    )
    glitch_rad_low: float = Field(
        0.3,
        gt=0,
        description="and, for a joint or a rotation (the angle its axes turn), more than this (rad) off its trend"
        " (clean real worst: 0.15 GR00T, 0.098 AgiBot, 0.066 G1, 0.023 Bridge; planted 0.8 rad measures 0.76-0.80)",
    )
    glitch_m_low: float = Field(
        0.08,
        gt=0,
        description="for a position, more than this (m) (clean real worst: 0.032 GR00T's wrist, 0.014 AgiBot, 0.007"
        " G1 and Bridge; a 0.8 rad wrist glitch moves the FK wrist only 0.02-0.03 m: its rotation finds it)",
    )
    glitch_span_low: float = Field(
        1.5,
        gt=0,
        description="for a column of unknown unit (a normalized finger), more than this many times the range its trend"
        " covers in the episode, less its command's own excursion (clean real worst: 0.77 a G1 thumb, 0.67 a resting"
        " GR00T hand motor)",
    )
    plateau_min_s: float = Field(
        0.5, gt=0, description="a plateau counts runs of one exact reading at least this long (s)"
    )
    plateau_fraction_low: float = Field(
        0.1,
        gt=0,
        le=1,
        description="a commanded arm joint reading one value exactly, inside its limits, while its command moves, on"
        " more than this share of the moving frames demotes to low (clean real arms: 0 in every episode, G1 and"
        " GR00T; a joint clipped at one value on 35 % of its frames measures 0.18-0.45)",
    )
    explain_holds: bool = Field(
        True,
        description="judge each hold against its command and its range before it lowers a tier (`ingest.qa.explain`);"
        " off, every hold lowers as it did before (the reference `benchmarks.behaviour_explained` measures against)",
    )
    explain_lag_s: float = Field(
        0.2,
        ge=0,
        description="a held reading is judged against its command less this long at the end of the hold: the state"
        " follows its command a frame or two later (the real two-hand LeRobot v3.0 rig's command leads its state by one"
        " frame, so its last held frame sees the command already gone)",
    )
    deadband_quanta: float = Field(
        16.0,
        gt=0,
        description="a quantised reading (its smallest step: one encoder tick) held while its command stays within this"
        " many of its steps of it is a servo inside its deadband, not a frozen sensor (`ingest.qa.explain`). Real"
        " holds measured: the SO-101 follower's gripper 7 ticks (12-bit), the two-hand rig's arm 14 ticks (14-bit,"
        " 0.31 deg)",
    )
    contact_error_fraction: float = Field(
        0.1,
        gt=0,
        le=1,
        description="a column held while its command pushes past it by at most this share of its travel over the"
        " episode (state or command), never back across, is held short by its compliance (contact or load, whichever"
        " way it then leaves; `ingest.qa.explain`). An arm joint of a description only where its reading is quantised"
        " (encoder ticks): a continuous reading held bit-exact reads as a clamp",
    )
    clamp_fraction_low: float = Field(
        0.1,
        gt=0,
        le=1,
        description="a commanded joint whose state AND command sit at one value inside its limits (a software limit"
        " set narrower than the robot's), reached at speed and left again, on more than this share of the moving frames"
        " demotes to low (`ingest.qa.explain.channel_clamp`)",
    )
    frozen_stream_s_low: float = Field(
        0.5,
        gt=0,
        description="one native stream (a source stream: one arm of several; or two or more of the description's"
        " arm joints together) repeating its row mid-episode this long (s) while its command moves demotes to low,"
        " as frozen_state_s_low for the whole state (clean real streams: at most 0.2 s in the G1 set's 100 episodes,"
        " 0 s in GR00T's and AgiBot's)",
    )
    # -- idle --------------------------------------------------------------------------------------------------------
    idle_range_fraction: float = Field(
        0.01,
        gt=0,
        description="the robot is idle while no moving dim has left its first (last) value by this fraction"
        " of its limit range",
    )
    idle_trim: bool = Field(True, description="return trim ranges cutting idle starts and ends past idle_keep_s")
    idle_keep_s: float = Field(
        2.0,
        ge=0,
        description="seconds of an idle start or end kept beside the motion; only longer idle ends are cut (the real"
        " samples' idle ends measure 0.1-0.2 s GR00T, up to 0.9 s Bridge, 1.0 and 1.5 s AgiBot: none is cut)",
    )
    idle_s_low: float = Field(
        10.0, gt=0, description="an idle start or end longer than this (s) demotes to low when not trimmed"
    )
    idle_fraction_quarantine: float = Field(
        0.95, gt=0, le=1, description="an episode idle over more than this fraction of its frames quarantines"
    )
    # -- tracking ----------------------------------------------------------------------------------------------------
    tracking_max_lag_s: float = Field(0.5, gt=0, description="the state follows the command within this lag")
    tracking_min_frames: int = Field(
        30,
        ge=8,
        description="tracking is measured on episodes of at least this many frames: a correlation over fewer"
        " is noise (the real 10-step Bridge episodes measure 0.23 to 0.81 for their delta actions)",
    )
    tracking_corr_low: float = Field(
        0.5,
        ge=-1,
        le=1,
        description="a moving dim whose state correlates with its action below this at the best lag"
        " demotes to low (lerobot-lint: 0.8 at lag 0)",
    )
    native_tracking_corr_low: float = Field(
        0.8,
        ge=-1,
        le=1,
        description="tracking_corr_low at ingest, for the median over the commanded native columns (lerobot-lint's"
        " 0.8): the real GR00T episodes measure 0.97-0.99, each with the action of another demonstration of the"
        " same task 0.57-0.66",
    )
    # -- duplicates --------------------------------------------------------------------------------------------------
    fingerprint_rate_hz: float = Field(2.0, gt=0, description="the fingerprint samples the signal at this rate")
    fingerprint_step: float = Field(
        0.02, gt=0, description="quantisation step of the fingerprint in units of each dim's limit range"
    )
    fingerprint_step_m: float = Field(
        0.03,
        gt=0,
        description="largest quantisation step of a metre dim (m): the canonical wrists of the real GR00T episodes"
        " on the 10 Hz grid give copies (trimmed 7 frames, float32) 0.91-0.97 and distinct demonstrations <= 0.56",
    )
    fingerprint_hashes: int = Field(32, ge=4, description="min-hash values per episode")
    fingerprint_bands: int = Field(
        16,
        ge=1,
        description="LSH bands of one pairing (hashes / bands rows each): 2 rows, so a copy at similarity 0.3 still"
        " shares a band with its original (`benchmarks/duplicates_scale.py`: copies of real recordings trimmed or"
        " re-gridded)",
    )
    fingerprint_band_pairings: int = Field(
        3,
        ge=1,
        description="independent groupings of the hashes into bands (the first in order, the others fixed"
        " permutations): a copy sharing 10 of 32 hashes shares a band of one pairing with probability 0.87, of one of"
        " three 0.998 (`benchmarks/duplicates_scale.py`: recall 0.988 -> 0.995 at 100,000 episodes of one task)",
    )
    duplicate_candidate_similarity: float = Field(
        0.25,
        gt=0,
        le=1,
        description="a later episode whose fingerprint is this similar (estimated Jaccard) to an earlier one's is a"
        " duplicate candidate, then verified on the signals (`copy_tolerance`); a bar for recall, not a verdict"
        " (`benchmarks/duplicates_scale.py`, repetitions of the real GR00T recordings: copies trimmed 11 frames or"
        " re-gridded half a frame later 0.22-1.0 at 100k episodes, 5th percentile 0.375; distinct repetitions mostly"
        " below 0.15)",
    )
    copy_tolerance: float = Field(
        0.1,
        gt=0,
        description="a candidate is a copy when, aligned (lag and sub-frame shift), the copy_quantile of its per-frame"
        " worst difference is at most this fraction of each dim's dataset range (`ingest.qa.copies`)",
    )
    copy_quantile: float = Field(
        0.9,
        gt=0,
        le=1,
        description="quantile over the aligned frames of the per-frame worst difference (the real G1 teleop set on the"
        " 10 Hz grid: copies trimmed, re-gridded at another phase or from 15 Hz measure <= 0.062, its 4,950 pairs of"
        " distinct demonstrations >= 0.17; `benchmarks/duplicates_real.py`)",
    )
    copy_min_overlap: float = Field(
        0.8,
        gt=0,
        le=1,
        description="a copy overlaps at least this fraction of the shorter episode (a trimmed copy keeps most of it)",
    )
    dead_dims_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a dim motionless in an episode is dead when at least this share of the dataset's other episodes"
        " move it (a planar robot's height, a humanoid's legs in an arms-only dataset never move: not a defect)",
    )
    # -- dataset -----------------------------------------------------------------------------------------------------
    policy_window_frames: int = Field(
        16, ge=1, description="observation + action chunk frames a policy needs: a shorter episode is too short"
    )
    task_imbalance_ratio: float = Field(
        10.0,
        gt=1,
        description="a dataset whose largest task has this many times the episodes of its smallest is"
        " imbalanced (lerobot-doctor: 10x)",
    )

    def glitch_bound(self, unit: str | None) -> float:
        """The physical bound of a glitch in `unit` (rad, m, else span)."""
        return {"rad": self.glitch_rad_low, "m": self.glitch_m_low}.get(unit or "span", self.glitch_span_low)
