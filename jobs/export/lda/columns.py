"""The LDA columns of one canonical episode and the `meta/modality.json` of a layout (contract: `schemas/lda.py`).

Pure: arrays in, arrays out. Rotation: the canonical 6-D (two columns of R, `ingest/frames.py`) -> R -> roll, pitch,
yaw with R = Rz(yaw) Ry(pitch) Rx(roll), LDA's own convention (jiangranlv/latent-dynamics-action@99bf08b:
lda/utils/rotation_convert.py:35-54), i.e. scipy's extrinsic "xyz" (pitch in [-pi/2, pi/2], as its
`batched_R_to_rpy` `:3-33`); at pitch = +-90 deg the split between roll and yaw differs from LDA's, R does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from ingest.frames import rot6d_to_matrix
from schemas.actions import CONVENTIONS, rows_for
from schemas.canonical import (
    ACTION_NATIVE,
    FINGERTIPS_XYZ,
    GRIPPER,
    HANDS,
    STATE_NATIVE,
    WRIST_POS,
    WRIST_ROT6D,
    hand_dims,
)
from schemas.lda import (
    ACTION_PARTS,
    DELTA_PARTS,
    HAND_WIDTH_ACTION,
    HAND_WIDTH_STATE,
    LANGUAGE_KEY,
    LDA_ACTION,
    LDA_HANDS,
    LDA_STATE,
    MAIN_VIDEO,
    NATIVE_KEY,
    STATE_PARTS,
    Layout,
    column_names,
    part_offset,
)
from schemas.modality import VIDEO_PREFIX, ColumnSpec, ModalityJson, SliceSpec

ROT6D_ABSENT = 1e-9  # a 6-D rotation of norm below this is a hand not there in that frame (written 0)
# LDA's reading of an action row (`schemas.actions`): row t holds the pose and gripper OBSERVED at t, the same values as
# the state (one column mapped to both in its own modality template, jiangranlv/latent-dynamics-action
# lda/dataloader/calculate_delta_min_max.py:13-90 @ 99bf08b, `eef.left.hand` the gripper of both); its pretraining
# differences rows t..t+16 into the motions t->t+1 .. t+15->t+16 and moves the gripper one row on (t+1 .. t+16,
# `get_next_state`, gr00t_lerobot/datasets.py:1909-1961).
LDA = CONVENTIONS["lda"]


class ColumnsError(ValueError):
    """An episode's canonical values cannot be turned into LDA's (names the field and the frame)."""


def rot6d_to_rpy(d6: np.ndarray) -> np.ndarray:
    """(N, 6) canonical 6-D rotations -> (N, 3) roll, pitch, yaw in LDA's convention; all-zero rows (no hand) -> 0."""
    d6 = np.asarray(d6, dtype=np.float64).reshape(-1, 6)
    out = np.zeros((len(d6), 3))
    there = np.linalg.norm(d6, axis=1) > ROT6D_ABSENT
    if there.any():
        out[there] = Rotation.from_matrix(rot6d_to_matrix(d6[there])).as_euler("xyz")
    return out


def held_rows(there: np.ndarray) -> np.ndarray:
    """Per frame, the row whose pose stands for it: its own where the hand is there (`there` (N,) bool), else the
    last frame it was (the first one before it ever was; every row where it never is: those rows are 0 anyway).

    The absolute action is the frame's observed pose, and LDA differences consecutive absolute actions itself, masking a
    row only where that difference is all 0 (`datasets.py:139-144`, `:1918-1962` @ 99bf08b). A hand untracked for a
    while (written 0, `schemas.canonical.HAND_VALID`) would give two jumps to and from the origin; held at its last
    pose the difference inside the gap is 0, so LDA masks it, and one step carries the motion across the gap."""
    rows = np.where(there, np.arange(len(there)), 0)
    if there.any():
        rows[: int(np.argmax(there))] = int(np.argmax(there))
    return np.maximum.accumulate(rows)


