"""Numbered joint names counted from another first number than the description's: `joint_0 .. joint_6` in a
dataset, `joint1 .. joint7` (panda_joint1 ..) in the description.

Matching by name alone reads such a dataset's `joint_1` as the description's joint 1, one joint off; it fails only
when the last joint happens to be missing. InternData-A1's Franka is one: its converter names the 7 arm joints
`joint_0` .. `joint_6` and reads them itself as the first 7 joints of franka_panda.urdf, `panda_joint1` ..
`panda_joint7` (zz2ethankai/InternDataEngine@cf8b043:policy/lmdb2lerobotv21/lmdb2lerobot_franka_a1.py:74,318,388,
`q[:ndim] = each_compute_qpos` on the pinocchio model).

`renumbered` compares, per name stem of an arm's joints (`joint`, `left_joint`, keys as `name_key` spells them), the
numbers the dataset's columns carry with those of the description's names. Same first number: nothing to do (the
name path reads them). First numbers 0 against 1 (either way round): when the dataset's numbers under that stem are
exactly the description's shifted by one, one column per joint, the columns are read shifted and a note says so;
otherwise the numbering is refused (`NumberingError`), naming both numberings, since which column is which joint is
not stated. Only joints the dataset's `joint_map` leaves unmapped are checked: an explicit map is the user's word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.robots.joint_space import JointMap, name_key

_NUMBERED = re.compile(r"(.*[a-z])(\d+)")  # a name key ending in a number after a letter: joint0, leftjoint12


class NumberingError(ValueError):
    """A dataset numbers an arm's joints from 0 where the description does from 1 (or the reverse), and the two
    numberings are not one shift apart."""


@dataclass(frozen=True)
class Renumbered:
    """Where each joint of a shifted numbering is: joint (URDF name) -> (stream key, index, native name)."""

    columns: dict[str, tuple[str, int, str]]
    note: str


def _split(key: str) -> tuple[str, int] | None:
    m = _NUMBERED.fullmatch(key)
    return (m[1], int(m[2])) if m else None


def _numbers(joints: Iterable[JointMap], prefixes: tuple[str, ...], stem: str) -> dict[str, int]:
    """joint -> its number under `stem` in the description's names (joints with none or several left out)."""
    out = {}
    for j in joints:
        found = {p[1] for k in j.keys(prefixes) if (p := _split(k)) and p[0] == stem}
        if len(found) == 1:
            out[j.urdf] = found.pop()
    return out


def _span(numbers: dict[int, tuple[int, str]] | Iterable[int]) -> str:
    """`joint_0..joint_6 (7)` of a dataset's numbered columns, `1..7 (7)` of bare numbers."""
    if isinstance(numbers, dict):
        ns = sorted(numbers)
        return f"{numbers[ns[0]][1]}..{numbers[ns[-1]][1]} ({len(ns)})"
    ns = sorted(numbers)
    return f"{ns[0]}..{ns[-1]} ({len(ns)})"


def renumbered(
    table: Sequence[tuple[str, Sequence[str]]], groups: Sequence[Sequence[JointMap]], prefixes: tuple[str, ...]
) -> Renumbered | None:
    """The columns of a numbering shifted by one, None where no stem of the joints is counted from another first
    number; `table` the streams searched, preferred first, as (key, component names); `groups` the joints to check,
    widest first (an arm with its gripper, then the arm alone): the first group the dataset's numbers are one shift
    of is read. The first stream holding any of the joints' numbered stems decides. NumberingError otherwise."""
    for key, names in table:
        have: dict[str, dict[int, tuple[int, str]]] = {}
        for i, n in enumerate(names):
            if p := _split(name_key(n)):
                have.setdefault(p[0], {}).setdefault(p[1], (i, n))
        for stem, cols in have.items():
            wanted = [w for g in groups if len(w := _numbers(g, prefixes, stem)) >= 2]
            if not wanted:
                continue
            first_data, first_desc = min(cols), min(wanted[0].values())
            if first_data == first_desc or {first_data, first_desc} != {0, 1}:
                return None
            shift = first_data - first_desc
            for want in wanted:
                if sorted(cols) == sorted(v + shift for v in want.values()):
                    read = ", ".join(f"{cols[v + shift][1]} = {u}" for u, v in want.items())
                    note = (
                        f"joint numbering: {key} {_span(cols)} counts from {first_data}, the description's names "
                        f"from {first_desc}; read one shift apart: {read}"
                    )
                    return Renumbered({u: (key, *cols[v + shift]) for u, v in want.items()}, note)
            raise NumberingError(
                f"{key} numbers its joints from {first_data} ({_span(cols)}), the description's names "
                f"{_span(wanted[0].values())} from {first_desc}, and the two are not one shift apart: which column "
                "is which joint is not stated; set joint_space.joint_map"
            )
    return None
