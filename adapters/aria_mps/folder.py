"""Which hand file of one MPS folder becomes its episode, decided at discovery: per form the newest file
(`forms.hand_files`), the 21 landmarks before the wrist-and-palm poses, and only a file whose rows fall inside the
trajectory's span (the maker's own sample folder holds hand tracking of another session beside its trajectory:
its landmark files span 1762-1817 s of the device clock, its trajectory and wrist-and-palm files 148-161 s). A file
of another session is never joined; every file left out is said in a sentence (a note, a source finding)."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.aria_mps import files
from adapters.aria_mps.forms import RESULTS_FORM, WRIST_FORM, HandFile, hand_files, newest_note
from adapters.storage.location import Location

EDGE_BYTES = 1 << 16  # the header and first row, and the last row, of a CSV are read from its two ends
FORM_WORDS = {RESULTS_FORM: "21 landmarks", WRIST_FORM: "wrist and palm only"}


def edge_micros(path: Location) -> tuple[int, int] | None:
    """(first, last) `tracking_timestamp_us` of a CSV read from its two ends (a 1 kHz trajectory of an hour is
    ~1 GB); None where the file has no such column or no row."""
    with path.open("rb") as f:
        head = f.read(EDGE_BYTES).decode("utf-8", errors="replace").splitlines()
        f.seek(0, 2)
        f.seek(max(0, f.tell() - EDGE_BYTES))
        tail = f.read().decode("utf-8", errors="replace").splitlines()
    if len(head) < 2 or "tracking_timestamp_us" not in head[0].split(","):
        return None
    i = head[0].split(",").index("tracking_timestamp_us")
    try:
        first = int(head[1].split(",")[i])
        last = int(next(line for line in reversed(tail) if line.strip()).split(",")[i])
    except (ValueError, IndexError, StopIteration):
        return None
    return first, last


def span_text(span: tuple[int, int]) -> str:
    return f"{span[0] / 1e6:.3f}-{span[1] / 1e6:.3f} s"


@dataclass
class Choice:
    """The hand file an MPS folder's episode reads (None: none can be), why, and what was left out."""

    hand_file: HandFile | None
    why_none: str = ""
    notes: list[str] = field(default_factory=list)  # the newest of each form
    apart: list[str] = field(default_factory=list)  # files of another session than the trajectory


def choose(hand_dir: Location, trajectory: Location) -> Choice:
    """The newest file of the richest form whose rows meet the trajectory's span."""
    names = sorted(p.name for p in hand_dir.iterdir()) if hand_dir.is_dir() else []
    found = hand_files(names)
    if not found:
        seen = ", ".join(names) or "nothing"
        return Choice(None, f"no hand file (hand_tracking_results*.csv, wrist_and_palm_poses*.csv) among: {seen}")
    notes = [n for f in found.values() if (n := newest_note(f))]
    tspan = edge_micros(trajectory) if trajectory.is_file() else None
    if tspan is None:
        return Choice(None, f"{files.TRAJECTORY} missing or without rows: the hands have no device pose", notes)
    apart = []
    for form in (RESULTS_FORM, WRIST_FORM):
        if form not in found:
            continue
        newest = found[form][0]
        span = edge_micros(hand_dir / newest.name)
        if span is not None and span[0] <= tspan[1] and span[1] >= tspan[0]:
            return Choice(newest, "", notes, apart)
        where = span_text(span) if span is not None else "no rows"
        apart.append(
            f"{newest.name} ({FORM_WORDS[form]}) spans {where} of the device clock, {files.TRAJECTORY} "
            f"{span_text(tspan)}: of another session, not joined, not read"
        )
    return Choice(None, "; ".join(apart), notes, apart)