def layout_of(embodiment: str, used: np.ndarray) -> tuple[Layout, tuple[int, ...]] | None:
    """The layout of a dataset and, per LDA hand, the canonical hand it holds; None without any wrist in use.
    `used`: (50,) the dims some episode fills. A single arm is LDA's left hand, whichever canonical hand held it."""
    hands = tuple(h for h in range(len(HANDS)) if used[hand_dims(h, WRIST_POS)].any())
    if not hands:
        return None
    if embodiment == "human":
        return "human", (0, 1)
    return ("single_arm", hands) if len(hands) == 1 else ("dual_arm", (0, 1))


def observed_gripper(state: np.ndarray, action: np.ndarray, hand: int) -> np.ndarray:
    """(T,) the opening of canonical hand `hand`'s gripper observed at each frame: its recorded state; where the
    recording kept no gripper state (0 in every frame) but a command, the command given the frame before (row 0 its
    own), the opening that command asked to reach by t."""
    observed, command = state[:, hand_dims(hand, GRIPPER)][:, 0], action[:, hand_dims(hand, GRIPPER)][:, 0]
    if observed.any() or not command.any():
        return observed
    return command[np.maximum(np.arange(len(command)) - 1, 0)]


def episode_columns(
    state: np.ndarray,
    action: np.ndarray,
    keypoints: np.ndarray | None,
    used: np.ndarray,
    hands: Sequence[int],
    *,
    where: str = "episode",
) -> tuple[np.ndarray, np.ndarray]:
    """(`observation.state.lda` (T, 152), `action.lda` (T, 158)) float32 of one episode: LDA hand i holds canonical
    hand `hands[i]`; a part whose canonical dims the episode's mask `used` (50,) leaves out is 0 in every frame.

    The absolute action parts (wrist pose, gripper, keypoints) at row t are the recorded state of the row LDA's timing
    names (`rows_for(T, LDA.timing)`: t itself): the gripper's observed opening, not its command, since LDA takes row
    t+1 as the target after t. The canonical deltas (the motion t -> t+1 commanded at t) stay as ingest wrote them."""
    state, action = np.asarray(state, dtype=np.float64), np.asarray(action, dtype=np.float64)
    n = len(state)
    rows = rows_for(n, LDA.timing)
    s_out = np.zeros((n, HAND_WIDTH_STATE * len(LDA_HANDS)))
    a_out = np.zeros((n, HAND_WIDTH_ACTION * len(LDA_HANDS)))
    for i, h in enumerate(hands):
        s_blk = s_out[:, i * HAND_WIDTH_STATE : (i + 1) * HAND_WIDTH_STATE]
        a_blk = a_out[:, i * HAND_WIDTH_ACTION : (i + 1) * HAND_WIDTH_ACTION]
        if used[hand_dims(h, WRIST_POS)].any():
            turns = used[hand_dims(h, WRIST_ROT6D)].any()  # no: a position-only wrist (Aria MPS's first wrist file)
            pos, d6 = state[:, hand_dims(h, WRIST_POS)], state[:, hand_dims(h, WRIST_ROT6D)] * turns
            try:
                rpy = rot6d_to_rpy(d6)
            except ValueError as e:
                raise ColumnsError(f"{where}: observation.state {HANDS[h]} wrist rotation: {e}") from e
            # untracked (its dims 0): the last pose; a position-only wrist is there where its position is
            held = held_rows(np.linalg.norm(d6 if turns else pos, axis=1) > ROT6D_ABSENT)[rows]
            for blk, parts, rows in ((s_blk, STATE_PARTS, slice(None)), (a_blk, ACTION_PARTS, held)):
                blk[:, part_offset(parts, "eef_position")] = pos[rows]
                blk[:, part_offset(parts, "eef_rotation")] = rpy[rows]
            s_blk[:, part_offset(STATE_PARTS, "eef_rotation_6d")] = d6
            a_blk[:, part_offset(ACTION_PARTS, "delta_eef_position")] = action[:, hand_dims(h, WRIST_POS)]
            a_blk[:, part_offset(ACTION_PARTS, "delta_eef_rotation")] = action[:, hand_dims(h, WRIST_ROT6D)] * turns
        if used[hand_dims(h, GRIPPER)].any():
            s_blk[:, part_offset(STATE_PARTS, "gripper")] = state[:, hand_dims(h, GRIPPER)]
            a_blk[:, part_offset(ACTION_PARTS, "gripper")] = observed_gripper(state, action, h)[rows, None]
        if keypoints is not None and used[hand_dims(h, FINGERTIPS_XYZ)].any():
            flat = np.asarray(keypoints, dtype=np.float64)[:, h].reshape(n, -1)
            s_blk[:, part_offset(STATE_PARTS, "mano_hand")] = flat
            a_blk[:, part_offset(ACTION_PARTS, "mano_hand")] = flat[rows]
    return s_out.astype(np.float32), a_out.astype(np.float32)


