"""Which hand file of an MPS folder is read, and the wrist frame a wrist-and-palm row gives. Facts are the maker's
code or its real sample at facebookresearch/projectaria_tools@90f70ff (abbreviated `pat`):

- Forms: `hand_tracking_results*.csv` (21 landmarks + T_Device_Wrist) and `wrist_and_palm_poses*.csv` (wrist and
  palm points, the later version adding the palm and wrist normals: core/mps/HandTrackingReader.cpp:775-893 v2,
  :895-965 v1, both by column name). Names: the unversioned one is the legacy file (core/mps/test/
  TestHandTracking.cpp:28 `mps_wrist_and_palm_valid_legacy_file`), `_vN` a later output; the real sample holds
  `hand_tracking_results_v1/_v2.csv` and `wrist_and_palm_poses.csv` / `_v2.csv` (data/gen1/mps_sample/hand_tracking/).
  Per form the highest N is read (unversioned = 0); the others are said in a note.
- The wrist frame from wrist, palm centre and palm normal is eidata's human wrist frame (`ingest.canonical.hands`:
  z wrist -> middle1, y out of the palm, x = y cross z). MPS's hand is a rigid-palm model: on the real
  `hand_tracking_results_v2.csv` (its 6 tracked rows, both hands) the palm centre (PALM_CENTER, HandTracking.h:61)
  and the file's palm normal (out of the palm, core/mps/HandTracking.cpp:184-201) sit at the same place in the frame
  eidata builds from the 21 landmarks in every row: palm centre (0.0002, 0.0184, 0.0822) m, normal
  (+-0.193, 0.979, -0.068) (x negated for a left hand, the mirror image), each to 0.03. The frame is the rotation
  that puts those two directions (`PALM_IN_WRIST`, `NORMAL_IN_WRIST`, right hand) onto the row's
  wrist -> palm centre and palm normal. `tests/adapters/aria_mps/test_forms.py` measures it against the 21-landmark
  frame on that file.

Which hand file of one MPS folder becomes its episode, decided at discovery: per form the newest file
(`forms.hand_files`), the 21 landmarks before the wrist-and-palm poses, and only a file whose rows fall inside the
trajectory's span (the maker's own sample folder holds hand tracking of another session beside its trajectory:
its landmark files span 1762-1817 s of the device clock, its trajectory and wrist-and-palm files 148-161 s). A file
of another session is never joined; every file left out is said in a sentence (a note, a source finding).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from adapters.aria_mps import files
from adapters.poses import se3
from adapters.storage.location import Location

# right hand, in eidata's wrist frame (see above); a left hand's x is negated
PALM_IN_WRIST, NORMAL_IN_WRIST = np.array([0.0, 0.0184, 0.0822]), np.array([0.193, 0.979, -0.068])
RESULTS_FORM, WRIST_FORM = "hand_tracking_results", "wrist_and_palm_poses"
_NAME = re.compile(rf"^({RESULTS_FORM}|{WRIST_FORM})(?:_v(\d+))?\.csv$")


@dataclass(frozen=True)
class HandFile:
    form: str  # RESULTS_FORM or WRIST_FORM
    version: int  # N of `_vN`; 0 for the unversioned (legacy) name
    name: str


def hand_files(names: Iterable[str]) -> dict[str, list[HandFile]]:
    """Per form, its files among `names`, newest first (the highest `_vN`, the unversioned legacy name last)."""
    out: dict[str, list[HandFile]] = {}
    for name in names:
        m = _NAME.match(name)
        if m:
            out.setdefault(m.group(1), []).append(HandFile(m.group(1), int(m.group(2) or 0), name))
    return {form: sorted(found, key=lambda f: -f.version) for form, found in sorted(out.items())}


def newest_note(found: list[HandFile]) -> str | None:
    """The sentence saying which of a form's files was read and which were not (None: there was one)."""
    if len(found) < 2:
        return None
    rest = ", ".join(f.name for f in found[1:])
    return f"{found[0].name} is the newest of its form: {rest} (older versions of the same output) not read"


def _axes(d: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(...,3,3) orthonormal axes (columns) from a direction `d` (the third axis) and a normal `n` (the first axis is
    n cross d), with the norms of d and of n cross d for degeneracy."""
    with np.errstate(invalid="ignore", divide="ignore"):
        dn = np.linalg.norm(d, axis=-1, keepdims=True)
        d = d / dn
        x = np.cross(n / np.linalg.norm(n, axis=-1, keepdims=True), d)
        xn = np.linalg.norm(x, axis=-1, keepdims=True)
        x = x / xn
    return np.stack([x, np.cross(d, x), d], axis=-1), dn[..., 0], xn[..., 0]


def wrist_frames(
    wrist: np.ndarray, palm: np.ndarray, palm_normal: np.ndarray, hand: int, eps: float = 1e-6
) -> np.ndarray:
    """(N,3) wrist, palm centre, palm normal (device frame) of `hand` (0 left) -> (N,4,4) device_from_wrist in
    eidata's human wrist frame; NaN where a row is NaN or degenerate (palm centre on the wrist, normal along it)."""
    mirror = np.array([-1.0 if hand == 0 else 1.0, 1.0, 1.0])
    in_wrist, _, _ = _axes(PALM_IN_WRIST * mirror, NORMAL_IN_WRIST * mirror)
    in_device, dn, xn = _axes(palm - wrist, palm_normal)
    out = se3(in_device @ in_wrist.T, wrist)
    bad = ~(dn >= eps) | ~(xn >= eps) | ~np.isfinite(out).all(axis=(1, 2))
    out[bad] = np.nan
    return out


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
