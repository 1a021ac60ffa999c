"""The contract of `eidata export --format lda` (`jobs/export/lda/`): the columns, `meta/modality.json` keys and
statistics file that LDA-1B's own loader (jiangranlv/latent-dynamics-action@99bf08b, `lda/dataloader/gr00t_lerobot/`)
reads as it is, beside the canonical columns.

LDA names its slices `{left,right}_{eef_position,eef_rotation,gripper}` for robots and `{left,right}_mano_hand` for
human hands (`data_config.py:33-50`, `:134-151`), keeps 3 rotation values per hand (`pad_action_state_with_key`,
`datasets.py:107-110`: longer slices are cut) as roll/pitch/yaw with R = Rz(yaw) Ry(pitch) Rx(roll)
(`lda/utils/rotation_convert.py:35-54` `batched_rpy_to_R`; `:3-33` `batched_R_to_rpy` the inverse, pitch in
[-pi/2, pi/2]), and in its pretraining setting (`use_delta_action=true`) differences absolute poses itself
(`datasets.py:1918-1962`), starting from `action.left_eef_position` (absent: no differencing, silently).

So every exported dataset gets two new float32 vectors, a block of `HAND_WIDTH_*` values per LDA hand, left then right:
- `observation.state.lda`: the wrist xyz, its rotation as roll/pitch/yaw, the gripper, the 21 MANO keypoints (63,
  flat xyz), and the canonical 6-D rotation;
- `action.lda`: at row t the absolute pose OBSERVED at t, as LDA's own data holds it (`schemas.actions` CONVENTIONS
  "lda": xyz, roll/pitch/yaw; a hand untracked holds its last tracked pose, so LDA's own differences are 0 there and
  masked), the gripper opening observed at t, the keypoints at t, and the canonical deltas (xyz, 6-D) as written by
  ingest. LDA takes rows t+1 .. t+16 (or their differences from t) as the targets after an observation at t.
A part an episode does not use is 0 in every frame: LDA's action mask is "any non-zero value in the row"
(`datasets.py:139-144`), so a median or identity fill would read as data.

Every export has the same `modality.json` state/action entries (every part of both hands): LDA merges the metadata of
the datasets of one embodiment tag and refuses two different ones (`datasets.py:2349-2359`). A layout per kind of
embodiment (`LAYOUTS`) says which of them its data config names. A single arm is LDA's left hand wherever eidata
stored it: LDA differences only when `action.left_eef_position` exists, and its tags franka (4) and ur (9) zero every
`right*` key (`datasets.py:135-137`, `:1991-1995`).
"""

from __future__ import annotations

from typing import Literal

from schemas.canonical import MANO21_NAMES

LDA_STATE = "observation.state.lda"
LDA_ACTION = "action.lda"
STATS_PATH = "meta/stats_gr00t.json"  # LDA's LE_ROBOT_STATS_FILENAME (datasets.py:475-511)
STATS_KEYS = ("mean", "std", "min", "max", "q01", "q99")  # its DatasetStatisticalValues fields
LANGUAGE_KEY = "language.action_text"  # data_config.py:51 `annotation.language.action_text`
MAIN_VIDEO = "main"  # `video.main`: every dataset's main camera, so one data config fits every source
RPY = "euler_angles_rpy"
ROT6D = "rotation_6d"
LDA_HANDS = ("left", "right")

Layout = Literal["single_arm", "dual_arm", "human", "native"]

_XYZ = ("x", "y", "z")
# (part, width, value names, rotation type); the order of a hand's block in the column
STATE_PARTS: tuple[tuple[str, int, tuple[str, ...], str | None], ...] = (
    ("eef_position", 3, _XYZ, None),
    ("eef_rotation", 3, ("roll", "pitch", "yaw"), RPY),
    ("gripper", 1, ("open",), None),
    ("mano_hand", 63, tuple(f"{k}.{a}" for k in MANO21_NAMES for a in _XYZ), None),
    ("eef_rotation_6d", 6, tuple(f"r{i}" for i in range(6)), ROT6D),
)
ACTION_PARTS: tuple[tuple[str, int, tuple[str, ...], str | None], ...] = (
    *STATE_PARTS[:4],
    ("delta_eef_position", 3, _XYZ, None),
    ("delta_eef_rotation", 6, tuple(f"r{i}" for i in range(6)), ROT6D),
)
DELTA_PARTS = ("delta_eef_position", "delta_eef_rotation")  # `absolute: false`; every other action part is absolute
HAND_WIDTH_STATE = sum(w for _, w, _, _ in STATE_PARTS)  # 76
HAND_WIDTH_ACTION = sum(w for _, w, _, _ in ACTION_PARTS)  # 79

