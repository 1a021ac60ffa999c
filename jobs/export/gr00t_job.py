"""`eidata export --format gr00t`: the command around `jobs.export.gr00t` (each dataset's modality.json in place) and
`jobs.export.gr00t_copy` (`--out DIR`: a copy of every dataset with its modality). Its own module so that neither of
those imports the other (tests/test_imports.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adapters.storage.corpus import Corpus
from jobs.catalog import selection
from jobs.export import MANIFEST_NEEDS_OUT
from jobs.export.gr00t import FAILED, DatasetExport, export_gr00t, planned_lines
from jobs.export.gr00t_config import loader_text
from jobs.export.gr00t_copy import export_copies
from jobs.runtime.stage import Failed, Stage
from schemas.lerobot import INFO_PATH
from schemas.storage import NotACorpus, OutputLeasedError, StorageError, StorageOptions


def export_corpus(
    where: Path | str,
    options: StorageOptions | None = None,
    *,
    out: Path | str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    manifest: str | None = None,
) -> list[DatasetExport]:
    """`export_gr00t` of the corpus at `where`, opened for the export (`Corpus.open`: a bucket's leased, published at
    the clean end), or only read for a dry run or with `out` (a copy of every dataset there, or of the `manifest`'s
    episodes only: `gr00t_copy`)."""
    if out is not None:
        with Corpus.read(where, options, meta=True) as corpus:
            chosen = None if manifest is None else _chosen(corpus.root, manifest)
            return export_copies(corpus, out, options, dry_run=dry_run, progress=progress, manifest=chosen)
    if manifest is not None:
        why = MANIFEST_NEEDS_OUT["gr00t"]  # the command refuses it first (exit 2); here for a caller of the function
        raise Failed(f"eidata export --format gr00t: --manifest {manifest} needs --out DIR: {why}")
    if dry_run:
        with Corpus.read(where, options, meta=True) as corpus:
            return export_gr00t(corpus.root, dry_run=True, progress=progress, lines=planned_lines(corpus))
    with Corpus.open(where, options, "export-gr00t", existing=True) as corpus:
        return export_gr00t(corpus.root, progress=progress)


def _chosen(root: Path, manifest: str) -> dict[str, frozenset[int]]:
    """The manifest's episodes by dataset, read as every command reads a manifest; a manifest naming a dataset the
    corpus no longer holds, or none, is refused (nothing written)."""
    try:
        chosen = selection.manifest_episodes(root, manifest)
    except selection.SelectionError as e:
        raise Failed(f"eidata export: {e}") from None
    if not chosen:
        raise Failed(f"eidata export: --manifest {manifest}: the manifest has no episodes")
    gone = sorted(ds for ds in chosen if not (root / ds / INFO_PATH).is_file())
    if gone:
        raise Failed(f"eidata export: --manifest {manifest} names datasets the corpus lacks: {gone}; curate again")
    return chosen


def _summary(results: list[DatasetExport]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r.status:9s} {r.dataset}" + (f" ({r.kind.value} action)" if r.kind else ""))
        if r.status in ("written", "to write", "unchanged"):
            lines.append(f"          state/action: {', '.join(r.state) or '-'}")
            lines.append(f"          video: {', '.join(r.video) or '-'}; annotation: {', '.join(r.annotation)}")
        lines += [f"          note: {n}" for n in r.notes]
        if r.status in ("written", "to write", "unchanged") and r.state:
            read = loader_text(r.path, r.configs) if r.path else f"modality_configs={r.configs}"
            lines.append(f"          GR00T: {read}")
    counts = {s: sum(r.status == s for r in results) for s in ("written", "to write", "unchanged", *FAILED)}
    said = [f"{n} {s}" for s, n in counts.items() if n or s not in ("to write", "refused")]  # said where they happen
    return "\n".join(lines) + "\ngr00t: " + ", ".join(said)


def _export(where: str, args: argparse.Namespace) -> list[DatasetExport]:
    # the credential and endpoint from the AWS environment
    out = getattr(args, "out", None) or None
    manifest = getattr(args, "manifest", None) or None
    results = export_corpus(where, out=out, dry_run=bool(getattr(args, "dry_run", False)), manifest=manifest)
    if not results:
        raise Failed(f"eidata export: no dataset under {where.rstrip('/')}/datasets")
    return results


def failed(results: list[DatasetExport]) -> bool:
    """Exit 1: a dataset refused or failed (every other dataset was still written)."""
    return any(r.status in FAILED for r in results)


# Exit 0 when every dataset has a valid modality.json, 1 when one was refused or failed, 2 for a bad call
cli = Stage(
    "export",
    lambda args: str(args.root),
    _export,
    _summary,
    failed,
    usage_errors=(StorageError, NotACorpus),  # no corpus, no bucket, a refused credential: before any work
    job_errors=(OutputLeasedError,),
)
