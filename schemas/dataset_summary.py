"""What `eidata inspect` prints of a LeRobot dataset: one text for every reader of one (the LeRobot adapter's view,
which `inspect` uses as ingest reads v2.x and v3.0 alike, and `DatasetMeta`'s of a v2.x one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from schemas.lerobot import InfoJson


class Said(Protocol):
    """What the summary reads of a quirk (`schemas.quirks.Quirk`): read only."""

    @property
    def severity(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...


def dataset_summary(name: str, i: InfoJson, episodes: int, frames: int, tasks: int, quirks: Sequence[Said]) -> str:
    """The dataset as read (episodes, frames, tasks) beside what info.json declares, its features, then its quirks
    by severity."""
    fps = int(i.fps) if float(i.fps).is_integer() else i.fps
    lines = [
        f"{name}: LeRobot {i.codebase_version}, robot_type {i.robot_type}, fps {fps}",
        f"episodes {episodes} (info {i.total_episodes}), frames {frames} (info {i.total_frames}), tasks {tasks}",
        f"features ({len(i.features)}): " + ", ".join(f"{k} {f.dtype}{list(f.shape)}" for k, f in i.features.items()),
    ]
    counts = {s: sum(q.severity == s for q in quirks) for s in ("error", "warning", "info")}
    lines.append("quirks: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for sev in ("error", "warning", "info"):
        lines += [f"  [{sev}] {q.code}: {q.message}" for q in quirks if q.severity == sev]
    return "\n".join(lines)