# layout -> (LDA hands, the parts a data config names in LDA's order); modality.json declares every part.
# A single arm's config names the right hand too (0 in every frame, so LDA's mask leaves it out): LDA's
# `BaseDataConfig.transform` normalizes all six `{left,right}_*` action keys by name and fails on a key the config does
# not name (`KeyError`, `transform/state_action.py:401-461`).
LAYOUTS: dict[Layout, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "single_arm": (LDA_HANDS, ("eef_position", "eef_rotation", "gripper")),
    "dual_arm": (LDA_HANDS, ("eef_position", "eef_rotation", "gripper")),
    "human": (LDA_HANDS, ("eef_position", "eef_rotation", "mano_hand")),
}
# The parts a data config names as actions where they differ from the state's: human hands give their wrists only.
# With `use_delta_action=true` LDA differences the wrists and shortens gripper and `*_hand` keys by one step
# (`get_next_state`, datasets.py:1909-1916,1954-1961), never `*_mano_hand`: every sample of a config with MANO actions
# then fails to concatenate (16 vs 18 steps) and is silently re-drawn from another dataset, LDA's own human configs
# included. Its egodex and taco tags are the ones made for wrist-only human actions: they put 63 zeros where the MANO
# actions go (`dataset_no_mano`, datasets.py:1983-1986,2008-2013), keeping the 138-dim layout.
ACTION_PARTS_OF: dict[Layout, tuple[str, ...]] = {"human": ("eef_position", "eef_rotation")}
# layout -> LDA embodiment tag the printed entry maps it to (embodiment_tags.py:119-156): never franka/ur (4, 9: the
# right arm zeroed). Change it where a mixture also holds LDA's own datasets of that tag (one modality.json per tag).
LAYOUT_TAGS: dict[Layout, str] = {"single_arm": "oxe", "dual_arm": "new_embodiment", "human": "egodex"}


# A robot without a description (its episodes' action kind `native`, `schemas.actions`): no wrist pose, its command
# `action.native` and its joints `observation.state.native` go to LDA as they are, the way LDA's own joint-space configs
# take a robot without end-effector state (`FourierGr1ArmsWaist_twohistoryDataConfig`, data_config.py:222-309 @
# 99bf08b: `state.left_arm` ... read as recorded, history range(-5, 0), `action_indices = range(-5, 16)`;
# `get_delta_action_from_raw_data` returns the rows unchanged without `action.left_eef_position`,
# datasets.py:1918-1920).
# One key each, `native`: LDA pads or cuts an action key by the words in its name (`pad_action_state_with_key`,
# datasets.py:105-124: `arm` 7, `left_hand`/`right_hand` 6, `waist` 3, any other 63), so a command of unknown meaning
# keeps all its dims up to 63 under a name with none of those words; wider is refused, never cut.
NATIVE_KEY = "native"
NATIVE_MAX_WIDTH = 63
# LDA keeps one modality.json per embodiment tag (datasets.py:2340-2359): native robots of different widths need a tag
# each. Existing tags only (`EmbodimentTag(...)` accepts no other; indices 0-31 all taken, embodiment_tags.py:119-156),
# none that the other layouts use nor franka/ur (4, 9: right keys zeroed) nor egodex/taco (11, 17: MANO zeros added).
NATIVE_TAGS = ("galbot", "franka_dual", "tienkung_gello", "tienkung_xsens", "piper", "r1pro", "genie1", "agilex")


def part_offset(parts: tuple[tuple[str, int, tuple[str, ...], str | None], ...], name: str) -> slice:
    """Where `name` lies inside one hand's block."""
    start = 0
    for part, width, _, _ in parts:
        if part == name:
            return slice(start, start + width)
        start += width
    raise KeyError(name)


def column_names(parts: tuple[tuple[str, int, tuple[str, ...], str | None], ...]) -> list[str]:
    """`left.eef_position.x` ... `right.<last part>.<last name>`: the names of a column's values."""
    return [f"{hand}.{part}.{n}" for hand in LDA_HANDS for part, _, names, _ in parts for n in names]
