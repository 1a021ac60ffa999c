"""Which datasets the corpus report draws when a corpus has more than a reader can look at: the datasets grouped
by family (source and embodiment, from the catalog), taken in turn from each family (every family's first before any
family's second) up to a cap. The frame strips (`jobs.report.strips`) and the per-dataset QA figures (`page`) draw
what `chosen` picks and name every other dataset in a table: none is dropped silently.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from jobs.catalog.query import run_query

MAX_FIGURE_ROWS = 40  # datasets a per-dataset QA figure draws (one row each); its table lists every one

FAMILIES_SQL = """SELECT dataset, any_value(source) AS source, any_value(embodiment) AS embodiment,
                         bool_or(len(cameras) > 0) AS video, count(*) AS episodes
                  FROM episodes GROUP BY dataset ORDER BY dataset"""


@dataclass
class Family:
    """Datasets of one source and embodiment, in name order; those whose episodes have no camera apart."""

    source: str
    embodiment: str
    datasets: list[str] = field(default_factory=list)  # with a video
    no_video: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.source} · {self.embodiment}"


def families(root: Path) -> list[Family]:
    """The catalog's datasets grouped by (source, embodiment), in the order of each family's first dataset."""
    out: dict[tuple[str, str], Family] = {}
    for r in run_query(root, FAMILIES_SQL).to_pylist():
        fam = out.setdefault((r["source"], r["embodiment"]), Family(r["source"], r["embodiment"]))
        (fam.datasets if r["video"] else fam.no_video).append(r["dataset"])
    return list(out.values())


def round_robin(found: list[Family]) -> list[str]:
    """Every dataset with a video, each family's first, then each one's second, ..."""
    turns = zip_longest(*(f.datasets for f in found))
    return [d for turn in turns for d in turn if d is not None]


def chosen(found: list[Family], cap: int) -> list[str]:
    """At most `cap` datasets with a video, taken in turn from each family (its first, then its second, ...)."""
    return sorted(round_robin(found)[:cap])


def family_rank(root: Path) -> dict[str, int]:
    """Each dataset's place in the turn the families take (`round_robin`, a dataset without video counted as one
    with): a figure that draws the first `cap` of a family's turn needs no other dataset's records."""
    return {d: k for k, d in enumerate(round_robin([Family("", "", f.datasets + f.no_video) for f in families(root)]))}


def figure_rows(root: Path, names: list[str], first: Collection[str], cap: int | None = None) -> list[str]:
    """Of the datasets `names` (a QA figure's rows, in order), at most `cap` (None: `MAX_FIGURE_ROWS`): those in
    `first` (with a finding), then the others taken in turn from each family; in the order of `names`."""
    cap = MAX_FIGURE_ROWS if cap is None else cap
    if len(names) <= cap:
        return list(names)
    picked = [n for n in names if n in first][:cap]
    have, rest = set(names), set(picked)
    found = [
        Family(f.source, f.embodiment, [d for d in f.datasets + f.no_video if d in have and d not in rest])
        for f in families(root)
    ]
    picked += chosen(found, cap - len(picked))
    keep = set(picked)
    return [n for n in names if n in keep]
