"""`eidata report ROOT`: the corpus page (`jobs.report.page`) and, beside it, the pages of the first
`--episode-pages N|all` episodes it names (`jobs.report.episode_links`, `jobs.report.episode_page`); with
`--episode DATASET:INDEX` (or the catalog's `episode_uid`, or the raw episode id) that one episode's page alone.

Exit 0 with the page written; 1 for a corpus the report cannot read (no catalog); 2 for no corpus (a missing folder or
bucket, a refused credential) or an episode the corpus lacks (the message names the dataset and the index).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from adapters.storage.atomic import atomic_write
from jobs.catalog.census import open_catalog
from jobs.catalog.query import one_reading
from jobs.report import page
from jobs.report.data import ReportError
from jobs.report.episode_data import EpisodeNotFound, episode_href, resolve_episode
from jobs.report.episode_links import DEFAULT_PAGES, EpisodeLinks, named_episodes, pages_limit
from jobs.report.episode_page import episode_html, write_pages
from jobs.runtime.exits import fail
from schemas.storage import CatalogError, NotACorpus, StorageError


def write_report(
    root: Path, out: Path, exports: Sequence[Path] = (), pages: int | None = DEFAULT_PAGES, corpus: str | None = None
) -> tuple[Path, EpisodeLinks]:
    """The corpus page written to `out` and beside it the pages of the first `pages` episodes it names (None: all;
    `jobs.report.episode_links`); `corpus`: ROOT as the user spelled it, for the command each other link names."""
    with one_reading(root):  # every statement of the page and its episode pages on one connection, each once
        links = named_episodes(root, corpus or str(root))
        write_pages(root, links, Path(out).parent, pages)
        return atomic_write(Path(out), page.report_html(root, exports, links)), links


def cli_report(args: argparse.Namespace) -> int:
    if getattr(args, "episode", None) is not None:
        return cli_episode(args)
    out = getattr(args, "out", None)
    exports = [Path(p) for p in getattr(args, "exports", None) or []]
    try:
        limit = pages_limit(getattr(args, "episode_pages", None))
    except ValueError as err:
        return fail(2, f"eidata report: {err}")
    try:
        # a bucket's files copied (the report opens them by path); the credential from the AWS environment
        with open_catalog(args.root, "report", copy=True) as corpus:

            def written(report: Path) -> tuple[Path | str, str]:
                where, links = write_report(corpus.root, report, exports, limit, str(args.root))
                return where, links.summary()

            def put() -> tuple[Path | str, str]:  # a page would copy its files once more: each link names its command
                with one_reading(corpus.root):
                    links = named_episodes(corpus.root, str(args.root))
                    html = page.report_html(corpus.root, exports, links).encode("utf-8")
                return corpus.put("report.html", html), (
                    f"not written for a bucket; `eidata report {args.root} --episode DATASET:INDEX` puts one where its"
                    " link points, `--out FILE --episode-pages all` writes them all beside a local copy"
                )

            where, pages = written(Path(out)) if out else corpus.own_file("report.html", written, put)
    except (StorageError, ReportError, NotACorpus, CatalogError) as err:
        return fail(2 if isinstance(err, StorageError | NotACorpus) else 1, f"eidata report: {err}")
    print(f"report: {where}")
    print(f"episode pages: {pages}")
    return 0


def cli_episode(args: argparse.Namespace) -> int:
    """One episode's page, written to `--out`, else to ROOT/`episode_href` (where the corpus report links it)."""
    out = getattr(args, "out", None)
    try:
        with open_catalog(args.root, "report", copy=True) as corpus, one_reading(corpus.root):
            dataset, index = resolve_episode(corpus.root, args.episode)
            html = episode_html(corpus.root, dataset, index)
            rel = episode_href(dataset, index)
            where = atomic_write(Path(out), html) if out else corpus.put(rel, html.encode("utf-8"))
    except (StorageError, ReportError, NotACorpus, CatalogError) as err:
        return fail(2 if isinstance(err, (StorageError, EpisodeNotFound, NotACorpus)) else 1, f"eidata report: {err}")
    print(f"episode page: {where} ({len(html.encode('utf-8')) / 1e6:.1f} MB)")
    return 0
