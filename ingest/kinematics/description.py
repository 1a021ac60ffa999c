"""Robot descriptions shipped in `schemas/robots/descriptions/<name>.urdf`: locating, refusing uncited or unsupported
files, and reading the joint tree in float64.

A description is a trimmed URDF (links and joints only) transcribed from its maker's published URDF/MJCF. Its first
XML comment, before `<robot>`, must cite where each number came from, one line per maker file:

    source: <owner>/<repo> <path inside the repo> @ <40-hex commit>

(`Source: owner/repo, path, commit <sha>` reads the same.)

A file without such a line is refused: an uncited chain is a guess, and a guessed wrist pose is worse than none.
"""

from __future__ import annotations

import hashlib
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

_HEADER = re.compile(r"\A\s*(?:<\?xml[^>]*\?>\s*)?<!--(.*?)-->", re.DOTALL)
# "source: owner/repo path @ commit"; commas between the parts and "commit <sha>" for "@ <sha>" are accepted too
_SOURCE = re.compile(
    r"^\s*source:\s*([\w.-]+/[\w.-]+),?\s+(\S+?),?\s+(?:@\s*|commit\s+)?([0-9a-f]{40})\b", re.MULTILINE | re.IGNORECASE
)
_NAME = re.compile(r"\A[A-Za-z0-9_.-]+\Z")
MOVABLE = ("revolute", "continuous", "prismatic")
SUPPORTED = (*MOVABLE, "fixed")


class DescriptionError(ValueError):
    """A robot description that is missing, unreadable, uncited or uses what we do not model; names the file."""


@dataclass(frozen=True)
class JointSpec:
    """One URDF joint as written: the origin is the child frame in the parent frame (URDF: xyz, then fixed-axis
    roll-pitch-yaw, R = Rz(yaw) Ry(pitch) Rx(roll))."""

    name: str
    type: str
    parent: str
    child: str
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float]
    axis: tuple[float, float, float]
    lower: float
    upper: float
    mimic: tuple[str, float, float] | None  # (master joint, multiplier, offset): q = multiplier * q_master + offset


@dataclass(frozen=True)
class Description:
    name: str
    path: Path
    text: str
    sources: tuple[str, ...]  # "owner/repo/path@commit", one per cited maker file
    root: str
    links: tuple[str, ...]  # every link, the root first, then depth-first in file order
    joints: tuple[JointSpec, ...]  # every joint, in the same depth-first order (its child's position in `links`)


def robots_dir() -> Path:
    """The folder of shipped descriptions, wherever `schemas` is installed (a checkout or a wheel)."""
    return Path(str(resources.files("schemas") / "robots" / "descriptions"))


def description_path(name: str) -> Path:
    if not _NAME.match(name):
        raise DescriptionError(f"robot description name {name!r} is not a file stem (letters, digits, _ . - only)")
    path = robots_dir() / f"{name}.urdf"
    if not path.is_file():
        known = sorted(p.stem for p in robots_dir().glob("*.urdf"))
        raise DescriptionError(f"{path}: no such robot description; shipped descriptions: {', '.join(known)}")
    return path


def read_description(path: Path, name: str | None = None) -> Description:
    """Parse and check one description file; every error names the file and the offending element."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DescriptionError(f"{path}: cannot read the robot description ({e})") from e
    return parse_description(text, path, name or path.stem)


def urdf_sha256(path: Path) -> str:
    """The hex SHA-256 of a URDF's bytes: how a description declared in a job spec is named in the lineage."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise DescriptionError(f"{path}: cannot read the robot description ({e.strerror or e})") from e


def read_declared(path: Path) -> Description:
    """A URDF a job spec declares (issue 55 item 2: a team's robot, never written into the package): read as the
    shipped ones are, except that no citation header is required; its source is the file's path and SHA-256, which
    the lineage keeps. Links and joints only: meshes, inertials, transmissions and simulator tags are ignored."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")  # the file's own bytes are hashed: CRLF and a BOM as written (Kinova's)
    except (OSError, UnicodeDecodeError) as e:
        raise DescriptionError(f"{path}: cannot read the robot description ({e})") from e
    sha = hashlib.sha256(raw).hexdigest()
    return parse_description(text, path, path.stem, sources=(f"{path} sha256:{sha}",))


def parse_description(text: str, path: Path, name: str, *, sources: tuple[str, ...] = ()) -> Description:
    """`sources`: given for a declared file (`read_declared`); else read from the file's citation header."""
    header = _HEADER.match(text)
    cited = _SOURCE.findall(header.group(1)) if header else []
    sources = sources or tuple(f"{repo}/{file}@{commit}" for repo, file, commit in cited)
    if not sources:
        raise DescriptionError(
            f"{path}: no citation header; the file must open with an XML comment holding at least one line "
            "'source: <owner>/<repo> <path> @ <40-hex commit>' naming the maker file its numbers were transcribed from"
        )
    try:
        root_el = ET.fromstring(text)
    except ET.ParseError as e:
        raise DescriptionError(f"{path}: not well-formed XML ({e})") from e
    if root_el.tag != "robot":
        raise DescriptionError(f"{path}: root element is <{root_el.tag}>, a URDF needs <robot>")
    link_names = [el.get("name") or "" for el in root_el.findall("link")]
    if "" in link_names or len(set(link_names)) != len(link_names):
        raise DescriptionError(f"{path}: every <link> needs a unique name")
    specs = [_joint(el, path) for el in root_el.findall("joint")]
    _check_tree(specs, set(link_names), path)
    _check_mimics(specs, path)
    children = {s.child for s in specs}
    roots = [n for n in link_names if n not in children]
    if len(roots) != 1:
        raise DescriptionError(f"{path}: a description must be one tree with one root link; roots found: {roots}")
    order = _depth_first(roots[0], specs, path)
    by_child = {s.child: s for s in specs}
    return Description(
        name=name,
        path=path,
        text=text,
        sources=sources,
        root=roots[0],
        links=tuple(order),
        joints=tuple(by_child[link] for link in order[1:]),
    )


