"""A deviation of a dataset from what its format's writer produces, as eidata's readers report it: a `Quirk` (code,
severity, message, the file and the episodes it concerns).

Severity: `error` = the format's reference reader (lerobot 0.3.3 for v2.1) would fail to load or iterate the dataset;
`warning` = it loads but the dataset is not what the writer writes (or is wrong in a way a consumer must repair);
`info` = a harmless variant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

TOLERANCE_S = 1e-4  # lerobot's default tolerance_s
Severity = Literal["info", "warning", "error"]


class Quirk(BaseModel):
    code: str
    severity: Severity
    message: str
    path: str | None = None
    episodes: list[str] = Field(
        default_factory=list,
        description="every episode the quirk concerns (the message may name a few and say how many more)",
    )


def quirk(code: str, severity: Severity, message: str, path: str | None = None, episodes: Iterable[Any] = ()) -> Quirk:
    return Quirk(code=code, severity=severity, message=message, path=path, episodes=[str(e) for e in episodes])


def listing(items: Iterable[Any], limit: int = 5) -> str:
    """The first `limit` items, then how many more."""
    items = list(items)
    head = ", ".join(str(i) for i in items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")
