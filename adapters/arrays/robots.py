"""Which robot an array recording names (`robots.yaml` beside this module, whose rows cite the makers' registries): a
layout's way to the hands takes its embodiment only where the file names that robot (Isaac Lab's env name,
robosuite's `robots`), never from the family its layout belongs to; otherwise natives only (`named_robot` says why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, RootModel

from adapters.arrays.layouts import FromFile, attr_value
from schemas.data_file import read_yaml
from schemas.frozen import Frozen

DECLARE = (
    "declare the robot in the job spec's `robots:` section (its URDF, joints, end-effector link) and name it under "
    "the source's `robot:`"
)


class RobotTable(Frozen):
    """Where a file names its robot, and the robots it may name."""

    attr: str
    json_path: tuple[str, ...] = Field((), alias="json")
    split: str | None = None
    why: str
    robots: dict[str, str | None]


class _Tables(RootModel[dict[str, RobotTable]]):
    """`robots.yaml`: table name -> table."""


TABLES: dict[str, RobotTable] = read_yaml(Path(__file__).with_name("robots.yaml"), _Tables).root


def named_robot(table_name: str, attrs: dict[str, dict[str, Any]]) -> tuple[str | None, str]:
    """(embodiment, what the file said) for a file with `attrs` under the table `table_name`; embodiment None where the
    file names no robot of the table, several, or one with no description (the text says how to declare it)."""
    table = TABLES[table_name]
    found = attr_value(FromFile(attr=table.attr, json=table.json_path), attrs)
    where = table.attr + "".join(f"[{k!r}]" for k in table.json_path)
    if found is None:
        return None, f"the file names no robot ({where} absent): natives only; {DECLARE}"
    value = found[0]
    values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    tokens = [t for v in values for t in (v.split(table.split) if table.split else [v])]
    named = list(dict.fromkeys(t for t in tokens if t in table.robots))
    said = f"{where} = {value!r}"
    if not named:
        known = ", ".join(table.robots)
        return None, f"{said} names no robot this layout knows ({known}): natives only; {DECLARE}"
    embodiments = {table.robots[t] for t in named}
    if len(embodiments) != 1 or None in embodiments:
        missing = [t for t in named if table.robots[t] is None]
        why = f"no description of {', '.join(missing)} here" if missing else f"several robots ({', '.join(named)})"
        return None, f"{said} names {', '.join(named)}: {why}: natives only; {DECLARE}"
    (embodiment,) = embodiments
    return embodiment, f"{said} names {named[0]} ({table_name} robots: {table.why})"
