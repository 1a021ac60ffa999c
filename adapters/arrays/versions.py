"""Files of a maker's old version that no layout reads: refused naming the version and what is missing, not as a file
no layout fits (issue 86 item 7: robosuite 0.1's Sawyer and Baxter demos were refused as "no hdf5 layout fits",
without the `repository_version` 0.1.0 they hold, so a team could not tell an old version from a corrupt file).

robosuite 0.1, from its own code (ARISE-Initiative/robosuite@48d625be
`robosuite/scripts/collect_human_demonstrations.py` `gather_demonstrations_as_hdf5`, and @d76f4b4c
`robosuite/wrappers/data_collection_wrapper.py` `step`/`_flush`, the commits that ship
`robosuite/models/assets/demonstrations/{SawyerLift,BaxterPegInHole,...}/demo.hdf5`):
- `data` attributes `date`, `time`, `repository_version` (`robosuite.__version__`) and `env`, the environment's class
  name (`self.env.unwrapped.__class__.__name__`: `<Robot><Task>`, SawyerLift, BaxterPegInHole): the robot is its
  first word;
- per `data/demo_N`: `states`, MuJoCo's flattened simulator state (`self.env.sim.get_state().flatten()`: time, qpos,
  qvel) of the episode's own `models/model_N.xml`; `joint_velocities`, the joint velocities commanded each step (the
  IK wrapper's `controller.commanded_joint_velocities`, else `action[:dof]`); `gripper_actuations` (`action[7:]`
  Sawyer, `action[14:]` Baxter); `right_dpos`/`right_dquat` (and `left_*` for Baxter), the end-effector deltas the
  device gave the IK wrapper (`action[:3]`, `action[3:7]`); state t beside the action applied from it
  (`zip(states[:-1], action_infos[1:])`);
- no observation, no `env_info` and no control rate (the script ran the environment at `control_freq=100`, written
  nowhere in the file).
So a pose, a joint name or a rate is in the file only through the model replayed in robosuite 0.1: eidata reads none
of it, and says so.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.arrays.layouts import matches

# `states` alone: the real BaxterPegInHole demo robosuite 0.1.0 shipped (tag v0.1.0 = 4855b83,
# robosuite/models/assets/demonstrations/BaxterPegInHole/demo.hdf5) holds `states` and nothing else, although the
# writer lists the action datasets; the version names the file whatever columns it holds (issue 97 item 4)
ROBOSUITE_0_DEMO = ("data/demo_*/states",)


def _text(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


def unread_version(keys: frozenset[str], attrs: dict[str, dict[str, Any]]) -> str | None:
    """Why a file of a version no layout reads is refused (its version, robot and what it lacks), or None."""
    data = attrs.get("data", {})
    version = _text(data.get("repository_version", ""))
    if not (version.startswith("0.") and all(matches(keys, p) for p in ROBOSUITE_0_DEMO)):
        return None
    env = _text(data.get("env", "?"))
    robot = m[0] if (m := re.match(r"[A-Z][a-z]+", env)) else "unknown"
    columns = sorted({k.rsplit("/", 1)[1] for k in keys if re.fullmatch(r"data/demo_[^/]+/[^/]+", k)})
    held = ", ".join(columns) + ("" if len(columns) > 1 else ": states only, no command at all")
    return (
        f"a robosuite {version} demonstration file (data@repository_version {version!r}, env {env!r}: robot {robot}), "
        f"which no layout reads: robosuite 0.x recorded no observation, no rate and no `actions` (its columns: "
        f"{held}): `states` is MuJoCo's flattened simulator state of the episode's own model_N.xml, "
        "`joint_velocities` + `gripper_actuations` the joint-velocity command, `right_dpos`/`right_dquat` the IK "
        "wrapper's input (robosuite 0.1 wrappers/data_collection_wrapper.py); replay it in robosuite 0.1 and record "
        "the observations, or collect it again with robosuite >= 1.4 (whose raw files eidata reads: robosuite_raw)"
    )
