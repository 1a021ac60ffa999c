"""QA per dataset (`ingest.qa.dataset`): the geometry QA's episodes pooled as documented, one finding per failed
invariant naming its measured value and threshold, none for a clean dataset; task balance, too-short episodes."""

from __future__ import annotations

import pytest

from ingest.qa.dataset import (
    dataset_findings,
    episode_verdicts,
    geometry_findings,
    geometry_overview,
    geometry_summary,
    short_episodes,
    task_balance,
)
from schemas.behaviour import BehaviourConfig
from schemas.qa import APPROACH_BINS, QAConfig, QARecord

CFG = QAConfig()
# A plausible two-handed human dataset: every invariant passes.
CLEAN = dict(
    frames=100,
    hands_in_front=1.0,
    hands_in_image=0.9,
    hands_ahead=1.0,
    hands_below_eyes=0.98,
    approach_down=0.6,
    approach_side=0.4,
    approach_up=0.0,
    speed_p50=0.2,
    speed_p95=0.8,
    speed_p99=1.0,
    speed_limit=4.0,
    acc_p50=1.0,
    acc_p95=5.0,
    acc_p99=8.0,
    acc_limit=40.0,
    hand_length=0.185,
    bone_length_cv=0.01,
    gripper_min=0.0,
    gripper_p5=0.05,
    gripper_p95=0.95,
    gripper_max=1.0,
    action_pos_err=1e-7,
    action_rot_err=1e-5,
    left_of_right=0.97,
)


def one(**changes: float) -> list[str]:
    summary = geometry_summary("datasets/x/y", [QARecord(**(CLEAN | changes))])
    assert summary is not None
    return [f.code for f in geometry_findings(summary, CFG)]


def test_a_clean_dataset_has_no_finding() -> None:
    assert one() == []


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"hands_in_front": 0.0, "hands_in_image": 0.0}, ["qa_hands_in_front", "qa_hands_in_image"]),  # behind
        ({"hands_in_image": 0.3}, ["qa_hands_in_image"]),
        ({"hands_ahead": 0.0, "left_of_right": 0.0}, ["qa_hands_ahead", "qa_left_of_right"]),  # heading turned around
        ({"hands_below_eyes": 0.1}, ["qa_hands_below_eyes"]),  # up is not up
        ({"approach_down": 0.0, "approach_side": 0.03, "approach_up": 0.97}, ["qa_approach_up"]),  # Bridge's old bug
        ({"speed_p99": 5.0}, ["qa_wrist_speed"]),
        ({"acc_p99": 90.0}, ["qa_wrist_acceleration"]),
        ({"hand_length": 18.5}, ["qa_hand_length"]),  # centimetres stored as metres
        ({"hand_length": 0.0185}, ["qa_hand_length"]),  # millimetres divided once too often
        ({"bone_length_cv": 0.4}, ["qa_bone_length_cv"]),
        ({"gripper_min": 0.0, "gripper_max": 0.08}, ["qa_gripper_max"]),  # taco_play's width in metres
        ({"gripper_max": 120.0}, ["qa_gripper_range"]),  # AgiBot's raw 0..120
        ({"action_pos_err": 0.02}, ["qa_action_pos_err"]),
        ({"action_rot_err": 90.0}, ["qa_action_rot_err"]),
        ({"left_of_right": 0.02}, ["qa_left_of_right"]),  # hands swapped or the frame mirrored
        ({"hands_past_video": 0.2}, ["qa_hands_past_video"]),  # hands annotated past the video's end
    ],
)
def test_each_failed_invariant_is_named(changes: dict[str, float], code: list[str]) -> None:
    assert one(**changes) == code


def test_a_finding_names_the_measured_value_and_the_threshold() -> None:
    summary = geometry_summary("d", [QARecord(**(CLEAN | {"hand_length": 1.85}))])
    (f,) = geometry_findings(summary, CFG)
    assert (f.value, f.threshold) == (1.85, 0.24)
    assert "1.850 m" in f.message and "[0.14, 0.24] m" in f.message


def test_the_hand_projection_bounds_also_judge_each_episode() -> None:
    """hands_in_image and hands_past_video carry a tier in bounds.toml: an episode past one is lowered to low, its
    reason naming the value and the bound; the other bounds judge datasets only, and a clean episode gets nothing."""
    assert episode_verdicts(QARecord(**CLEAN), CFG) == []
    assert episode_verdicts(QARecord(**(CLEAN | {"hands_below_eyes": 0.0, "hand_length": 1.85})), CFG) == []
    out = episode_verdicts(QARecord(**(CLEAN | {"hands_in_image": 0.2, "hands_past_video": 0.05})), CFG)
    assert [(v.code, v.tier.value) for v in out] == [("qa_hands_in_image", "low"), ("qa_hands_past_video", "low")]
    assert "in 20% of frames (expected at least 50%)" in out[0].reason and "5% of the hand samples" in out[1].reason
    assert episode_verdicts(QARecord(**(CLEAN | {"hands_in_image": 0.2})), QAConfig(min_in_image_fraction=0.1)) == []


