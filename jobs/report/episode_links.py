"""Which episodes the corpus report names get a page beside it, and how the report links each one it names
(jobs/report/README.md): the losses table's examples and the every-episode table's rows each link to their page
(`episode_href`); a page costs a second or more and up to a megabyte, so only the first `DEFAULT_PAGES` are written
and any other links to the report's note on pages (`#episode-pages`), titled with the command that writes its page.
A quarantined episode has no page: its example links to the report's quarantine records (`#quarantined`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from jobs.catalog import losses
from jobs.report import curation
from jobs.report.data import sql_text
from jobs.report.markup import Markup, escape
from schemas.corpus import DATASETS_DIR

# pages written by default (`--episode-pages`): on the demo corpus a page took 1.3 s and 0.95 MB (224x224 frames,
# 8 a camera; 2.3 s and 0.79 MB before the strip's PNGs used zlib's fastest level and the catalog check read its
# schema once), so the default adds about 15 s and 11 MB to `eidata report`
DEFAULT_PAGES = 12
PAGES_NOTE, QUARANTINED = "episode-pages", "quarantined"  # ids of the report's elements those links point to


def pages_limit(text: str | int | None) -> int | None:
    """`--episode-pages N|all` -> N (pages written, 0: none) or None (every episode the report names); a malformed
    value is a ValueError saying the form."""
    if text is None:
        return DEFAULT_PAGES
    if str(text).strip().lower() == "all":
        return None
    if not str(text).strip().isdigit():
        raise ValueError(f"--episode-pages {text!r}: a count of pages (0, 50, ...) or 'all'")
    return int(text)


@dataclass
class EpisodeLinks:
    """Every episode the report names, in the order its pages are written, and those written (`pages`)."""

    corpus: str  # ROOT as the command was given it, for the command that writes a page
    named: dict[str, tuple[str, int]]  # episode_uid -> (dataset, episode index), in page order
    pages: dict[str, str] = field(default_factory=dict)  # episode_uid -> href of its written page
    unwritten: dict[str, str] = field(default_factory=dict)  # episode_uid -> why its page was not written

    def command(self, uid: str) -> str:
        dataset, index = self.named[uid]
        return f"eidata report {shlex.quote(self.corpus)} --episode {dataset.removeprefix(DATASETS_DIR + '/')}:{index}"

    def link(self, uid: str, text: str) -> Markup:
        """`text` linked to the episode's page, else to the note on pages, titled with the command that writes it."""
        if uid in self.pages:
            return Markup(f'<a href="{escape(self.pages[uid])}">{escape(text)}</a>')
        if uid in self.named:
            return Markup(f'<a href="#{PAGES_NOTE}" title="{escape(self.command(uid))}">{escape(text)}</a>')
        return Markup(escape(text))

    def summary(self) -> str:
        """What was written, in a line: the command's last words."""
        rest = len(self.named) - len(self.pages)
        said = f"{len(self.pages)} of the {len(self.named)} episodes the report names"
        if rest:
            said += f"; the other {rest}: `eidata report {self.corpus} --episode-pages all` (or --episode D:I)"
        return said

    def note(self) -> str:
        """The report's note on episode pages (`#episode-pages`): how many were written, how to get the others."""
        rest = len(self.named) - len(self.pages)
        said = f"{len(self.pages)} of the {len(self.named)} episodes this report names have a page (report_episodes/)"
        if rest:
            said += (
                f"; the other {rest} link here, each link's title the command that writes its page "
                f"(`eidata report {self.corpus} --episode DATASET:INDEX`), or `eidata report {self.corpus} "
                "--episode-pages all` writes every one"
            )
        why = "".join(f"<li>{escape(u)}: {escape(w)}</li>" for u, w in self.unwritten.items())
        return f'<p class="note" id="{PAGES_NOTE}">{escape(said)}.</p>' + (f"<ul>{why}</ul>" if why else "")

    @staticmethod
    def quarantined(text: str) -> Markup:
        """A quarantined episode's example: a link to the report's quarantine records (never written: no page)."""
        why = "its quarantine record: error, message, file"
        return Markup(f'<a href="#{QUARANTINED}" title="{why}">{escape(text)}</a>')


def named_episodes(root: Path, corpus: str) -> EpisodeLinks:
    """The episodes the report names: the losses table's examples first, then the every-episode table's rows in its
    order; `corpus` is ROOT as the user spelled it."""
    examples = [r["example"] for r in losses.losses_by_reason(root) if r["outcome"] != "quarantined"]
    rows = curation.episode_rows(root, curation.MAX_EPISODE_ROWS)  # the table's rows; the examples looked up alone
    named = ", ".join(sql_text(u) for u in sorted(set(examples)))
    found = curation.episode_rows(root, where=f"e.episode_uid IN ({named})") if examples else []
    where = {r["episode_uid"]: (r["dataset"], int(r["episode_index"])) for r in rows + found}
    order = [u for u in examples if u in where] + [r["episode_uid"] for r in rows]
    return EpisodeLinks(corpus, {u: where[u] for u in order})
