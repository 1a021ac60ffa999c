"""The action contract (issues 55, 65): which action an episode has, in which space it can leave, and what each
consumer means by the action row at frame t. Every exporter and the trainer read this module; none decides it again.

Which action an episode has (`ActionKind`): the canonical one, its robot's own command, or none. A robot eidata has
no description of fills no canonical dim, so its 50-dim `action` is padding; yet its recording may hold a real command,
kept as `action.native` at 10 Hz. That command is the episode's action: it is not `actionless` (the quality step,
`ingest.qa.quality`), the catalog says so (`action_kind`), and every consumer trains on it (`ActionSpace.native`).

Where a row's value belongs in time (`Timing`) is the one convention the consumers do not share:

- eidata's corpus and trainer: row t holds what was commanded at t: the canonical wrist delta t -> t+1, the gripper
  command at t, the fingertips at t+1 (DESIGN.md section 3); the trainer's chunk for an observation at t is rows
  t .. t+K-1 (`training/episodes.py` `anchors`).
- LeRobot: row t holds the command sent at t, recorded in the same frame as the observation read just before it
  (huggingface/lerobot `src/lerobot/record.py` `record_loop` @ v0.3.3: `observation = robot.get_observation()`,
  `sent_action = robot.send_action(action)`, one `frame` built of both).
- GR00T: row t is the recorded command at t, read as it is: for a step at row t its loader takes every key's rows
  `t + delta_indices` (NVIDIA/Isaac-GR00T `gr00t/data/dataset.py:702` @ f4e12be), its data configs the observation
  at t and the action chunk t .. t+15 (`gr00t/experiment/data_config.py:64-65`: `observation_indices = [0]`,
  `action_indices = list(range(16))`); `meta/modality.json` says per part whether it is absolute (the default,
  `gr00t/data/schema.py:68`: past the episode's end the last row repeats) or relative (0 there, `dataset.py:733`).
- LDA-1B: row t of an end-effector action holds the pose OBSERVED at t, the same column as the state (its own
  modality template maps one column to both: jiangranlv/latent-dynamics-action `lda/dataloader/
  calculate_delta_min_max.py` @ 99bf08b). With `use_delta_action` it differences consecutive rows itself
  (`lda/utils/rotation_convert.py` `calculate_delta_eef`, called from `gr00t_lerobot/datasets.py`
  `get_delta_action_from_raw_data`) and moves gripper and hand rows one step forward (`get_next_state`), so a chunk
  read from t starts with the motion t -> t+1 and the gripper state at t+1. Joint-space robots go to LDA as
  `{side}_arm` / `{side}_hand` joint rows read as they are (`gr00t_lerobot/data_config.py` joint configs); a robot
  without a description as its `action.native` under one key read as it is (`schemas/lda.py` NATIVE_KEY), its row t
  the command given at t.

An exporter converts the corpus's `commanded` rows to its consumer's `Timing` with `rows_for`; the consumers' values
are proven against the corpus's recorded states, never against the exported rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from schemas.tiers import NO_DESCRIPTION, QualityTier, TierVerdict, tier_of


class ActionKind(StrEnum):
    canonical = "canonical"  # the action mask fills at least one of the 50 canonical dims
    native = "native"  # no canonical dim, but `action.native` holds a command that moves
    none = "none"  # neither: visual forecasting only


class NotCanonical(StrEnum):
    """Why an episode has no canonical action (issue 97 item 4): the code of the note canonicalization puts first on an
    episode without a canonical dim (`ingest.canonical.canonicalize`), set where the cause is found (an adapter, the
    joint space, the layout), so the lineage (`tier_verdicts`), the catalog (`tier_codes`) and the ingest summary read
    one cause, never one read back from a sentence (newcomer review 10, D6: a described SO-101 and robosuite Panda
    were summed up as "no robot description")."""

    no_description = NO_DESCRIPTION  # its robot has no kinematic description here
    robot_not_shown = "source_robot_not_shown"  # the recording does not show which robot recorded it
    no_observation = "source_no_observation"  # the recording holds no observation a hand is built from
    joints_unread = "canonical_joints_unread"  # the description's joints are not all read from the recording
    joint_units = "canonical_joint_units"  # the joints' unit is not settled, or it needs a calibration not given
    no_hand_signal = "canonical_no_dims"  # the source declares no hand signal


# each cause as the ingest summary's action legend says it
NOT_CANONICAL_WORDS: dict[NotCanonical, str] = {
    NotCanonical.no_description: "no robot description",
    NotCanonical.robot_not_shown: "the recording does not show its robot",
    NotCanonical.no_observation: "no observation recorded to build a hand from",
    NotCanonical.joints_unread: "the robot description's joints not read",
    NotCanonical.joint_units: "joint units not settled",
    NotCanonical.no_hand_signal: "no hand signal declared",
}


def not_canonical(verdicts: Iterable[TierVerdict]) -> NotCanonical | None:
    """Why an episode with these verdicts (in their order) has no canonical action: the code of the first note that
    names a `NotCanonical` cause, or None (a video-only episode: nothing was lost)."""
    causes = {c.value: c for c in NotCanonical}
    return next((causes[v.code] for v in verdicts if v.tier is QualityTier.high and v.code in causes), None)


class ActionSpace(StrEnum):
    """The space an export or the trainer takes the action in (the user's choice, `--action-space`)."""

    canonical = "canonical"  # the 50-dim hand-centric space: wrist pose, gripper, fingertips per hand
    joints = "joints"  # a described robot's joint targets (its `action.native`, mapped by its joint-space spec)
    native = "native"  # the recording's own command as it was recorded (`action.native`), whatever it holds


class Timing(StrEnum):
    """Which frame's value row t of an action holds."""

    commanded = "commanded"  # what was commanded at t (reached at about t+1): eidata's corpus, LeRobot, GR00T
    observed = "observed"  # the pose observed at t; the consumer takes row t+1 as the target (LDA)


class Reference(StrEnum):
    absolute = "absolute"  # a pose or a joint target in a fixed frame
    relative = "relative"  # the motion from t to t+1 (a canonical wrist delta)


@dataclass(frozen=True)
class Convention:
    """One consumer's reading of an action row: which frame it belongs to and whether it is absolute."""

    consumer: str
    timing: Timing
    reference: Reference
    cite: str


CONVENTIONS: dict[str, Convention] = {
    c.consumer: c
    for c in (
        Convention("eidata", Timing.commanded, Reference.relative, "DESIGN.md section 3; training/episodes.py"),
        Convention("lerobot", Timing.commanded, Reference.absolute, "huggingface/lerobot record.py record_loop"),
        Convention(
            "gr00t",
            Timing.commanded,
            Reference.absolute,
            "NVIDIA/Isaac-GR00T @ f4e12be gr00t/experiment/data_config.py:64-65 (action_indices = list(range(16))), "
            "gr00t/data/dataset.py:702 (rows t + delta_indices), gr00t/data/schema.py:68 (absolute by default)",
        ),
        Convention("lda", Timing.observed, Reference.absolute, "latent-dynamics-action calculate_delta_min_max.py"),
    )
}


def rows_for(n: int, timing: Timing) -> np.ndarray:
    """Per exported frame t (of `n`), the row of the corpus's recorded STATE whose pose the consumer's action row t
    holds, for an absolute pose action: `commanded` -> t+1 (the pose the command at t reached; the last frame holds its
    own), `observed` -> t."""
    t = np.arange(n)
    return np.minimum(t + 1, max(n - 1, 0)) if timing is Timing.commanded else t


def native_command_moves(native: np.ndarray | None, valid: np.ndarray | None = None) -> bool:
    """Whether a native action (N, D) holds a real command: a finite value in at least one column that takes more
    than one value over the frames where its stream has a sample (`valid` 1; every frame without it). A column
    constant over the episode is padding or a command never given, whatever its value."""
    if native is None or native.ndim != 2 or native.size == 0:
        return False
    values = np.asarray(native, dtype=np.float64)
    present = np.isfinite(values)
    if valid is not None and np.shape(valid) == values.shape:
        present &= np.asarray(valid) > 0
    for col in range(values.shape[1]):
        x = values[present[:, col], col]
        if len(x) > 1 and np.ptp(x) > 0:
            return True
    return False


def action_kind(mask: np.ndarray, native: np.ndarray | None, valid: np.ndarray | None = None) -> ActionKind:
    """The kind of an episode's action: canonical where its mask fills a dim, else native where its native command
    moves (`native_command_moves`), else none."""
    if np.asarray(mask, dtype=bool).any():
        return ActionKind.canonical
    return ActionKind.native if native_command_moves(native, valid) else ActionKind.none


def trainable_spaces(kind: ActionKind, *, has_native: bool, has_joint_map: bool) -> tuple[ActionSpace, ...]:
    """The spaces an episode's action can leave in: canonical where it has canonical dims, joints where a described
    robot's joint targets are its native command, native where a native command is kept (`has_native`)."""
    if kind is ActionKind.none:
        return ()
    if kind is ActionKind.native:
        return (ActionSpace.native,)
    joints = (ActionSpace.joints,) if has_native and has_joint_map else ()
    return (ActionSpace.canonical, *joints, *((ActionSpace.native,) if has_native else ()))


def routed_tier(tier: QualityTier | str, kind: ActionKind) -> QualityTier:
    """The tier whose routing row an episode trains by: its own, except that an episode without an action (kind
    none) can only forecast, whatever tier it was given. An episode with a command, canonical or native, is never
    routed as actionless."""
    return tier_of(QualityTier(tier), [] if kind is not ActionKind.none else [QualityTier.actionless])
