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

import numpy as np

from jobs.export.lerobot_v3.episodes import PlanEpisodes
from jobs.export.lerobot_v3.spaces import NoActionInSpace, SpaceOf, default_space, episode_lacks, space_of
from schemas.actions import ActionSpace
from schemas.canonical import ACTION
from schemas.robots.registry import UNKNOWN_EMBODIMENT as UNKNOWN


@dataclass
class Group:
    """The episodes of one exported dataset and how its action leaves."""

    of: SpaceOf
    episodes: Any = None  # its `episodes.PlanEpisodes`, the manifest's order kept
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
    """The episodes `refs` (a plan's `PlanEpisodes`, or refs one by one) in `space` (None: `default_space` of their
    kinds) as groups of one `SpaceOf.key` each; `NoActionInSpace` naming the episodes that have none, unless `skip`.
    `rel(src)`: how a dataset is named. Decided once per `Kind` (and per `moves` array outside the canonical space),
    each episode given its kind's verdict: no ref made per episode (issue 99)."""
    rel = rel or (lambda src: str(src.root))
    eps = refs if isinstance(refs, PlanEpisodes) else PlanEpisodes.of(refs)
    kinds = eps.by_kind()
    first = {code: eps.first(code, positions) for code, positions in kinds}  # `spaces.episode_kind`..., per kind
    chosen = space or default_space([ref.kind() for ref in first.values()])
    ofs: dict[tuple[int, str | None], SpaceOf | str] = {}
    verdicts: list[tuple[SpaceOf | None, str | None, Any]] = []  # (of, why it has none, its kind's first ref)
    at: dict[tuple[Any, ...], int] = {}  # (kind, `moves` id) -> its verdict
    lacks: dict[tuple[Any, ...], str | None] = {}  # `episode_lacks` by what it reads: space, kind, `moves` array
    verdict = np.empty(len(eps), np.int64)
    for code, positions in kinds:
        ref = first[code]
        emb, kind = ref.embodiment(), ref.kind()
        if (key := (id(ref.source), emb)) not in ofs:
            try:
                ofs[key] = space_of(ref.source.features, emb, chosen)
            except NoActionInSpace as err:
                ofs[key] = str(err)
        of = ofs[key]
        if isinstance(of, str) or of.space is ActionSpace.canonical:  # no episode's `moves` read
            why = of if isinstance(of, str) else episode_lacks(ref, of, kind)
            verdicts.append((None, of, ref) if isinstance(of, str) else (of, why, ref))
            verdict[positions] = len(verdicts) - 1
            continue
        moves, vs = ref.source.moves(of.columns[ACTION]), []  # one read-only array per distinct value (catalog)
        for p, i in zip(positions.tolist(), eps.index[positions].tolist(), strict=True):
            held = moves.get(i)
            if (v := at.get((code, id(held)))) is None:
                if (why_at := (id(of), kind, id(held))) not in lacks:  # each `of` held by `ofs` as long as the memo
                    lacks[why_at] = episode_lacks(eps[p], of, kind)
                v = at[code, id(held)] = len(verdicts)
                verdicts.append((of, lacks[why_at], ref))
            vs.append(v)
        verdict[positions] = vs
    groups: dict[tuple[Any, ...], tuple[Group, list[int]]] = {}
    lacking: dict[tuple[str, str], list[int]] = {}
    _, firsts = np.unique(verdict, return_index=True)
    for v in np.argsort(firsts, kind="stable").tolist():  # in the order of their first episodes
        of, why, ref = verdicts[v]
        if why is not None:
            lacking.setdefault((rel(ref.source), why), []).append(v)
            continue
        assert of is not None
        group, held = groups.setdefault(of.key, (Group(of), []))
        held.append(v)
        robot = next((r for r in (ref.embodiment(), ref.source.info.get("robot_type")) if r and r != UNKNOWN), None)
        robot = robot or _source(ref, rel(ref.source))  # a robot no one named: by its source
        if robot not in group.robots:
            group.robots.append(robot)
    for group, held in groups.values():
        group.episodes = eps.take(np.flatnonzero(np.isin(verdict, held)))
    left = {k: eps.take(np.flatnonzero(np.isin(verdict, vs))) for k, vs in lacking.items()}
    lines = [f"{ds}: {len(rs)} episodes ({named(rs)}): {why}" for (ds, why), rs in left.items()]
    if lines and not skip:
        n = sum(len(rs) for rs in left.values())
        raise NoActionInSpace(
            f"{name}: {n} episodes have no {chosen.value} action: {'; '.join(lines)}. Choose another --action-space "
            "(canonical, joints, native), select other episodes (eidata curate), or pass --skip-without-action to "
            "leave them out, each dataset named"
        )
    out = [f"left out (--skip-without-action, no {chosen.value} action): {line}" for line in lines]
    if not groups:
        raise NoActionInSpace(
            f"{name}: no episode has a {chosen.value} action" + (f": {'; '.join(lines)}" if lines else "")
        )
    skipped = Counter({f"no {chosen.value} action": sum(len(rs) for rs in left.values())} if left else {})
    return Settled(chosen, [g for g, _ in groups.values()], out, skipped)


def labels(groups: Sequence[Group]) -> list[str]:
    """The sub-folder of each group of a manifest exported as several datasets: its robots ('g1', 'a+b'; a robot no
    one named by its source), with its width, then its place, where two groups would share a name."""
    base = ["+".join(sorted(g.robots)) for g in groups]
    named = [b if base.count(b) == 1 else f"{b}-{g.of.width}" for b, g in zip(base, groups, strict=True)]
    return [n if named.count(n) == 1 else f"{n}-{i}" for i, n in enumerate(named)]
