"""`eidata validate PATH`: what a loader would trip on in a LeRobot v2.0 / v2.1 / v3.0 dataset, with an exit code.

The report is the LeRobot adapter's validation (`DatasetMeta`'s quirks for v2.x, the adapter's v3 reading, ghost
cameras) plus `adapters.lerobot.checks` (stats shapes, default columns, v3 rows, video frame counts, GR00T modality),
plus for datasets eidata wrote the geometry QA of their episodes (`jobs.qa_findings`): an info line with the measured
invariants and a `qa_*` warning for each invariant that fails its threshold (the `canonicalize.qa` section of the
spec the corpus was ingested with, else the defaults), and their behaviour QA (`jobs.qa_behaviour`): an info line
with the measured values and a `qa_*` warning per finding naming value, threshold, tier and the worst episodes
(against the thresholds stored with the episodes at ingest, and the verdict step's copies from their lineage); and
for a dataset of a corpus, what its source could not give (`schemas.findings`, from
the catalog's `source_findings`), as `source_<code>` quirks (an error of the source is a warning here: the dataset
written loads; the source lost something). PATH may be a dataset, a corpus root (every dataset under `datasets/`,
then the source findings that concern no written dataset, a source that yielded nothing) or a folder with datasets
one or two levels below.
Exit code: 0 clean (infos and warnings allowed), 1 when any dataset has an error (or a warning with `--strict`),
2 when PATH holds no dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel

from adapters.lerobot.checks import loader_checks
from adapters.lerobot.adapter import LeRobotSource, meta_error
from adapters.storage.location import Location, is_object, locate
from jobs.catalog.behaviour import copy_reason, recorded_config
from jobs.catalog.source_findings import read_source_findings
from jobs.qa_behaviour import finding_messages, summarize_behaviour
from jobs.qa_behaviour import overview as behaviour_overview
from jobs.qa_findings import corpus_qa_config, findings, overview, summarize
from schemas.behaviour import BehaviourConfig
from schemas.corpus import DATASETS_DIR, EpisodeLineage, find_datasets
from schemas.dataset_meta import Quirk, Severity
from schemas.findings import SOURCE_FINDINGS_DIR, SourceFinding
from schemas.lerobot import EPISODES_PATH, read_jsonl
from schemas.qa import QAConfig

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


def qa_quirks(root: Location, config: QAConfig | None = None) -> list[Quirk]:
    """The geometry QA of a dataset eidata wrote (its episodes' lineage `qa`), as quirks; none for other datasets.
    `config`: the thresholds (default: those the dataset's corpus was ingested with)."""
    root = locate(root)
    path = root / EPISODES_PATH
    if not path.is_file():
        return []
    try:
        summary = summarize(root.name, [EpisodeLineage.of(line).qa for _, line in read_jsonl(path)])
    except ValueError as err:  # a torn line is the loader's finding; an invalid lineage is ours
        return [
            Quirk(code="qa_unreadable", severity="warning", message=f"geometry QA not read: {err}", path=EPISODES_PATH)
        ]
    if summary is None:
        return []
    config = config if config is not None else corpus_qa_config(root)
    out = [Quirk(code="qa_summary", severity="info", message=f"geometry QA: {overview(summary)}", path=EPISODES_PATH)]
    return out + [
        Quirk(code=f.code, severity="warning", message=f.message, path=EPISODES_PATH) for f in findings(summary, config)
    ]


def behaviour_quirks(root: Location, config: BehaviourConfig | None = None) -> list[Quirk]:
    """The behaviour QA of a dataset eidata wrote (its episodes' lineage `behaviour`), as quirks: an info line with
    the measured values and a warning per finding naming value, threshold and episodes; none for other datasets."""
    root = locate(root)
    path = root / EPISODES_PATH
    if not path.is_file():
        return []
    labels, records, tasks, lengths, lineages = [], [], [], [], []
    try:
        for _, line in read_jsonl(path):
            lin = EpisodeLineage.of(line)
            lineages.append(lin)
            labels.append(lin.episode_uid or f"episode {line.get('episode_index')}")
            records.append(lin.behaviour)
            tasks.append("; ".join(line.get("tasks") or []))
            lengths.append(int(line.get("length") or 0))
    except ValueError as err:
        msg = f"behaviour QA not read: {err}"
        return [Quirk(code="qa_unreadable", severity="warning", message=msg, path=EPISODES_PATH)]
    config = config if config is not None else recorded_config(lineages)
    b = summarize_behaviour(root.name, labels, records, tasks, lengths, config, [copy_reason(x) for x in lineages])
    if b is None:
        return []
    out = [
        Quirk(
            code="qa_behaviour", severity="info", message=f"behaviour QA: {behaviour_overview(b)}", path=EPISODES_PATH
        )
    ]
    return out + [
        Quirk(code=code, severity="warning", message=msg, path=EPISODES_PATH) for code, msg, _ in finding_messages(b)
    ]


def source_quirks(findings: list[SourceFinding]) -> list[Quirk]:
    """Source findings as quirks `source_<code>`, naming the source and its root; an error is a warning."""
    return [
        Quirk(
            code=f"source_{f.code}",
            severity="info" if f.severity == "info" else "warning",
            message=f"source {f.source} ({f.root}{', dataset ' + f.subset if f.subset else ''}): {f.message}",
            path=f.path,
        )
        for f in findings
    ]


def _corpus_of(root: Location) -> tuple[Path, str, str] | None:
    """(corpus root, source, subset) of a dataset written at `<corpus>/datasets/<source>/<subset>`, else None."""
    if is_object(root) or root.parent.parent.name != DATASETS_DIR:
        return None
    return Path(root.parent.parent.parent), root.parent.name, root.name


def dataset_source_quirks(root: Location) -> list[Quirk]:
    """The findings of the source a corpus dataset was ingested from that concern it, as quirks."""
    where = _corpus_of(locate(root))
    if where is None:
        return []
    corpus, source, subset = where
    return source_quirks([f for f in read_source_findings(corpus, [source]) if f.concerns_dataset(source, subset)])


def validate_dataset(
    root: Location, *, data: bool = True, videos: bool = True, qa: QAConfig | None = None
) -> ValidationReport:
    """One dataset root. An unreadable `info.json` or episodes meta is itself the report (one error). `qa`: the
    geometry QA thresholds (default: those of the corpus's ingest spec, else `QAConfig()`)."""
    root = locate(root)
    adapter = LeRobotSource({"validate_data": data})
    try:
        ds = adapter.dataset(root)
    except (ValueError, OSError, KeyError, pa.ArrowException) as err:
        q = Quirk(code="unreadable_meta", severity="error", message=meta_error(err), path="meta/info.json")
        return ValidationReport(root=str(root), version="?", episodes=0, frames=0, quirks=[q])
    quirks = (
        list(ds.quirks)
        + loader_checks(ds, data=data, videos=videos)
        + qa_quirks(root, qa)
        + behaviour_quirks(root)
        + dataset_source_quirks(root)
    )
    return ValidationReport(
        root=str(root),
        version=ds.version,
        episodes=len(ds.episodes),
        frames=sum(loc.length for loc in ds.episodes.values()),
        fps=ds.info.fps,
        quirks=quirks,
    )


def validate_path(path: Location | str, *, data: bool = True, videos: bool = True) -> list[ValidationReport]:
    """A dataset root, every dataset of a corpus root (`datasets/<source>/<subset>/`), or every dataset one or two
    levels below `path` (the adapter's discovery rule)."""
    path = locate(path)  # a folder, or an object-store URL (a dataset or a folder of datasets in a bucket)
    corpus = find_datasets(path) if not is_object(path) and (path / DATASETS_DIR).is_dir() else []
    roots = corpus or [r for _, r in LeRobotSource().dataset_roots(path)]  # ValueError: no dataset there
    reports = [validate_dataset(r, data=data, videos=videos) for r in roots]
    if corpus:
        written = [(r.parent.name, r.name) for r in corpus]
        alone = [f for f in read_source_findings(Path(path)) if not any(f.concerns_dataset(*d) for d in written)]
        if alone:  # a source that yielded nothing, or a subset of which nothing was written
            where = str(Path(path) / SOURCE_FINDINGS_DIR)
            reports.append(ValidationReport(root=where, version="-", episodes=0, frames=0, quirks=source_quirks(alone)))
    return reports


def cli_validate(args: argparse.Namespace) -> int:
    path = locate(args.path)
    try:
        reports = validate_path(path, data=not getattr(args, "no_data", False))
    except (ValueError, OSError) as err:
        print(f"eidata validate: {err}", file=sys.stderr)
        return 2
    strict = bool(getattr(args, "strict", False))
    if getattr(args, "json", False):
        print(json.dumps([r.model_dump() | {"failed": r.failed(strict)} for r in reports], indent=2))
    else:
        print("\n\n".join(r.render(strict) for r in reports))
    return 1 if any(r.failed(strict) for r in reports) else 0
