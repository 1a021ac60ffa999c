"""Which robot a LeRobot dataset holds: its embodiment from the `embodiment` option, the `robot_type` (a registry name
or an alias of one), or what a canonical dataset declares; and the joint conventions its recorder implies.

Robots by evidence, never by resemblance: an alias maps a robot_type only when its other tokens leave the robot as it
is (`BENIGN_TOKENS`); a token naming two arms (`TWO_ARM_TOKENS`) maps to the alias's two-arm embodiment
(`BIMANUAL`), never the one-armed one; a one-armed robot_type whose state names hold its joints once per side
becomes its two-arm embodiment, numbered prefixes taking their sides from `joint_space.sides`, else the dataset card.
Every decision is recorded in `metadata["embodiment_from"]`; the cases and sources are in adapters/README.md
`lerobot` ("Units and two-arm robots by evidence").
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from adapters.lerobot_format.layout import LoadedDataset
from schemas.robots.joint_space import NUMBERED_ARM, JointSpaceOptions, Side, name_key
from schemas.robots.registry import UNKNOWN_EMBODIMENT, default_registry


class _RobotTypes(BaseModel):
    """`robot_types.toml` beside this module: the tokens, the aliases (in match order), the two-arm embodiments."""

    model_config = ConfigDict(extra="forbid")

    two_arm_tokens: frozenset[str]
    benign_tokens: frozenset[str]
    aliases: dict[str, tuple[str, ...]]
    bimanual: dict[str, str]


_TYPES = _RobotTypes.model_validate(tomllib.loads(Path(__file__).with_name("robot_types.toml").read_text("utf-8")))
# (aliases, registry name), first match wins
EMBODIMENT_ALIASES: tuple[tuple[tuple[str, ...], str], ...] = tuple((v, k) for k, v in _TYPES.aliases.items())
TWO_ARM_TOKENS = _TYPES.two_arm_tokens  # a token naming two arms maps to the alias's two-arm embodiment
BIMANUAL = _TYPES.bimanual
BENIGN_TOKENS = _TYPES.benign_tokens  # tokens beside an alias that leave the robot as it is


def alnum(s: str) -> str:
    """`s` in lower case, letters and digits only: names compared whatever their spelling."""
    return re.sub(r"[^a-z0-9]", "", s.lower())


_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def robot_type_tokens(robot_type: str) -> list[str]:
    """`Unitree_G1_Dex3` -> [unitree, g, 1, dex, 3]; `GR1ArmsOnly` -> [gr, 1, arms, only]: lower-case tokens split at
    non-alphanumerics, lower -> upper case changes and letter/digit changes (an acronym stays whole)."""
    return [t.lower() for part in re.split(r"[^A-Za-z0-9]+", robot_type) for t in _TOKEN.findall(part)]


def _span(tokens: list[str], alias: str) -> tuple[int, int] | None:
    """[first, last) token indices that spell `alias` exactly, or None."""
    for i in range(len(tokens)):
        joined = ""
        for j in range(i, len(tokens)):
            joined += tokens[j]
            if joined == alias:
                return i, j + 1
            if not alias.startswith(joined):
                break
    return None


def _by_alias(robot_type: str) -> tuple[str, str] | None:
    """(embodiment, how) from the alias and the robot_type's other tokens, or None when no alias matches."""
    tokens = robot_type_tokens(robot_type)
    for needles, name in EMBODIMENT_ALIASES:
        spans = [s for n in needles if (s := _span(tokens, n)) is not None]
        if not spans:
            continue
        covered = {i for a, b in spans for i in range(a, b)}
        rest = [t for i, t in enumerate(tokens) if i not in covered]
        two = [t for t in rest if t in TWO_ARM_TOKENS]
        odd = [t for t in rest if t not in TWO_ARM_TOKENS and t not in BENIGN_TOKENS and not t.isdigit() and len(t) > 1]
        if odd:
            return UNKNOWN_EMBODIMENT, (
                f"robot_type {robot_type!r} resembles {name!r} but also says {odd}: never mapped by resemblance; "
                "set the `embodiment` option"
            )
        if not two:
            return name, f"robot_type {robot_type!r} (alias of {name})"
        if len(default_registry().get(name).hands) == 2:
            return name, f"robot_type {robot_type!r} (alias of {name}, already two arms)"
        if name in BIMANUAL:
            return BIMANUAL[name], f"robot_type {robot_type!r}: token {two[0]!r} names two {name} arms"
        return UNKNOWN_EMBODIMENT, (
            f"robot_type {robot_type!r} names two {name} arms and no two-arm {name} is registered: set the "
            "`embodiment` option"
        )
    return None


def state_names(ds: LoadedDataset) -> list[str]:
    """The component names of `observation.state`, flat (a list, lerobot's {"motors": [...]}, Unitree's [[...]])."""
    f = ds.info.features.get("observation.state")
    return (f.flat_names() if f is not None else None) or []


def arm_groups(names: list[str]) -> dict[str, list[str]]:
    """Names grouped by the arm they name: `left` / `right` (prefix or suffix) or a numbered prefix (`arm1`)."""
    groups: dict[str, list[str]] = {}
    for n in names:
        key = name_key(n)
        side = next((s for s in ("left", "right") if key.startswith(s) or key.endswith(s)), None)
        m = NUMBERED_ARM.match(n)
        group = side or (m.group(1).lower() if m else None)
        if group:
            groups.setdefault(group, []).append(n)
    return groups


