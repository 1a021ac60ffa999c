"""RoboCOIN's unified end effector as an episode's hands: `eef_sim_pose_state` [12] (and the gripper opening
`gripper_open_scale_state` [2] where recorded) become the left and right wrists of a LeRobot episode that declares
no other hands.

What the columns are, from the maker's code and docs:
- the pose of a site of the robot's MJCF model, computed by MuJoCo from the recorded joints ("simulation-based",
  FlagOpen/RoboCOIN@b3261fe README.md:122-123): `site_xpos` (metres, the model's world frame) then
  `Rotation.from_matrix(site_xmat).as_euler("xyz")` (scipy lowercase: extrinsic roll, pitch, yaw about the fixed x, y,
  z axes, R = Rz·Ry·Rx, radians), concatenated per site, the left site first
  (HuaHungy/robocoin-dataset@79b10ce src/robocoin_dataset/sim_replay/mujoco_fk.py:45-61, `MujocoReplay.fk`;
  compute_lerobot_eef.py:40-44, `site_names=[left, right]`);
- that world frame is unified across the 15 platforms: x forward, y left, z up, the origin at the robot's base or
  between its feet (README.md:123); the names say the layout, `left_eef_pos_x .. left_eef_ori_z, right_eef_pos_x ..`
  (real RoboCOIN `meta/info.json`: tests/fixtures/lerobot_layouts/robocoin_v21, QianHuixun/New-Test@ff298f68);
- the site is the maker's, per robot (AgileX Cobot Magic: `left_eef_site` / `right_eef_site` of
  `aloha_new_v00_with_sites.xml`, HuaHungy/robocoin-dataset@26a6b9a src/robocoin_dataset/sim_replay/configs/
  agilex_cobot_magic_config.py:9-14), not our canonical wrist: no offset is applied, and the lineage says so;
- `{dir}_gripper_open_scale`: 0 fully closed .. 1 fully open (README.md:118).
The action stays as every hand source's: the canonical action is the next state's delta; `eef_sim_pose_action`, the
same site by FK of the commanded joints, is kept as a native.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from adapters.base import HandSignals, HandTrack, RawEpisode, Stream
from schemas.dataset_meta import Quirk, quirk
from schemas.robots.registry import UNKNOWN_EMBODIMENT

EEF_STATE = "eef_sim_pose_state"
GRIPPER_STATE = "gripper_open_scale_state"
SIDES = ("left", "right")
EEF_NAMES = tuple(f"{side}_eef_{q}_{a}" for side in SIDES for q in ("pos", "ori") for a in "xyz")
GRIPPER_NAMES = tuple(f"{side}_gripper_open_scale" for side in SIDES)
EMBODIMENT = "robocoin_unified"  # a RoboCOIN platform eidata has no description of, through its unified EEF
FRAME = "robot_base"  # x forward, y left, z up at the base (README.md:123): the canonical robot_base axes
WHY = (
    "RoboCOIN unified end effector: eef_sim_pose_state (MuJoCo site of the maker's model, m, Euler xyz extrinsic, "
    "x forward / y left / z up at the base); the maker's site, no offset to our wrist"
)


def unified_hands(raw: RawEpisode) -> RawEpisode:
    """`raw` with its hands from `eef_sim_pose_state` when it has that column in RoboCOIN's layout and no other hands;
    a robot eidata does not know becomes `robocoin_unified`. A column in another layout is said (episode quirk)."""
    pose = raw.signals.get(EEF_STATE)
    if pose is None or not raw.hands.empty:
        return raw
    values = np.asarray(pose.values, dtype=np.float64).reshape(len(pose), -1)
    if pose.names != EEF_NAMES:
        msg = f"{EEF_STATE} names {pose.names} (width {values.shape[1]}) are not RoboCOIN's {EEF_NAMES}: natives only"
        return _noted(raw, quirk("unified_eef_layout", "warning", msg, raw.metadata.get("data_file")))
    grip = raw.signals.get(GRIPPER_STATE)
    grip = grip if grip is not None and grip.names == GRIPPER_NAMES else None
    sig = HandSignals(frame=FRAME, apply_offset=False, notes=[WHY])
    for hand, side in enumerate(SIDES):
        block = values[:, 6 * hand : 6 * hand + 6]
        if not np.any(np.nan_to_num(block)):  # a side the robot lacks: all zero
            sig.notes.append(f"{side}: {EEF_STATE} all zero, no {side} hand")
            continue
        track = HandTrack(
            position=Stream(pose.timestamps, block[:, :3], ("x", "y", "z"), "m", FRAME),
            rotation=Stream(pose.timestamps, block[:, 3:], ("roll", "pitch", "yaw"), "euler_xyz", FRAME),
        )
        if grip is not None:
            opening = np.asarray(grip.values, dtype=np.float64).reshape(len(grip), -1)[:, hand]
            track.gripper = Stream(grip.timestamps, np.clip(opening, 0.0, 1.0), unit="0..1")
        sig.hands[hand] = track
    if not sig.hands:
        return raw
    unknown = raw.embodiment == UNKNOWN_EMBODIMENT
    return replace(
        raw,
        hands=sig,
        embodiment=EMBODIMENT if unknown else raw.embodiment,
        # the unknown robot's "natives only" no longer holds: its hands are the unified end effector
        tier_reasons=tuple(r for r in raw.tier_reasons if not (unknown and r.startswith("no kinematic description"))),
        metadata={**raw.metadata, "hands_from": WHY}
        | ({"embodiment_from": f"{EEF_STATE} (was: {raw.metadata.get('embodiment_from')})"} if unknown else {}),
    )


def _noted(raw: RawEpisode, q: Quirk) -> RawEpisode:
    quirks = [*raw.metadata.get("episode_quirks", []), q.model_dump()]
    return replace(raw, metadata={**raw.metadata, "episode_quirks": quirks})
