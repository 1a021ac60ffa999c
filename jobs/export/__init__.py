"""`eidata export ROOT --format FORMAT`: hand a curated corpus to another model family's data layer.

One module per format, imported only when asked for (a format may pull heavy optional extras). Each module
exposes `cli(args) -> int` over the arguments of the `export` subcommand (`root`, `format`, `out`, and any the
format adds to the parser) and returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from adapters.storage.corpus import Corpus
from jobs.output_lock import OutputLock, is_local
from jobs.runtime.exits import fail
from jobs.runtime.job_lock import JobLockedError
from jobs.runtime.options import Opt
from schemas.export_frames import ExportFrames
from schemas.image_size import Fit

# a job model's corpus or output: a folder, or a bucket URL kept as text (a Path would fold `s3://` into `s3:/`)
PathOrUrl = Annotated[Path | str, BeforeValidator(Corpus.where_value)]

# format name -> module implementing it
EXPORT_FORMATS: dict[str, str] = {
    "gr00t": "jobs.export.gr00t_job",
    "lingbot-va": "jobs.export.lingbot.job",
    "lerobot-v3": "jobs.export.lerobot_v3.job",
    "lerobot-v21": "jobs.export.lerobot_v3.job",  # the same plans, written as LeRobot v2.1
    "lda": "jobs.export.lda.job",  # LeRobot v2.1 datasets LDA-1B's own loader reads as they are
}


# formats that write new datasets: without --out, a bad call (exit 2)
NEEDS_OUT = ("lingbot-va", "lerobot-v3", "lerobot-v21", "lda")
# the frame size of every format that writes frames (`schemas/export_frames.py`, `jobs/export/resize.py`): flags of
# the command, not of a format's group, so that every format reads the same two
FRAME_OPTIONS = (
    Opt(ExportFrames, "size", flags=("--frame-size",), unset=True),
    Opt(ExportFrames, "fit", flags=("--frame-fit",), unset=True, words={f.value: f for f in Fit}),
)
# formats that write no frame: a frame size given to them is refused (exit 2) rather than ignored
NO_FRAMES = {
    "gr00t": "each dataset's cameras keep their size (GR00T's own transforms resize at load)",
    "lingbot-va": "its latents are made at --size HxW (Wan2.2's input, as LingBot-VA resizes), its videos linked",
    # not frameless, but one dataset per canonical dataset, each at its own size (LDA's transforms resize at load):
    # the resize is not wired into its all-intra re-encode yet (jobs/export/lda/video.py), so refused, not ignored
    "lda": "each exported dataset keeps its canonical frame size (one dataset per canonical dataset; LDA's own image "
    "transforms resize at load)",
}


# formats that do not read a manifest: `--manifest` given to them is refused (exit 2) by name, never ignored (issue 79:
# a gr00t export with --manifest wrote every dataset, the curation's rejected copies included). Every other format
# honours it (gr00t with --out: `gr00t_copy`; tests/jobs/export/test_manifest_formats.py holds a row per format).
NO_MANIFEST = {
    "lingbot-va": "it exports every dataset of the corpus, so it would export the episodes the manifest leaves out; "
    "the manifest's episodes are exported by --format lerobot-v3, lerobot-v21, lda or gr00t --out"
}


# formats that write in place without --out, which a manifest cannot narrow: `--manifest` without `--out` is a bad
# call (exit 2, as README's exit codes say; it was 1 on 00f20645)
MANIFEST_NEEDS_OUT = {
    "gr00t": "without it each whole dataset gets its meta/modality.json in place, the episodes the manifest leaves "
    "out too"
}


def cli_export(args: argparse.Namespace) -> int:
    module_name = EXPORT_FORMATS.get(args.format)
    if module_name is None:
        return fail(2, f"eidata export: unknown format {args.format!r}; known: {sorted(EXPORT_FORMATS)}")
    if args.format in NEEDS_OUT and not getattr(args, "out", None):
        return fail(2, f"eidata export --format {args.format} needs --out DIR")
    if getattr(args, "manifest", None) and args.format in NO_MANIFEST:
        why = NO_MANIFEST[args.format]
        return fail(2, f"eidata export: --manifest does not apply to --format {args.format}: {why}")
    if getattr(args, "manifest", None) and args.format in MANIFEST_NEEDS_OUT and not getattr(args, "out", None):
        why = MANIFEST_NEEDS_OUT[args.format]
        return fail(2, f"eidata export --format {args.format}: --manifest {args.manifest} needs --out DIR: {why}")
    given = [o.names[0] for o in FRAME_OPTIONS if getattr(args, o.dest, None) is not None]
    if given and args.format in NO_FRAMES:
        why = NO_FRAMES[args.format]
        return fail(2, f"eidata export: {' and '.join(given)} do not apply to --format {args.format}: {why}")
    return _locked(args, lambda: int(importlib.import_module(module_name).cli(args)))


def _locked(args: argparse.Namespace, run: Callable[[], int]) -> int:
    """`run` holding the export lock of the folder it writes (`--out`, or the corpus for gr00t in place): a second
    export into it, whatever its format, is refused naming the first one's pid. A dry run writes nothing, not even a
    lock; a bucket is locked by its lease."""
    target = getattr(args, "out", None) or args.root
    if getattr(args, "dry_run", False) or not is_local(target):
        return run()
    try:
        lock = OutputLock(Path(target), "export")
    except JobLockedError as e:
        return fail(1, f"eidata export: {e}; wait for it, or give another --out")
    with lock:
        return run()