def build_modality(video_keys: Sequence[str], main_video: str) -> ModalityJson:
    """The `meta/modality.json` of every LDA export: each part of both hands as LDA names it (`{hand}_{part}`), so the
    slices cover every value of `observation.state.lda` and `action.lda` and the file is the same for every dataset
    (LDA refuses two per embodiment tag); a data config names the parts of its layout (`config.py`). Parts a dataset
    does not use are 0. `video.<role>` per camera and `video.main`; the task on `task_index`."""
    groups: dict[str, dict[str, SliceSpec]] = {"state": {}, "action": {}}
    for group, column, spec, width in (
        ("state", LDA_STATE, STATE_PARTS, HAND_WIDTH_STATE),
        ("action", LDA_ACTION, ACTION_PARTS, HAND_WIDTH_ACTION),
    ):
        for h, hand in enumerate(LDA_HANDS):
            for part, _, _, rotation in spec:
                sl = part_offset(spec, part)
                groups[group][f"{hand}_{part}"] = SliceSpec(
                    start=h * width + sl.start,
                    end=h * width + sl.stop,
                    original_key=column,
                    rotation_type=rotation,
                    absolute=None if group == "state" else part not in DELTA_PARTS,
                    dtype="float32",
                )
    video = {k.removeprefix(VIDEO_PREFIX): ColumnSpec(original_key=k) for k in video_keys}
    video[MAIN_VIDEO] = ColumnSpec(original_key=main_video)
    annotation = {LANGUAGE_KEY: ColumnSpec(original_key="task_index")}
    return ModalityJson(state=groups["state"], action=groups["action"], video=video, annotation=annotation)


def build_native_modality(video_keys: Sequence[str], main_video: str, widths: tuple[int, int]) -> ModalityJson:
    """The `meta/modality.json` of a robot without a description (`schemas.lda` NATIVE_KEY): `state.native` over its
    `observation.state.native`, `action.native` over its `action.native` (absolute, read as recorded), every value;
    videos and language as `build_modality`'s."""
    base = build_modality(video_keys, main_video)
    groups = {
        group: {NATIVE_KEY: SliceSpec(start=0, end=width, original_key=column, absolute=absolute, dtype="float32")}
        for group, column, width, absolute in (
            ("state", STATE_NATIVE, widths[0], None),
            ("action", ACTION_NATIVE, widths[1], True),
        )
    }
    return ModalityJson(state=groups["state"], action=groups["action"], video=base.video, annotation=base.annotation)


def expected_names(modality: ModalityJson) -> dict[tuple[str, str], list[str]]:
    """Per (group, key) over an LDA column the value names its slice must cover in the exported info.json (a native
    slice covers its column whole, whatever the source named its values)."""
    names = {LDA_STATE: column_names(STATE_PARTS), LDA_ACTION: column_names(ACTION_PARTS)}
    out = {}
    for group in ("state", "action"):
        for key, s in getattr(modality, group).items():
            if s.original_key in names:
                out[(group, key)] = names[s.original_key][s.start : s.end]
    return out
