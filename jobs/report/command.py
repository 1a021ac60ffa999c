"""`eidata report ROOT`: the corpus page (`jobs.report.page`) and, beside it, the page of each episode it links to
(`jobs.report.episode_page`); with `--episode DATASET:INDEX` that one episode's page alone.

Exit 0 with the page written; 1 for a corpus the report cannot read (no catalog); 2 for no corpus (a missing folder or
bucket, a refused credential) or an episode the corpus lacks (the message names the dataset and the index).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.storage.urls import StorageError
from ingest.files.atomic import write_text_atomic
from ingest.storage.corpus import read_corpus
from jobs.report import page
from jobs.report.data import ReportError
from jobs.report.episode_data import EpisodeNotFound, episode_href, parse_episode
from jobs.report.episode_page import episode_html, write_linked_pages
from schemas.storage import is_remote


def cli_report(args: argparse.Namespace) -> int:
    """`eidata report ROOT [--out FILE] [--exports DIR ...] [--episode DATASET:INDEX]`."""
    if getattr(args, "episode", None) is None:
        status = page.cli_report(args)
        if status != 0:
            return status
        if is_remote(str(args.root)):  # each page would copy the bucket's files once more
            how = f"eidata report {args.root} --episode DATASET:INDEX"
            print(f"episode pages: not written for a bucket; `{how}` puts one where the report links it")
            return status
        report = Path(getattr(args, "out", None) or Path(args.root) / "report.html")
        written = write_linked_pages(Path(args.root), report)
        if written:
            print(f"episode pages: {len(written)} flagged episodes in {written[0].parent}")
        return status
    return cli_episode(args)


def cli_episode(args: argparse.Namespace) -> int:
    """One episode's page, written to `--out`, else to ROOT/`episode_href` (where the corpus report links it)."""
    out = getattr(args, "out", None)
    try:
        dataset, index = parse_episode(args.episode)
        with read_corpus(args.root, copy=True) as corpus:
            html = episode_html(corpus.root, dataset, index)
            rel = episode_href(dataset, index)
            where = write_text_atomic(Path(out), html) if out else corpus.put(rel, html.encode("utf-8"))
    except (StorageError, ReportError) as err:
        print(f"eidata report: {err}", file=sys.stderr)
        return 2 if isinstance(err, (StorageError, EpisodeNotFound)) else 1
    print(f"episode page: {where} ({len(html.encode('utf-8')) / 1e6:.1f} MB)")
    return 0
