"""What an array recording's maker states in the file about its episodes beyond the arrays, read as evidence.

A demo's outcome: a demo group's `success` attribute, as Isaac Lab writes it (isaaclab/utils/datasets/
hdf5_dataset_file_handler.py `write_episode`: `attrs["success"] = episode.success`, only when the recorder knew it).

Which columns of the action are relative (deltas, accumulated when resampled: `Stream.relative`), settled by the
maker's own setting as the file states it, or by the `delta_actions` option; every other column is absolute. The
relative columns are the arm term's, wherever the maker's code lays the action out, whatever follows them (a gripper
column, none, or more): what follows is never summed. Where the action cannot hold the arm term as the maker's code
lays it out, nothing is accumulated and a note says why.

- robosuite (the robomimic, LIBERO and raw robosuite layouts): `controller_configs` in `env_args.env_kwargs` or
  `env_info` (robosuite 1.4: the arm's config itself; 1.5: `body_parts.<right|left>`), `control_delta` true or
  `input_type` "delta": each step's command is a change of the end-effector pose (robosuite/controllers/osc.py
  `set_goal`, "delta" in robosuite/controllers/config/osc_pose.json). The action is, per robot in `env_kwargs.robots`,
  the arm's command (OSC_POSE / IK_POSE 6: dx, dy, dz, dax, day, daz; OSC_POSITION 3) then its gripper's dof (1, or 0
  for a robot without one; absolute: -1 open, 1 closed): equal parts per robot, each at least the arm's width, the
  arm's columns first. A real raw robosuite 1.4.1 file (aditKadepurkar/basic_diffusion_policy@d1e6b2f
  `demonstrations/*/demo.hdf5`) says `OSC_POSE`, `control_delta` true.
- Isaac Lab: an environment named `*-IK-Rel-*` commands its arm through `DifferentialInverseKinematicsAction` with
  `DifferentialIKControllerCfg(command_type="pose", use_relative_mode=True)` (isaaclab_tasks .../stack/config/franka/
  stack_ik_rel_env_cfg.py; .../ur10_gripper/stack_ik_rel_env_cfg.py @ 3e175ac6): the term's 6 columns (dx, dy, dz, then
  a rotation vector; `DifferentialIKController.action_dim` 6 for a relative pose, isaac-sim/IsaacLab
  source/isaaclab/isaaclab/controllers/differential_ik.py @ 005bd5b2) are a change of the end-effector pose in the
  robot's root frame (`set_command`: `apply_delta_pose`, position added, rotation composed), each step scaled by the
  term's `scale` before it is applied (`process_actions`: processed = raw x scale,
  source/isaaclab/isaaclab/envs/mdp/actions/task_space_actions.py @ 005bd5b2); the recorder keeps the raw command, so
  the sum kept is of raw commands (0.5 x it is the Franka stack's motion, `scale=0.5`; 1.0 the UR10's). The arm term
  comes first (`ActionsCfg`: `arm_action`, then `gripper_action` where the task has one; a reach task has none):
  columns 0..5 relative.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from adapters.base import Relative

ROBOSUITE_LAYOUTS = {"robomimic": "env_args", "libero": "env_args", "robosuite_raw": "env_info"}
ARM_DIMS = {"OSC_POSE": 6, "IK_POSE": 6, "OSC_POSITION": 3}  # robosuite controllers' action dims (control_dim)
ISAAC_REL = "Isaac-*-IK-Rel-*"
ISAAC_ARM = 6  # DifferentialIKController.action_dim of a relative pose command
ISAAC_REL_WHY = (
    "Isaac Lab {env}: a relative pose command per step in the root frame, columns 0..5 (raw, before the term's "
    "scale; use_relative_mode=True, differential_ik.py, task_space_actions.py), {rest}"
)


def relative_action(
    layout: str, attrs: dict[str, dict[str, Any]], width: int, option: list[int] | None
) -> tuple[Relative | None, str | None]:
    """(the action's relative columns, or None: all absolute; a note when the maker's setting could not be applied)
    for an action of `width` columns in a file of `layout` with `attrs`; the option, when given, decides."""
    if option is not None:
        bad = [c for c in option if not 0 <= c < width]
        if bad:
            raise ValueError(f"the delta_actions option names columns {bad} of an action of {width} columns")
        return (Relative(tuple(sorted(set(option))), "the delta_actions option") if option else None), None
    key = ROBOSUITE_LAYOUTS.get(layout)
    if key is None:
        return None, None
    doc = _json(attrs.get("data", {}).get(key))
    env = str(doc.get("env_name", ""))
    if fnmatchcase(env, ISAAC_REL):
        if width < ISAAC_ARM:
            note = f"{env} is relative IK but its action has {width} columns, fewer than the arm's 6: not accumulated"
            return None, note
        rest = f"columns {ISAAC_ARM}..{width - 1} absolute" if width > ISAAC_ARM else "no gripper column"
        return Relative(tuple(range(ISAAC_ARM)), ISAAC_REL_WHY.format(env=env, rest=rest)), None
    return _robosuite(doc.get("env_kwargs", doc) if key == "env_args" else doc, width, f"data@{key}")


def _robosuite(kwargs: dict[str, Any], width: int, where: str) -> tuple[Relative | None, str | None]:
    cfg = kwargs.get("controller_configs")
    if not isinstance(cfg, dict):
        return None, None
    arm = next((cfg["body_parts"][k] for k in ("right", "left") if k in cfg.get("body_parts", {})), cfg)
    if not (arm.get("control_delta") is True or arm.get("input_type") == "delta"):
        return None, None
    kind = str(arm.get("type"))
    robots = kwargs.get("robots")
    count = len(robots) if isinstance(robots, list) else 1
    dims = ARM_DIMS.get(kind)
    said = f"robosuite {kind} with control_delta true ({where} controller_configs; robosuite/controllers/osc.py)"
    part = width // count
    if dims is None or width % count or part < dims:
        split = f"{count} robot(s) x ({dims} arm + the gripper's)" if dims else f"a known layout for {kind}"
        return None, f"{said}, but its action's {width} columns do not split into {split}: not accumulated"
    cols = tuple(r * part + i for r in range(count) for i in range(dims))
    rest = "the gripper absolute" if part > dims else "no gripper column"
    return Relative(cols, f"{said}: arm columns {', '.join(map(str, cols))} deltas, {rest}"), None


def _json(raw: Any) -> dict[str, Any]:
    try:
        doc = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def demo_success(attrs: dict[str, Any]) -> bool | None:
    """A demo group's `success` attribute as a bool (bool, 0 / 1, or one of them in a list); None if absent."""
    value = attrs.get("success")
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return bool(value) if isinstance(value, (bool, int, float)) and value in (0, 1) else None
