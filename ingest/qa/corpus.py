"""The corpus-level judgments of `eidata verdicts` (`jobs.verdicts`): which episode is a copy of which, which has
dims dead against its dataset. Reads nothing itself: the episodes come as `Judged` records and their signals through
a loader, so the same judgment runs on a corpus, a test's arrays or a benchmark.

Copies: candidates from the content fingerprints (`duplicates.near_duplicates`) among episodes of one embodiment,
each verified on the signals both episodes use (`copies.copy_check`). Of episodes linked by verified copies one is
kept (the longest, then the one read at the higher rate) and the others are rejected, naming the one they copy, the
residual and the tolerance; a candidate that is not a copy is a repetition and keeps its tier.

Dead dims: an episode's motionless dims are dead only when at least `dead_dims_share` of the dataset's other
episodes move them (`judge_dead`): the episode goes to `low`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.qa.copies import CopyCheck, copy_check
from ingest.qa.duplicates import IDENTICAL_WINDOW, near_duplicates
from ingest.qa.findings import dim_labels
from schemas.behaviour import BehaviourConfig
from schemas.canonical import STATE_NAMES
from schemas.qa import Finding
from schemas.tiers import QualityTier

# every code this step's findings have (`curate --include-verdict` overrules any verdict by its code)
STEP_CODES = ("qa_duplicate", "qa_duplicate_unjudged", "qa_dead_dims", "qa_native_dead_dims")


@dataclass(frozen=True)
class Judged:
    """What the judgments need to know of one episode."""

    episode_uid: str
    dataset: str
    embodiment: str
    fingerprint: list[int] | None
    dead_dims: list[int] | None
    native_dead_dims: list[int] | None
    frames: int = 0
    raw_fps: float | None = None
    native_names: tuple[str, ...] = ()  # the dataset's native state column names (a finding names its columns)

    def keep_key(self) -> tuple[float, float, str]:
        """Of a set of copies the one kept sorts first: the longest (a trimmed copy is shorter), then the one read
        at the higher source rate (a re-sampled copy lost detail), then by episode_uid."""
        return (-self.frames, -(self.raw_fps or 0.0), self.episode_uid)


@dataclass(frozen=True)
class Signals:
    """One episode's signals on the 10 Hz grid, each column named by what it is with its scale (the dataset's range
    of it): `canonical.<dim>` for the canonical dims the episode uses, `native.<name>` per native state column."""

    names: tuple[str, ...]
    values: np.ndarray  # (N, len(names))
    scale: np.ndarray  # (len(names),)


SignalLoader = Callable[[str], Signals]  # episode_uid -> its signals


def compare(a: Signals, b: Signals, config: BehaviourConfig) -> CopyCheck:
    """`copy_check` over the canonical dims both use, else (no canonical dim in common) the native columns both
    name alike; each at the larger of the two datasets' scales. The canonical state first: it is one convention for
    every source, so another export of the same recording (its quaternions stored wxyz, its joints in degrees) is
    still found, where its natives would differ."""
    names = set(b.names)
    shared = [n for n in a.names if n in names and n.startswith("canonical.")]
    shared = shared or [n for n in a.names if n in names]
    ia = [a.names.index(n) for n in shared]
    ib = [b.names.index(n) for n in shared]
    scale = np.maximum(a.scale[ia], b.scale[ib]) if shared else np.zeros(0)
    return copy_check(a.values[:, ia], b.values[:, ib], scale, config)


@dataclass(frozen=True)
class CopyPair:
    kept: str  # the episode that sorts first by `Judged.keep_key`
    other: str
    similarity: float  # fingerprint estimate
    check: CopyCheck


@dataclass(frozen=True)
class Candidates:
    """The fingerprint candidates: (position of the one to keep, the other's, similarity), one embodiment each, and
    the pairs the search left uncompared (`duplicates.DuplicatePairs.unjudged_pairs`), reported, never dropped."""

    pairs: list[tuple[int, int, float]]
    unjudged_pairs: int = 0
    unjudged: dict[int, int] = field(default_factory=dict)  # position -> episodes sharing its identical fingerprint


def candidate_pairs(episodes: Sequence[Judged], config: BehaviourConfig) -> Candidates:
    """The candidates among `episodes` (`near_duplicates`: bounded buckets, near-linear in their number)."""
    m = config.fingerprint_hashes
    rows = [i for i, e in enumerate(episodes) if e.fingerprint is not None and len(e.fingerprint) == m]
    if len(rows) < 2:
        return Candidates([])
    sig = np.array([episodes[i].fingerprint for i in rows], np.uint32)
    pairs = near_duplicates(sig, config, threshold=config.duplicate_candidate_similarity)
    out = []
    for a, b, s in zip(pairs.first, pairs.second, pairs.similarity, strict=True):
        i, j = sorted((rows[int(a)], rows[int(b)]), key=lambda k: episodes[k].keep_key())
        if episodes[i].embodiment == episodes[j].embodiment:
            out.append((i, j, float(s)))
    unjudged = {rows[int(r)]: int(n) for r, n in zip(pairs.unjudged_rows, pairs.unjudged_sizes, strict=True)}
    return Candidates(out, pairs.unjudged_pairs, unjudged)


@dataclass(frozen=True)
class CopySearch:
    """Every candidate verified (`pairs`) and the candidate pairs left unjudged by the search (`Candidates`)."""

    pairs: list[CopyPair]
    unjudged_pairs: int
    unjudged: dict[str, int] = field(default_factory=dict)  # episode_uid -> episodes sharing its fingerprint


SIGNALS_HELD = 1024  # episodes' signals one verification block loads (its memory bound)
Pair = tuple[str, str, float]  # (episode to keep, the other, fingerprint similarity)
Block = list[Pair]


def blocks(pairs: Sequence[Pair], dataset: Callable[[str], str], held: int = SIGNALS_HELD) -> list[Block]:
    """The candidate pairs cut into blocks each naming at most `held` episodes (a block loads each once). Pairs are
    grouped by the datasets of their two episodes, in their order within a group (an episode's pairs follow one
    another), so a block reads few datasets' metadata and an episode is seldom loaded by two blocks."""
    order = sorted(range(len(pairs)), key=lambda k: (dataset(pairs[k][0]), dataset(pairs[k][1]), k))
    out: list[Block] = []
    names: set[str] = set()
    for k in order:
        a, b, _ = pairs[k]
        if not out or len(names | {a, b}) > max(held, 2):
            out.append([])
            names = set()
        out[-1].append(pairs[k])
        names |= {a, b}
    return out


def verify(block: Block, load: SignalLoader, config: BehaviourConfig) -> list[CopyPair]:
    """Each pair of a block checked on its signals (`compare`), each episode's loaded once and released at the end:
    the unit of work of the verification, in this process or in a Ray task (`jobs.verdicts.step`)."""
    held: dict[str, Signals] = {}

    def signals(uid: str) -> Signals:
        if uid not in held:
            held[uid] = load(uid)
        return held[uid]

    return [CopyPair(a, b, s, compare(signals(a), signals(b), config)) for a, b, s in block]


BlockRunner = Callable[[list[Block]], Iterable[list[CopyPair]]]  # blocks -> each one's `verify`, in block order


def copies(
    episodes: Sequence[Judged],
    load: SignalLoader,
    config: BehaviourConfig,
    held: int = SIGNALS_HELD,
    run: BlockRunner | None = None,
) -> CopySearch:
    """Every candidate pair verified on its signals, a block of pairs at a time (`blocks`: at most `held` episodes'
    signals each, so memory is bounded by `held`, not by the corpus). `run` verifies the blocks (Ray tasks in
    `eidata verdicts`); by default one after another here."""
    found = candidate_pairs(episodes, config)
    pairs = [(episodes[i].episode_uid, episodes[j].episode_uid, s) for i, j, s in found.pairs]
    dataset = {e.episode_uid: e.dataset for e in episodes}
    todo = blocks(pairs, dataset.__getitem__, held)
    done = run(todo) if run is not None else (verify(b, load, config) for b in todo)
    checked = [p for block in done for p in block]
    unjudged = {episodes[i].episode_uid: n for i, n in found.unjudged.items()}
    return CopySearch(checked, found.unjudged_pairs, unjudged)


def unjudged_verdict(sharing: int, window: int = IDENTICAL_WINDOW) -> Finding:
    """The note on an episode whose fingerprint `sharing` episodes have identically, more than the search compares
    (`near_duplicates`): the tier stays (high: lowers nothing); the catalog's verdicts and `eidata validate` list it."""
    return Finding(
        code="qa_duplicate_unjudged",
        tier=QualityTier.high,
        value=float(sharing),
        threshold=float(window),
        message=f"one of {sharing} episodes with the same fingerprint; checked as a copy against at most"
        f" {2 * (window - 1)} of them, not against at least {max(sharing - 1 - 2 * (window - 1), 0)} others",
    )


def copy_verdicts(pairs: Sequence[CopyPair], episodes: Sequence[Judged], config: BehaviourConfig) -> dict[str, Finding]:
    """Each set of episodes linked by verified copies keeps one (`Judged.keep_key`: the longest, then the one at the
    higher source rate); every other member is rejected naming, of the episodes it was verified against, the one
    that sorts first (the kept one where they were compared)."""
    key = {e.episode_uid: e.keep_key() for e in episodes}
    verified = [p for p in pairs if p.check.is_copy(config)]
    root = {u: u for p in verified for u in (p.kept, p.other)}

    def find(u: str) -> str:
        while root[u] != u:
            root[u] = root[root[u]]
            u = root[u]
        return u

    for p in verified:
        a, b = sorted((find(p.kept), find(p.other)), key=key.__getitem__)
        root[b] = a
    best: dict[str, CopyPair] = {}
    for p in verified:
        for u, partner in ((p.kept, p.other), (p.other, p.kept)):
            if u == find(u):
                continue  # the kept one of its set
            was = best.get(u)
            if was is None or key[partner] < key[was.kept if was.other == u else was.other]:
                best[u] = p
    out = {}
    for u, p in sorted(best.items()):
        partner = p.kept if p.other == u else p.other
        out[u] = Finding(
            code="qa_duplicate",
            tier=QualityTier.rejected,
            value=round(p.check.residual, 6),
            threshold=config.copy_tolerance,
            compared_with=partner,
            message=(
                f"copy of {partner}: aligned at lag {p.check.lag_frames:+.2f} frames over {p.check.overlap:.0%} of"
                f" the shorter episode, residual {p.check.residual:.3f} <= {config.key('copy_tolerance')}"
                f" {config.copy_tolerance:g} of each dim's"
                f" range ({p.check.dims} dims; fingerprint similarity {p.similarity:.2f})"
            ),
        )
    return out


def judge_dead(still: Sequence[list[int] | None], share: float) -> dict[int, tuple[list[int], float]]:
    """One dataset's episodes' motionless dims (None: not measured) -> for each episode with a dead dim, (the dims
    most of the other measured episodes move, the smallest share that moves them)."""
    rows = [i for i, d in enumerate(still) if d is not None]
    if len(rows) < 2:
        return {}
    counts = Counter(d for i in rows for d in still[i] or [])
    out: dict[int, tuple[list[int], float]] = {}
    for i in rows:
        shares = {d: 1 - (counts[d] - 1) / (len(rows) - 1) for d in still[i] or []}  # others that do not list it
        dims = [d for d, s in shares.items() if s >= share]
        if dims:
            out[i] = (dims, min(shares[d] for d in dims))
    return out


def dead_verdict(
    code: str, dims: list[int], share: float, config: BehaviourConfig, names: Sequence[str] = ()
) -> Finding:
    """A dead-dims finding naming its columns: canonical dims by `STATE_NAMES`, native ones by the dataset's names."""
    canonical = code == "qa_dead_dims"
    what = "canonical dims" if canonical else "native state columns"
    labels = dim_labels(dims, STATE_NAMES if canonical else names)
    bar = config.dead_dims_share
    return Finding(
        code=code,
        tier=QualityTier.low,
        value=round(share, 6),
        threshold=bar,
        message=f"{what} {labels} motionless while others move; {share:.0%} of the dataset's other episodes move"
        f" them (>= {bar:.0%})",
    )


def dead_verdicts(episodes: Sequence[Judged], config: BehaviourConfig) -> dict[str, list[Finding]]:
    """episode_uid -> its dead-dim verdicts, each dataset judged on its own episodes."""
    by_ds: dict[str, list[Judged]] = defaultdict(list)
    for e in episodes:
        by_ds[e.dataset].append(e)
    out: dict[str, list[Finding]] = defaultdict(list)
    for members in by_ds.values():
        for code, attr in (("qa_dead_dims", "dead_dims"), ("qa_native_dead_dims", "native_dead_dims")):
            judged = judge_dead([getattr(e, attr) for e in members], config.dead_dims_share)
            for k, (dims, share) in judged.items():
                names = members[k].native_names
                out[members[k].episode_uid].append(dead_verdict(code, dims, share, config, names))
    return dict(out)
