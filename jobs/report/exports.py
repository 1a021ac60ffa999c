"""The exports made from a corpus, for the report (`eidata report ROOT --exports DIR ...`): every dataset under the
folders the caller names, whatever format wrote it (`_kind`), and every folder or dataset of no kind the report knows
named in `unread` with why: an export folder is never passed over without a word.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.report.markup import escape, table
from schemas.lda import LDA_STATE, STATS_PATH
from schemas.lerobot import INFO_PATH, MODALITY_PATH
from schemas.storage import MARKER


@dataclass
class ExportView:
    """One exported dataset: its folder, format, what its meta says, and what its completion record says it left out."""

    folder: str
    version: str
    episodes: int
    frames: int
    robot_type: str
    cameras: list[str]
    skipped: dict[str, int]
    notes: list[str]
    format: str = ""  # lda, gr00t, or the LeRobot version a LeRobot export wrote
    layout: str = ""  # LDA's layout (single_arm, dual_arm, human, native); "" for other formats


@dataclass
class Exports:
    found: list[ExportView] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # "<folder>: why", each folder or dataset of no known kind


def _json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _kind(ds: Path, info: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(format, layout, completion record) of the dataset folder `ds`, None when it is of no known kind."""
    record = _json(ds / MARKER) if (ds / MARKER).is_file() else None
    lda = (ds / STATS_PATH).is_file() and (ds / MODALITY_PATH).is_file()
    if record is not None:
        fmt = str(record.get("format") or ("lda" if lda else f"LeRobot {info.get('codebase_version', '?')}"))
        return fmt, str(record.get("layout") or ""), record
    if lda:  # an LDA export written before its record: an end-effector layout has LDA's columns
        return "lda", "end effector" if LDA_STATE in info.get("features", {}) else "native", {}
    if (ds / MODALITY_PATH).is_file():
        return "gr00t", "", {}
    return None


def read_exports(folders: list[Path]) -> Exports:
    """Every exported dataset under `folders` (at any depth), and each folder or dataset the report cannot read."""
    out = Exports()
    for base in map(Path, folders):
        if not base.is_dir():
            out.unread.append(f"{base}: no such folder")
            continue
        datasets = sorted(p.parent.parent for p in base.rglob(INFO_PATH))
        if not datasets:
            out.unread.append(f"{base}: no dataset (no meta/info.json below it), not an export")
        for ds in datasets:
            name = ds.relative_to(base.parent).as_posix()
            if any(part.startswith(".") for part in ds.relative_to(base).parts):
                out.unread.append(f"{name}: a dataset being written or left by an interrupted export (a hidden folder)")
                continue
            info = _json(ds / INFO_PATH)
            kind = None if info is None else _kind(ds, info)
            if info is None or kind is None:
                why = "meta/info.json unreadable" if info is None else "a dataset no eidata export wrote"
                out.unread.append(f"{name}: {why} (no {MARKER}, no {MODALITY_PATH})")
                continue
            fmt, layout, record = kind
            feats = info.get("features", {})
            out.found.append(
                ExportView(
                    folder=name,
                    version=str(info.get("codebase_version", "?")),
                    episodes=int(info.get("total_episodes", 0)),
                    frames=int(info.get("total_frames", 0)),
                    robot_type=str(info.get("robot_type")),
                    cameras=[
                        k.removeprefix("observation.images.") for k, f in feats.items() if f.get("dtype") == "video"
                    ],
                    skipped=dict(record.get("skipped") or {}),
                    notes=list(record.get("notes") or []),
                    format=fmt,
                    layout=layout,
                )
            )
    return out


def exports_html(folders: list[Path]) -> str:
    """The report's table of the exports under `folders`, then each folder or dataset it could not read, named."""
    made, body = read_exports(folders), ""
    if made.found:
        body += table(
            ["export", "format", "layout", "episodes", "frames", "robot type", "cameras", "skipped", "notes"],
            [
                [
                    e.folder,
                    e.format,
                    e.layout or "-",
                    e.episodes,
                    e.frames,
                    e.robot_type,
                    ", ".join(e.cameras),
                    ", ".join(f"{n} {why}" for why, n in e.skipped.items()) or "none",
                    "; ".join(e.notes),
                ]
                for e in made.found
            ],
        )
    elif not made.unread:
        body += '<p class="note">exports: none named (`eidata report ROOT --exports DIR` reads them)</p>'
    if made.unread:
        items = "".join(f"<li>{escape(u)}</li>" for u in made.unread)
        body += f'<p class="note">exports not read ({len(made.unread)}):</p><ul class="unread">{items}</ul>'
    return body