def test_thresholds_are_data() -> None:
    summary = geometry_summary("d", [QARecord(**(CLEAN | {"hands_in_image": 0.6}))])
    assert geometry_findings(summary, CFG) == []
    assert [f.code for f in geometry_findings(summary, QAConfig(min_in_image_fraction=0.8))] == ["qa_hands_in_image"]


def test_episodes_are_pooled_as_documented() -> None:
    hist = [0] * APPROACH_BINS
    hist[0] = 10
    a = QARecord(
        frames=10,
        hands_in_front=1.0,
        speed_p99=1.0,
        gripper_min=0.1,
        gripper_max=0.6,
        action_pos_err=1e-6,
        approach_hist=hist,
    )
    b = QARecord(
        frames=30,
        hands_in_front=0.0,
        speed_p99=3.0,
        gripper_min=0.0,
        gripper_max=0.9,
        action_pos_err=0.1,
        approach_hist=hist,
    )
    c = QARecord(frames=20, speed_p99=2.0)
    s = geometry_summary("d", [a, b, c, None])
    assert s is not None and s.episodes == 3 and s.record.frames == 60
    assert s.record.hands_in_front == pytest.approx(0.25)  # frame-weighted over the episodes that measured it
    assert s.record.speed_p99 == 2.0  # median over episodes
    assert (s.record.gripper_min, s.record.gripper_max) == (0.0, 0.9)  # extremes
    assert s.record.action_pos_err == 0.1  # the worst episode
    assert s.record.approach_hist[0] == 20  # summed
    assert geometry_summary("d", [None, None]) is None  # no eidata QA: nothing to say


def test_overview_line() -> None:
    text = geometry_overview(geometry_summary("d", [QARecord(**CLEAN)]))
    assert "hands in front of the camera 100%" in text and "ahead of the wearer 100%" in text
    assert "hand length 0.185 m" in text and "left hand on the left 97%" in text
    assert "no invariant applies" in geometry_overview(geometry_summary("d", [QARecord(frames=5)]))


def test_task_balance_of_the_bridge_sample_counts() -> None:
    # the octo bridge debug sample's instructions: 8 carrot, 6 cup, 6 lever, 5 pot (its README)
    tasks = ["carrot"] * 8 + ["cup"] * 6 + ["lever"] * 6 + ["pot"] * 5
    b = task_balance(tasks, BehaviourConfig())
    assert (b.tasks, b.ratio, b.imbalanced) == (4, 1.6, False)
    skewed = task_balance(["a"] * 50 + ["b"] * 4, BehaviourConfig())
    assert skewed.imbalanced and skewed.ratio == 12.5


def test_short_episodes_for_a_policy_window() -> None:
    # bridge episodes are 10 steps at 5 Hz: too short for a 16-frame window, fine for an 8-frame one
    assert short_episodes([10, 10, 40], BehaviourConfig()) == [0, 1]
    assert short_episodes([10, 10, 40], BehaviourConfig(), window=8) == []


def test_dataset_findings_name_the_episodes() -> None:
    found = dataset_findings(["a"] * 30 + ["b"] * 2, [40, 10, 40, 40], BehaviourConfig())
    by = {f.code: f for f in found}
    assert set(by) == {"qa_task_imbalance", "qa_short_episodes"}  # copies: the verdict step, on the signals
    assert by["qa_task_imbalance"].value == 15.0 and by["qa_short_episodes"].episodes == (1,)
    assert dataset_findings(["a", "b"], [40, 40], BehaviourConfig()) == []


def test_behaviour_messages_list_every_episode_of_a_finding() -> None:
    """The message names the worst `LISTED` and says how many more; the list beside it names all 12, so `eidata
    validate --json` does. An explained hold is a note that lowers nothing (tier high)."""
    from ingest.qa.dataset import behaviour_messages, behaviour_summary
    from schemas.behaviour_record import BehaviourRecord
    from schemas.tiers import QualityTier

    explained = {"explained_checks": ["qa_stream_frozen_s"], "explained_by": ["range_end"]}
    explained |= {"explained_signals": ["state.right_hand"], "explained_values": [11.1]}
    recs = [BehaviourRecord(state_frozen_s=1.0 + k, **(explained if k == 0 else {})) for k in range(12)]
    labels = [f"ep{k}" for k in range(12)]
    b = behaviour_summary("d", labels, recs, ["t"] * 12, [100] * 12, BehaviourConfig())
    rows = {code: (msg, tier, every) for code, msg, tier, every in behaviour_messages(b)}
    msg, tier, every = rows["qa_state_frozen_s"]
    assert msg.startswith("12 of 12 episodes -> low") and msg.endswith("and 9 more") and tier == QualityTier.low
    assert every == labels
    msg, tier, every = rows["qa_explained_range_end"]
    assert tier == QualityTier.high and every == ["ep0"]
    assert "qa_stream_frozen_s not lowered: state.right_hand held at an end of its range" in msg
