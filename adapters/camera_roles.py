"""The one camera vocabulary: which canonical camera (`schemas.canonical.Camera`) a source camera fills, by its name.

The rules are data (`camera_roles.yaml` beside this module, whose comments cite the datasets behind each name); every
adapter that places cameras by name calls `camera_role` (one name) or `camera_roles` (an episode's cameras, each role
given once). An exact per-source map (a subset or layout table, a user's `camera_map`) overrides the rules name by
name; a user's own rules (LeRobot's `camera_rules`) go before the table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from schemas.canonical import Camera
from schemas.data_file import read_yaml
from schemas.frozen import Frozen

# A Camera value; `wrist`: the side the name says (`wrist_side`); `none`: no canonical camera, rules stop here.
Role = Literal["head", "wrist_left", "wrist_right", "third_person", "wrist", "none"]
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


class Rule(Frozen):
    """A role for the names one of whose words is in `words`, or which one of `globs` matches (lower-cased)."""

    role: Role
    globs: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _matches_something(self) -> Rule:
        if not self.globs and not self.words:
            raise ValueError(f"a rule for {self.role!r} names neither globs nor words")
        if any(w != w.lower() or not _WORDS.fullmatch(w) for w in self.words):
            raise ValueError(f"words are lower-case runs of letters or of digits: {list(self.words)}")
        return self

    def matches(self, name: str, words: frozenset[str]) -> bool:
        return not words.isdisjoint(self.words) or any(fnmatchcase(name, g.lower()) for g in self.globs)


class RoleTable(Frozen):
    """`camera_roles.yaml`: the rules, first match wins."""

    rules: tuple[Rule, ...]


RULES: tuple[Rule, ...] = read_yaml(Path(__file__).with_name("camera_roles.yaml"), RoleTable).rules


def words(name: str) -> frozenset[str]:
    """A camera name's words: runs of letters (split at a lower-to-upper case step) or of digits, lower-cased."""
    return frozenset(w.lower() for w in _WORDS.findall(name))


def wrist_side(name: str) -> Camera:
    """The one side rule: a name holding `left` and not `right` is the left wrist; any other wrist is the right one,
    the hand a one-armed robot fills."""
    n = name.lower()
    return Camera.wrist_left if "left" in n and "right" not in n else Camera.wrist_right


def camera_role(
    name: str, overrides: Mapping[str, Camera | None] | None = None, rules: Sequence[Rule] = ()
) -> Camera | None:
    """The canonical camera of a source camera named `name`: its entry in `overrides` (an exact map; None: no camera)
    when it has one, else the first of `rules` then the shared table that matches it; None when nothing matches."""
    if overrides is not None and name in overrides:
        return overrides[name]
    n, w = name.lower(), words(name)
    for rule in (*rules, *RULES):
        if rule.matches(n, w):
            if rule.role == "wrist":
                return wrist_side(name)
            return None if rule.role == "none" else Camera(rule.role)
    return None


def camera_roles(
    names: Iterable[str], overrides: Mapping[str, Camera | None] | None = None, rules: Sequence[Rule] = ()
) -> dict[str, Camera | None]:
    """Each of an episode's cameras with its canonical camera, each camera given once: the names `overrides` places
    claim theirs first, then the others in `names`' order by the rules; a name whose camera is already taken gets
    None (kept under its own name: two sources in one slot would leave one of them unwritten)."""
    names = list(dict.fromkeys(names))
    exact = {n: overrides[n] for n in names if overrides is not None and n in overrides}
    taken = {c for c in exact.values() if c is not None}
    out: dict[str, Camera | None] = {}
    for name in names:
        if name in exact:
            out[name] = exact[name]
            continue
        role = camera_role(name, rules=rules)
        out[name] = role if role not in taken else None
        taken |= {role} if role is not None else set()
    return out
