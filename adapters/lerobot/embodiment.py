"""Which robot a LeRobot dataset holds: its embodiment from the `embodiment` option, the `robot_type` (a registry name
or an alias of one), or what a canonical dataset declares; and the joint conventions its recorder implies."""

from __future__ import annotations

import re

from adapters.lerobot.episode import LoadedDataset
from schemas.embodiment import UNKNOWN_EMBODIMENT, default_registry
from schemas.joint_space import JointSpaceOptions

# robot_type aliases -> embodiment registry name. An alias matches a run of whole tokens of the robot_type
# (`robot_type_tokens`: split at non-alphanumerics, case changes and letter/digit changes), never a bare substring:
# `mano` names `mano_hands` but not `humanoid` / `Unitree_H1_humanoid`, `ur5` not `ur5e`.
# robot_type as the recorders write it: lerobot `so100` / `so100_follower` / `so101_follower` / `koch_follower` /
# `aloha` (Robot.name, src/lerobot/robots/*), Unitree `Unitree_G1_Dex3` / `Unitree_G1_Inspire` (unitree_lerobot
# constants.py ROBOT_CONFIGS), GR00T `GR1ArmsOnly`. More specific names first: the first alias that matches wins.
EMBODIMENT_ALIASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("so101",), "so101"),
    (("so100",), "so100"),
    (("koch",), "koch"),
    (("aloha",), "aloha"),
    (("piper",), "piper"),
    (("ur5e",), "ur5e"),
    (("fr3",), "fr3"),
    (("unitreeg1dex3",), "unitree_g1_dex3"),
    (("unitreeg1inspire",), "unitree_g1_inspire"),
    (("unitreeg1",), "unitree_g1"),
    (("franka", "panda"), "franka"),
    (("widowx", "wx250", "wx250s", "bridge"), "widowx"),
    (("googlerobot", "fractal", "rt1", "everyday"), "google_robot"),
    (("kuka", "iiwa"), "kuka_iiwa"),
    (("ur5",), "ur5"),
    (("agibotdex", "geniedex"), "agibot_dexterous"),
    (("agibot", "genie"), "agibot_gripper"),
    (("gr1",), "gr1"),
    (("mano", "egodex", "humanhand"), "human"),
)


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def robot_type_tokens(robot_type: str) -> list[str]:
    """`Unitree_G1_Dex3` -> [unitree, g, 1, dex, 3]; `GR1ArmsOnly` -> [gr, 1, arms, only]: lower-case tokens split at
    non-alphanumerics, lower -> upper case changes and letter/digit changes (an acronym stays whole)."""
    return [t.lower() for part in re.split(r"[^A-Za-z0-9]+", robot_type) for t in _TOKEN.findall(part)]


def alias_matches(robot_type: str, alias: str) -> bool:
    """True when `alias` (lower case, alphanumerics) spells a contiguous run of whole tokens of `robot_type`."""
    tokens = robot_type_tokens(robot_type)
    joined = "".join(tokens)
    bounds = {0}
    for t in tokens:
        bounds.add(max(bounds) + len(t))
    return any(joined.startswith(alias, b) and b + len(alias) in bounds for b in bounds)


def alias_embodiment(robot_type: str) -> str | None:
    """The registry name the first matching `EMBODIMENT_ALIASES` entry gives `robot_type`, or None."""
    return next((name for needles, name in EMBODIMENT_ALIASES if any(alias_matches(robot_type, n) for n in needles)),
                None)  # fmt: skip


def resolve_embodiment(robot_type: str | None, ds: LoadedDataset, option: str | None) -> tuple[str, str]:
    """(registry name, how it was chosen): the `embodiment` option, else robot_type, else the declared one."""
    if option:
        return option, "embodiment option"
    norm = _norm(robot_type or "")
    for name in default_registry().names():
        if norm and norm == _norm(name):
            return name, f"robot_type {robot_type!r}"
    alias = alias_embodiment(robot_type) if norm and robot_type else None
    if alias is not None:
        return alias, f"robot_type {robot_type!r} (alias)"
    action = ds.info.features.get("action")
    declared = (action.info or {}).get("embodiment") if action is not None else None
    if declared in default_registry().names():  # a canonical dataset names its embodiment beside its mask
        return declared, f"features.action.info.embodiment {declared!r}"
    # Never a guess from the state layout: a Unitree G1 with two arms and hands is no AgiBot.
    return UNKNOWN_EMBODIMENT, f"robot_type {robot_type!r} names no known embodiment: set the `embodiment` option"


def joint_options(robot_type: str | None, opts: JointSpaceOptions | None) -> JointSpaceOptions | None:
    """The dataset's joint conventions: the `joint_space` option `opts`, over lerobot >= 0.2's defaults for its
    `<arm>_follower` robots (so100/so101/koch_follower: body joints RANGE_M100_100 unless recorded with
    use_degrees=True, the gripper RANGE_0_100; src/lerobot/robots/*_follower/*.py), which lerobot < 0.2's `so100` /
    `koch` (degrees) do not share."""
    if not (robot_type or "").lower().endswith("_follower"):
        return opts
    given = {} if opts is None else opts.model_dump(exclude_unset=True)
    return JointSpaceOptions.model_validate({"units": "range_m100_100", "gripper_unit": "percent", **given})
