"""`eidata export ROOT --format lerobot-v3 --out DIR [--manifest NAME]`: LeRobot v3.0 datasets for lerobot >= 0.4.

lerobot 0.6.1 refuses v2.1 (`BackwardCompatibilityError`) and its own converter cannot read a v2.1 dataset with a
multi-dimensional feature (jobs/export/README.md), so this writes v3.0 directly from the canonical v2.1 datasets:
- without `--manifest`: every dataset under ROOT/datasets/ -> DIR/<its path below datasets/>, all its features;
- with `--manifest NAME`: the manifest's episodes across sources -> ONE dataset DIR/NAME (`plan.py`).
Video is stream-copied, stats carry lerobot 0.6.1's quantiles (`write.py`).

Reruns and kills: a dataset is written into a hidden sibling folder (`.NAME.partial-<id>`) and renamed into place only
when complete, with `.eidata-export.json` recording a fingerprint of its sources (their meta files' sizes and times,
the manifest, the options). A rerun skips a dataset whose fingerprint matches, rewrites one whose sources changed (the
new folder replaces the old one by rename), and deletes partial folders a killed run left behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobs.export.lerobot_v3.plan import ExportPlan, PlanError, dataset_plan, manifest_plan
from jobs.export.lerobot_v3.write import V30Writer
from jobs.runtime.options import Opt, job_values
from jobs.runtime.stage import Stage, Usage
from schemas.corpus import find_datasets
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, TASKS_PATH
from schemas.lerobot_v3 import DATA_FILE_SIZE_IN_MB, VIDEO_FILE_SIZE_IN_MB
from schemas.manifest import ENTRIES_PARQUET, MANIFEST_JSON

log = logging.getLogger(__name__)

MARKER = ".eidata-export.json"
PARTIAL = ".partial-"
Status = Literal["written", "unchanged", "error"]


def fingerprint(plan: ExportPlan, options: dict[str, Any], extra_files: Sequence[Path] = ()) -> str:
    """What the export depends on: the sources' meta files (size, mtime) and the options."""
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for root in sorted(plan.sources):
        for rel in (INFO_PATH, EPISODES_PATH, TASKS_PATH, EPISODES_STATS_PATH):
            p = root / rel
            st = p.stat() if p.exists() else None
            h.update(f"{p}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\n".encode())
    for p in extra_files:
        h.update(p.read_bytes())
    return h.hexdigest()


def _clear_partials(final: Path) -> None:
    if final.parent.is_dir():
        for p in final.parent.glob(f".{final.name}{PARTIAL}*"):
            shutil.rmtree(p, ignore_errors=True)


def is_complete(final: Path, fp: str) -> bool:
    marker = final / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fp
    except (OSError, ValueError):
        return False