def _floats(el: ET.Element | None, attr: str, default: str, path: Path, where: str) -> tuple[float, ...]:
    raw = default if el is None else el.get(attr, default)
    try:
        values = tuple(float(v) for v in raw.split())
    except ValueError as e:
        raise DescriptionError(f"{path}: {where} {attr}={raw!r} is not numeric") from e
    if not all(math.isfinite(v) for v in values):
        raise DescriptionError(f"{path}: {where} {attr}={raw!r} is not finite")
    return values


def _joint(el: ET.Element, path: Path) -> JointSpec:
    name, kind = el.get("name") or "", el.get("type") or ""
    where = f"joint {name!r}"
    if not name:
        raise DescriptionError(f"{path}: a <joint> has no name")
    if kind not in SUPPORTED:
        raise DescriptionError(f"{path}: {where} has type {kind!r}; supported: {', '.join(SUPPORTED)}")
    parent, child = el.find("parent"), el.find("child")
    if parent is None or child is None or not parent.get("link") or not child.get("link"):
        raise DescriptionError(f"{path}: {where} needs <parent link=...> and <child link=...>")
    origin = el.find("origin")
    xyz = _floats(origin, "xyz", "0 0 0", path, where)
    rpy = _floats(origin, "rpy", "0 0 0", path, where)
    axis = _floats(el.find("axis"), "xyz", "1 0 0", path, where)  # URDF's default axis is x
    if len(xyz) != 3 or len(rpy) != 3 or len(axis) != 3:
        raise DescriptionError(f"{path}: {where} origin xyz/rpy and axis need three numbers each")
    if kind in MOVABLE and np.linalg.norm(axis) < 1e-9:
        raise DescriptionError(f"{path}: {where} has a zero axis")
    lower, upper = -math.inf, math.inf
    if kind in ("revolute", "prismatic"):
        limit = el.find("limit")
        if limit is None or limit.get("lower") is None or limit.get("upper") is None:
            raise DescriptionError(f"{path}: {where} ({kind}) needs <limit lower=... upper=...>")
        (lower,), (upper,) = _floats(limit, "lower", "", path, where), _floats(limit, "upper", "", path, where)
        if lower > upper:
            raise DescriptionError(f"{path}: {where} limit lower {lower} > upper {upper}")
    mimic = None
    if (m := el.find("mimic")) is not None:
        (mult,), (off,) = _floats(m, "multiplier", "1", path, where), _floats(m, "offset", "0", path, where)
        mimic = (m.get("joint") or "", mult, off)
    return JointSpec(
        name=name,
        type=kind,
        parent=parent.get("link") or "",
        child=child.get("link") or "",
        xyz=xyz,  # type: ignore[arg-type]
        rpy=rpy,  # type: ignore[arg-type]
        axis=axis,  # type: ignore[arg-type]
        lower=lower,
        upper=upper,
        mimic=mimic,
    )


def _check_tree(specs: list[JointSpec], links: set[str], path: Path) -> None:
    names = [s.name for s in specs]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise DescriptionError(f"{path}: duplicate joint names {dup}")
    for s in specs:
        if missing := [x for x in (s.parent, s.child) if x not in links]:
            raise DescriptionError(f"{path}: joint {s.name!r} refers to undeclared link(s) {missing}")
    children = [s.child for s in specs]
    if twice := sorted({c for c in children if children.count(c) > 1}):
        raise DescriptionError(f"{path}: link(s) {twice} are the child of more than one joint (not a tree)")


def _check_mimics(specs: list[JointSpec], path: Path) -> None:
    movable = {s.name: s for s in specs if s.type in MOVABLE}
    for s in specs:
        if s.mimic is None:
            continue
        master = movable.get(s.mimic[0])
        if s.type not in MOVABLE or master is None or master.mimic is not None:
            raise DescriptionError(
                f"{path}: joint {s.name!r} mimics {s.mimic[0]!r}, which must be a movable joint that mimics nothing"
            )


def _depth_first(root: str, specs: list[JointSpec], path: Path) -> list[str]:
    kids: dict[str, list[str]] = {}
    for s in specs:
        kids.setdefault(s.parent, []).append(s.child)
    order, stack = [], [root]
    while stack:
        link = stack.pop()
        order.append(link)
        stack.extend(reversed(kids.get(link, [])))
    if len(order) != len(specs) + 1:
        raise DescriptionError(f"{path}: the joints do not form one tree from the root {root!r} (a cycle?)")
    return order