def _two_arms_by_names(name: str, ds: LoadedDataset) -> tuple[str, str] | None:
    """A one-armed embodiment whose state names hold two arms -> its two-arm one (`unknown` if none, never one arm)."""
    emb = default_registry().get(name) if name in default_registry() else None
    if emb is None or emb.joint_space is None or len(emb.joint_space.arms) != 1:
        return None
    arm = emb.joint_space.arms[0]
    names = state_names(ds)
    keys = {name_key(n) for n in names}
    # a side counts when each of the arm's joints is named with it (so a canonical dataset's `left.wrist.x` .. is no
    # arm); a numbered prefix (`arm1_j1`, names without the joints') when it carries at least the arm's joint count
    sided = [s for s in ("left", "right") if all(j.keys((s,)) & keys for j in arm.joints)]
    numbered = [g for g, ns in arm_groups(names).items() if g not in ("left", "right") and len(ns) >= len(arm.joints)]
    groups = sided if len(sided) == 2 else sorted(numbered)
    if len(groups) != 2:
        return None
    if name not in BIMANUAL:
        return UNKNOWN_EMBODIMENT, (
            f"observation.state names two {name} arms ({', '.join(groups)}) and no two-arm {name} is registered: set "
            "the `embodiment` option"
        )
    return BIMANUAL[name], f"{name} x2: observation.state names two arms ({', '.join(groups)})"


def resolve_embodiment(robot_type: str | None, ds: LoadedDataset, option: str | None) -> tuple[str, str]:
    """(registry name, how it was chosen): the `embodiment` option, else robot_type, else the declared one."""
    if option:
        return option, "embodiment option"
    norm = alnum(robot_type or "")
    found: tuple[str, str] | None = None
    for name in default_registry().names():
        if norm and norm == alnum(name):
            found = name, f"robot_type {robot_type!r}"
    if found is None and norm and robot_type:
        found = _by_alias(robot_type)
    if found is not None:
        return _two_arms_by_names(found[0], ds) or found
    action = ds.info.features.get("action")
    declared = (action.info or {}).get("embodiment") if action is not None else None
    if declared in default_registry().names():  # a canonical dataset names its embodiment beside its mask
        return declared, f"features.action.info.embodiment {declared!r}"
    # Never a guess from the state layout: a Unitree G1 with two arms and hands is no AgiBot.
    return UNKNOWN_EMBODIMENT, f"robot_type {robot_type!r} names no known embodiment: set the `embodiment` option"


_SIDE_WORDS = {"left": "left", "lhs": "left", "right": "right", "rhs": "right"}


def card_sides(text: str, prefixes: list[str]) -> dict[str, Side] | None:
    """{prefix: side} from a dataset card that ties each numbered prefix to one side right after it (`arm1 (RHS)`,
    `arm2: left arm`); None unless every prefix gets exactly one side and the sides differ."""
    found: dict[str, set[str]] = {}
    for p in prefixes:
        pattern = rf"\b{re.escape(p)}\b\W{{0,4}}(left|right|lhs|rhs)\b"
        found[p] = {_SIDE_WORDS[m.group(1).lower()] for m in re.finditer(pattern, text, re.IGNORECASE)}
    if any(len(s) != 1 for s in found.values()) or len({next(iter(s)) for s in found.values()}) != len(found):
        return None
    return {p: next(iter(s)) for p, s in found.items()}  # type: ignore[misc]


def sides_from_card(ds: LoadedDataset) -> tuple[dict[str, Side], str] | None:
    """The numbered arm prefixes' sides from the dataset card, with where they were read."""
    numbered = sorted(g for g in arm_groups(state_names(ds)) if g not in ("left", "right"))
    # the dataset card: README.md in the dataset folder, else in the folder above (a dataset kept in a repo)
    cards = (ds.root / "README.md", ds.root.parent / "README.md") if len(numbered) == 2 else ()
    card = next((p for p in cards if p.is_file()), None)
    if card is None:
        return None
    sides = card_sides(card.read_text(encoding="utf-8", errors="replace"), numbered)
    return (sides, str(card)) if sides else None


def joint_options(
    robot_type: str | None, opts: JointSpaceOptions | None, ds: LoadedDataset | None = None
) -> JointSpaceOptions | None:
    """The dataset's joint conventions: the `joint_space` option `opts`, over what the dataset says of itself (the
    sides of numbered arm prefixes from its card) and lerobot >= 0.2's defaults for its `<arm>_follower` robots
    (so100/so101/koch_follower and their `bi_` pairs: body joints RANGE_M100_100 unless recorded with
    use_degrees=True, the gripper RANGE_0_100; src/lerobot/robots/*_follower/*.py), which lerobot < 0.2's `so100` /
    `koch` (degrees) do not share; Leju's `kuavo4pro` converter writes its claw / 100 (kuavo_data_challenge
    CvtRosbag2Lerobot.py @ fce8528:285-286). The follower's unit is a tie-break (`recorder_units`): the values decide
    (`ingest.canonical.joint_units`)."""
    given = {} if opts is None else opts.model_dump(exclude_unset=True)
    base: dict = {}
    if (robot_type or "").lower().endswith("_follower"):
        base |= {"recorder_units": "range_m100_100", "gripper_unit": "percent"}
    if (robot_type or "") == "kuavo4pro":  # Leju's converter: the claw's 0 open .. 100 closed / 100 (joint_space.yaml)
        base |= {"gripper_unit": "fraction_closed"}
    card = sides_from_card(ds) if ds is not None and "sides" not in given else None
    if card is not None:
        base |= {"sides": card[0], "sides_from": f"dataset card {card[1]}"}
    if not base:
        return opts
    return JointSpaceOptions.model_validate({**base, **given})