def write_plan(plan: ExportPlan, final: Path, fp: str, data_mb: int, video_mb: int) -> dict[str, Any]:
    """Write the plan's dataset beside `final`, then rename it into place (replacing an older export)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    _clear_partials(final)
    tmp = final.with_name(f".{final.name}{PARTIAL}{uuid.uuid4().hex[:12]}")
    tmp.mkdir()
    writer = V30Writer(
        tmp, fps=plan.fps, features=plan.features, robot_type=plan.robot_type, data_mb=data_mb, video_mb=video_mb
    )
    try:
        if plan.keep_tasks is not None:
            writer.use_tasks(plan.keep_tasks)
        for ref in plan.episodes:
            writer.add(ref)
        info = writer.finish(plan.splits)
        report = {"fingerprint": fp, "skipped": dict(plan.skipped), "notes": plan.notes}
        (tmp / MARKER).write_text(json.dumps(report, indent=2), encoding="utf-8")
    except BaseException:
        writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():  # an outdated export: swap by rename, then drop the old one
        old = final.with_name(f".{final.name}{PARTIAL}old-{uuid.uuid4().hex[:12]}")
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    return info


def export_plan(plan: ExportPlan, final: Path, options: dict[str, Any], extra: Sequence[Path] = ()) -> Status:
    fp = fingerprint(plan, options, list(extra))
    if is_complete(final, fp):
        _clear_partials(final)
        return "unchanged"
    write_plan(plan, final, fp, options["data_mb"], options["video_mb"])
    return "written"


def export_corpus(
    root: Path,
    out: Path,
    *,
    manifest: str | None = None,
    cameras: list[str] | None = None,
    data_mb: int = DATA_FILE_SIZE_IN_MB,
    video_mb: int = VIDEO_FILE_SIZE_IN_MB,
) -> dict[str, tuple[Status, str]]:
    """Export every dataset (or the manifest) of corpus `root` under `out`; returns name -> (status, detail)."""
    root, out = Path(root), Path(out)
    options = {"cameras": cameras, "data_mb": data_mb, "video_mb": video_mb}
    results: dict[str, tuple[Status, str]] = {}
    if manifest is not None:
        plan = manifest_plan(root, manifest, cameras)
        mdir = root / "manifests" / manifest
        status = export_plan(plan, out / manifest, options, [mdir / MANIFEST_JSON, mdir / ENTRIES_PARQUET])
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(plan.skipped.items())) or "none"
        results[manifest] = (status, f"{len(plan.episodes)} episodes, skipped: {skipped}")
        for note in plan.notes:
            log.info("%s: %s", manifest, note)
        return results
    base = root / "datasets"
    for ds in find_datasets(root):
        rel = str(ds.relative_to(base))
        try:
            plan = dataset_plan(ds, rel, cameras)
            status = export_plan(plan, out / rel, options)
            results[rel] = (status, f"{len(plan.episodes)} episodes")
        except (PlanError, ValueError, OSError, KeyError) as e:  # one dataset's failure does not stop the others
            log.error("%s: %s", rel, e)
            results[rel] = ("error", f"{type(e).__name__}: {e}")
    return results


class V30ExportJob(BaseModel):
    """One `eidata export --format lerobot-v3` run; ROOT, --out and --cameras are the export command's own flags
    (`jobs/cli.py`, `jobs.export.lingbot.job.OPTIONS`), read into `root`, `out` and `cameras`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path
    out: Path
    manifest: str | None = Field(None, description="export this manifest's episodes as ONE dataset OUT/NAME")
    cameras: list[str] | None = None
    data_mb: int = Field(DATA_FILE_SIZE_IN_MB, ge=1, description="data parquet file size limit in MB (lerobot's)")
    video_mb: int = Field(VIDEO_FILE_SIZE_IN_MB, ge=1, description="video file size limit in MB (lerobot's)")


# the lerobot-v3 group of `eidata export`, in the flags' order; the sizes are not given unless passed (None in the
# parsed flags), so lerobot's limits stay the model's defaults
OPTIONS = (
    Opt(V30ExportJob, "manifest"),
    Opt(V30ExportJob, "data_mb", flags=("--data-file-size-mb",), unset=True),
    Opt(V30ExportJob, "video_mb", flags=("--video-file-size-mb",), unset=True),
)


def build_job(args: argparse.Namespace) -> V30ExportJob:
    if not args.out:
        raise Usage("eidata export --format lerobot-v3 needs --out DIR")
    values = job_values(args, OPTIONS, V30ExportJob)
    return V30ExportJob.model_validate({"root": args.root, "out": args.out, "cameras": args.cameras, **values})


def _run(job: V30ExportJob, args: argparse.Namespace) -> dict[str, tuple[Status, str]]:
    return export_corpus(
        job.root, job.out, manifest=job.manifest, cameras=job.cameras, data_mb=job.data_mb, video_mb=job.video_mb
    )


def results_table(results: dict[str, tuple[Status, str]]) -> str:
    return "\n".join(f"{name:40s} {status:9s} {detail}" for name, (status, detail) in results.items())


# Exit 0 when every dataset (or the manifest) is exported, 1 when one failed or the manifest cannot be planned, 2 for
# a bad call (no --out, a size limit below 1 MB)
cli = Stage(
    "export",
    build_job,
    _run,
    results_table,
    lambda results: any(s == "error" for s, _ in results.values()),
    usage_errors=(ValidationError,),
    job_errors=(PlanError,),
)
