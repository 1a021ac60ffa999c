"""Which episodes leave in the chosen action space, and as which datasets (`spaces.py`): one dataset wherever lerobot
can hold them as one (one `action` width and meaning: always so for the canonical space), else one per robot. An
episode with no action in the space is refused, or with `--skip-without-action` left out with its dataset named in
one line (the export's notes, logged, and `.eidata-export.json`). Never silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.export.lerobot_v3.spaces import NoActionInSpace, SpaceOf, default_space, episode_lacks, space_of
from schemas.actions import ActionKind, ActionSpace
from schemas.canonical import ACTION
from schemas.robots.registry import UNKNOWN_EMBODIMENT


@dataclass
class Group:
    """The episodes of one exported dataset and how its action leaves."""

    of: SpaceOf
    episodes: list[Any] = field(default_factory=list)  # `plan.EpisodeRef`s, the manifest's order kept
    robots: list[str] = field(default_factory=list)


@dataclass
class Settled:
    space: ActionSpace
    groups: list[Group]
    left_out: list[str]  # one line per dataset whose episodes are left out (--skip-without-action)
    skipped: Counter[str] = field(default_factory=Counter)  # how many episodes those lines leave out, by reason


def _source(ref: Any, rel: str) -> str:
    """The episode's source: its lineage's, else its dataset's folder (`datasets/<source>/<subset>`)."""
    parts = Path(rel).parts
    return str(ref.lineage.source or (parts[-2] if len(parts) >= 2 else parts[-1]))


def named(refs: Sequence[Any]) -> str:
    """The first three episodes (`plan.EpisodeRef`s) by their uid, and how many more."""
    shown = ", ".join(r.uid for r in refs[:3])
    return shown + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")


def settle(refs: Sequence[Any], space: ActionSpace | None, skip: bool, name: str, rel: Any = None) -> Settled:
    """The episodes `refs` in `space` (None: `default_space` of their kinds) as groups of one `SpaceOf.key` each;
    `NoActionInSpace` naming the episodes that have none, unless `skip`. `rel(src)`: how a dataset is named."""
    rel = rel or (lambda src: str(src.root))
    kinds = [r.kind() for r in refs]  # `spaces.episode_kind` of each
    chosen = space or default_space(kinds)
    ofs: dict[tuple[int, str | None], SpaceOf | str] = {}
    groups: dict[tuple[Any, ...], Group] = {}
    lacking: dict[tuple[str, str], list[Any]] = {}
    lacks: dict[tuple[Any, ...], str | None] = {}  # `episode_lacks` by what it reads (`_lacks`)
    for ref, kind in zip(refs, kinds, strict=True):
        emb = ref.embodiment()
        at = (id(ref.source), emb)
        if at not in ofs:
            try:
                ofs[at] = space_of(ref.source.features, emb, chosen)
            except NoActionInSpace as err:
                ofs[at] = str(err)
        of = ofs[at]
        why = of if isinstance(of, str) else _lacks(ref, of, kind, lacks)
        if why is not None:
            lacking.setdefault((rel(ref.source), why), []).append(ref)
            continue
        assert isinstance(of, SpaceOf)
        group = groups.setdefault(of.key, Group(of))
        group.episodes.append(ref)
        robot = next((r for r in (emb, ref.source.info.get("robot_type")) if r and r != UNKNOWN_EMBODIMENT), None)
        robot = robot or _source(ref, rel(ref.source))  # a robot no one named: by its source
        if robot not in group.robots:
            group.robots.append(robot)
    lines = [f"{ds}: {len(rs)} episodes ({named(rs)}): {why}" for (ds, why), rs in lacking.items()]
    if lines and not skip:
        n = sum(len(rs) for rs in lacking.values())
        raise NoActionInSpace(
            f"{name}: {n} episodes have no {chosen.value} action: {'; '.join(lines)}. Choose another --action-space "
            "(canonical, joints, native), select other episodes (eidata curate), or pass --skip-without-action to "
            "leave them out, each dataset named"
        )
    left = [f"left out (--skip-without-action, no {chosen.value} action): {line}" for line in lines]
    if not groups:
        raise NoActionInSpace(
            f"{name}: no episode has a {chosen.value} action" + (f": {'; '.join(lines)}" if lines else "")
        )
    skipped = Counter({f"no {chosen.value} action": sum(len(rs) for rs in lacking.values())} if lacking else {})
    return Settled(chosen, list(groups.values()), left, skipped)


def _lacks(ref: Any, of: SpaceOf, kind: ActionKind, memo: dict[tuple[Any, ...], str | None]) -> str | None:
    """`episode_lacks(ref, of, kind)`, once per space, kind and `moves` array: it reads no more of the episode than
    these (`SourceDataset.moves`: one read-only array per distinct value where the catalog gave them)."""
    moves = None if of.space is ActionSpace.canonical else ref.moves(of.columns[ACTION])
    at = (id(of), kind, id(moves))  # each `of` is held by `settle` as long as the memo
    if at not in memo:
        memo[at] = episode_lacks(ref, of, kind)
    return memo[at]


def labels(groups: Sequence[Group]) -> list[str]:
    """The sub-folder of each group of a manifest exported as several datasets: its robots ('g1', 'a+b'; a robot no
    one named by its source), with its width, then its place, where two groups would share a name."""
    base = ["+".join(sorted(g.robots)) for g in groups]
    named = [b if base.count(b) == 1 else f"{b}-{g.of.width}" for b, g in zip(base, groups, strict=True)]
    return [n if named.count(n) == 1 else f"{n}-{i}" for i, n in enumerate(named)]
