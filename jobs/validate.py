"""`eidata validate PATH`: what a loader would trip on in a LeRobot v2.0 / v2.1 / v3.0 dataset, with an exit code.

The report is the LeRobot adapter's validation plus `adapters.lerobot_format.checks`; for datasets eidata wrote, the
geometry and behaviour QA of their episodes (`qa_quirks`); for a dataset of a corpus, what its source could not give
(`source_quirks`). PATH may be a dataset, a corpus root (then also the source findings that concern no written
dataset) or a folder with datasets one or two levels below. Exit code: 0 clean (infos and warnings allowed), 1 when
any dataset has an error (or a warning with `--strict`), 2 when PATH holds no dataset.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial

import pyarrow as pa
from pydantic import BaseModel

from adapters.hostile.sandbox import answer
from adapters.lerobot.adapter import LeRobotSource, meta_error
from adapters.lerobot_format.checks import loader_checks
from adapters.lerobot_format.files import read_jsonl
from adapters.lerobot_format.layout import LoadedDataset
from adapters.storage.corpus import Corpus
from adapters.storage.location import Location
from adapters.storage.root import Root
from ingest.lerobot.settled import settled_datasets
from ingest.qa.dataset import (
    behaviour_messages,
    behaviour_overview,
    behaviour_summary,
    geometry_findings,
    geometry_overview,
    geometry_summary,
)
from jobs.catalog.behaviour import recorded_thresholds
from jobs.catalog.census import check_census
from jobs.catalog.source_findings import read_source_findings
from jobs.runtime.exits import fail
from jobs.runtime.ray_map import in_order
from schemas.corpus import DATASETS_DIR, EpisodeLineage
from schemas.faults import reraise_environment
from schemas.findings import SOURCE_FINDINGS_DIR, SourceFinding
from schemas.lerobot import EPISODES_PATH
from schemas.quirks import Quirk, Severity, quirk
from schemas.tiers import QualityTier

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


class ValidationReport(BaseModel):
    """The findings for one dataset root."""

    root: str
    version: str
    episodes: int
    frames: int
    fps: float | None = None
    quirks: list[Quirk]

    def count(self, severity: Severity) -> int:
        return sum(q.severity == severity for q in self.quirks)

    def codes(self) -> set[tuple[str, str]]:
        return {(q.code, q.severity) for q in self.quirks}

    def failed(self, strict: bool = False) -> bool:
        return self.count("error") > 0 or (strict and self.count("warning") > 0)

    def render(self, strict: bool = False) -> str:
        fps = "?" if self.fps is None else (int(self.fps) if float(self.fps).is_integer() else self.fps)
        lines = [f"{self.root}: LeRobot {self.version}, {self.episodes} episodes, {self.frames} frames, fps {fps}"]
        for sev in SEVERITIES:
            for q in (q for q in self.quirks if q.severity == sev):
                lines.append(f"  {sev.upper():7s} {q.code}: {q.message}" + (f"  [{q.path}]" if q.path else ""))
        counts = ", ".join(f"{self.count(s)} {s}" for s in SEVERITIES)
        verdict = "FAIL" if self.failed(strict) else "ok"
        lines.append(f"  {counts} -> {verdict}" + (" (strict: warnings fail)" if strict and verdict == "FAIL" else ""))
        return "\n".join(lines)


def qa_quirks(root: Location) -> list[Quirk]:
    """The geometry and behaviour QA of a dataset eidata wrote (its episodes' lineage `qa`, `behaviour`), as quirks: an
    info line each with the measured values and a warning per finding naming value, threshold (and for behaviour the
    tier and the worst episodes), against the thresholds stored with the episodes at ingest; none for other datasets."""
    path = root / EPISODES_PATH
    if not path.is_file():
        return []
    try:
        lines = [line for _, line in read_jsonl(path)]
        lineages = [EpisodeLineage.of(line) for line in lines]
    except ValueError as err:  # a torn line is the loader's finding; an invalid lineage is ours
        return [quirk("qa_unreadable", "warning", f"QA not read: {err}", EPISODES_PATH)]
    geometry_config, behaviour_config = recorded_thresholds(lineages)
    out: list[tuple[str, Severity, str, list[str]]] = []
    summary = geometry_summary(root.name, [lin.qa for lin in lineages])
    if summary is not None:
        out.append(("qa_summary", "info", f"geometry QA: {geometry_overview(summary)}", []))
        out += [(f.code, "warning", f.message, []) for f in geometry_findings(summary, geometry_config)]
    b = behaviour_summary(
        root.name,
        [lin.episode_uid or f"episode {line.get('episode_index')}" for line, lin in zip(lines, lineages, strict=True)],
        [lin.behaviour for lin in lineages],
        ["; ".join(line.get("tasks") or []) for line in lines],
        [int(line.get("length") or 0) for line in lines],
        behaviour_config,
        [lin.verdicts.found if lin.verdicts is not None else [] for lin in lineages],
    )
    if b is not None:
        out.append(("qa_behaviour", "info", f"behaviour QA: {behaviour_overview(b)}", []))
        out += [
            (code, "info" if tier == QualityTier.high else "warning", msg, every)
            for code, msg, tier, every in behaviour_messages(b)
        ]
    return [quirk(code, sev, msg, EPISODES_PATH, every) for code, sev, msg, every in out]


def source_quirks(findings: list[SourceFinding]) -> list[Quirk]:
    """Source findings as quirks `source_<code>`, naming the source and its root; an error is a warning."""
    return [
        quirk(
            f"source_{f.code}",
            "info" if f.severity == "info" else "warning",
            f"source {f.source} ({f.root}{', dataset ' + f.subset if f.subset else ''}): {f.message}",
            f.path,
        )
        for f in findings
    ]


def dataset_source_quirks(root: Location) -> list[Quirk]:
    """The findings of the source a corpus dataset was ingested from that concern it, as quirks."""
    if root.parent.parent.name != DATASETS_DIR:
        return []
    source, subset = root.parent.name, root.name
    found = read_source_findings(root.parent.parent.parent, [source])  # a folder's, or the bucket's catalog
    return source_quirks([f for f in found if f.concerns_dataset(source, subset)])


def dataset_quirks(ds: LoadedDataset, *, data: bool = True, videos: bool = True) -> list[Quirk]:
    """Every finding of one read dataset: the adapter's, what a loader trips on, our QA, its source's. `inspect` and
    `validate` both report these, so the two never disagree on a dataset."""
    root = ds.root
    return list(ds.quirks) + loader_checks(ds, data=data, videos=videos) + qa_quirks(root) + dataset_source_quirks(root)


def validate_dataset(root: Location, *, data: bool = True, videos: bool = True) -> ValidationReport:
    """One dataset root. An unreadable `info.json` or episodes meta is itself the report (one error)."""
    adapter = LeRobotSource({"validate_data": data})
    try:
        ds = adapter.dataset(root)
    except (ValueError, OSError, KeyError, pa.ArrowException) as err:
        q = quirk("unreadable_meta", "error", meta_error(err), "meta/info.json")
        return ValidationReport(root=str(root), version="?", episodes=0, frames=0, quirks=[q])
    quirks = dataset_quirks(ds, data=data, videos=videos)
    return ValidationReport(
        root=str(root),
        version=ds.version,
        episodes=len(ds.episodes),
        frames=sum(loc.length for loc in ds.episodes.values()),
        fps=ds.info.fps,
        quirks=quirks,
    )


def validate_path(
    path: Location | str, *, data: bool = True, videos: bool = True, mib: int | None = None, address: str | None = None
) -> list[ValidationReport]:
    """A dataset root, every dataset of a corpus root (`datasets/<source>/<subset>/`), or every dataset one or two
    levels below `path` (the adapter's discovery rule). The datasets' bytes are parsed in processes of their own
    under `mib` MiB (`adapters.hostile.sandbox`), one a batch, as Ray tasks at `address` or on embedded Ray past
    `jobs.runtime.ray_map.SERIAL_BELOW` datasets (issue 99 item 3); the reports come in the datasets' order."""
    path = Root(path).location()  # a folder, or an object-store URL (a dataset or a folder of datasets in a bucket)
    work = partial(_caged, mib=mib, data=data, videos=videos)
    if (path / DATASETS_DIR).is_dir() and (reports := _corpus_reports(path, work, address)):
        return reports
    roots = [r for _, r in LeRobotSource().dataset_roots(path)]  # ValueError: no dataset there
    return list(in_order(work, roots, address=address, what=WHAT))


WHAT = "eidata validate"


def _caged(roots: list[Location], *, mib: int | None, data: bool, videos: bool) -> list[ValidationReport]:
    """The reports of `roots`, made in one parse process under `mib` MiB: a Ray task's work, or the driver's."""
    return answer(_reports, roots, mib=mib, what=WHAT, data=data, videos=videos)


def _reports(roots: list[Location], *, data: bool, videos: bool) -> list[ValidationReport]:
    return [validate_dataset(r, data=data, videos=videos) for r in roots]


def _corpus_reports(
    path: Location, work: Callable[[list[Location]], list[ValidationReport]], address: str | None
) -> list[ValidationReport]:
    """Every dataset of the corpus at `path` (a folder, or a bucket's through its local copy of the meta), and the
    findings of its sources that concern none of them; [] for a corpus without a dataset."""
    with Corpus.read(path, meta=True) as corpus:
        datasets = settled_datasets(corpus.root)
        if (
            datasets and (corpus.root / "catalog").is_dir()
        ):  # its source findings are the catalog's: it must describe them
            check_census(corpus.root, corpus.where, "validate", corpus.storage)
        reports = list(in_order(work, [corpus.location(d) for d in datasets], address=address, what=WHAT))
        written = [(d.parent.name, d.name) for d in datasets]
        alone = [f for f in read_source_findings(corpus.root) if not any(f.concerns_dataset(*d) for d in written)]
    if datasets and alone:  # a source that yielded nothing, or a subset of which nothing was written
        where = f"{corpus.where}/{SOURCE_FINDINGS_DIR}"
        reports.append(ValidationReport(root=where, version="-", episodes=0, frames=0, quirks=source_quirks(alone)))
    return reports


def cli_validate(args: argparse.Namespace) -> int:
    from adapters.hostile.limits import DEFAULT_MIB
    from adapters.hostile.sandbox import Killed
    from jobs.spec_models import memory_mib

    try:  # its bytes parsed in processes of their own under `--memory-mib` (adapters.hostile.sandbox)
        mib = memory_mib(getattr(args, "memory_mib", DEFAULT_MIB))
        data = not getattr(args, "no_data", False)
        reports = validate_path(args.path, mib=mib, data=data, address=getattr(args, "address", None))
    except Killed as err:
        return fail(1, f"eidata validate: {err}")
    except (ValueError, OSError) as err:
        reraise_environment(err)
        return fail(2, f"eidata validate: {err}")
    strict = bool(getattr(args, "strict", False))
    if getattr(args, "json", False):
        print(json.dumps([r.model_dump() | {"failed": r.failed(strict)} for r in reports], indent=2))
    else:
        print("\n\n".join(r.render(strict) for r in reports))
    return 1 if any(r.failed(strict) for r in reports) else 0
