"""Every episode the corpus report names links somewhere that answers: to its written page, or (beyond the pages
written) to the report's note on pages with the command that writes its page; a quarantined episode to its quarantine
record. The pages written are the first `--episode-pages` of those named, the losses' examples first."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from jobs.catalog import losses
from jobs.report.command import write_report
from jobs.report.episode_data import episode_href
from jobs.report.episode_links import DEFAULT_PAGES, PAGES_NOTE, QUARANTINED, named_episodes, pages_limit

LINK = re.compile(r'<a href="([^"]+)"(?: title="([^"]*)")?>([^<]*)</a>')


def links_of(report: Path) -> list[tuple[str, str, str]]:
    """(href, title, text) of every link in the report; each must answer: a written file, or an element of the
    report (whose link, for an episode, is titled with the command that writes its page)."""
    text = report.read_text()
    ids = set(re.findall(r' id="([^"]+)"', text))
    found = [(html.unescape(h), html.unescape(t), html.unescape(x)) for h, t, x in LINK.findall(text)]
    for href, _, label in found:
        target = href[1:] in ids if href.startswith("#") else (report.parent / href).is_file()
        assert target, f"the link of {label!r} to {href} answers nothing"
    return found


def test_pages_limit() -> None:
    assert pages_limit(None) == DEFAULT_PAGES and pages_limit("all") is None and pages_limit("0") == 0
    assert pages_limit(" 7 ") == 7
    with pytest.raises(ValueError, match="a count of pages"):
        pages_limit("-1")


def test_the_losses_examples_come_first_then_the_table_flagged_first(corpus: Path) -> None:
    links = named_episodes(corpus, "ROOT")
    examples = [r["example"] for r in losses.losses_by_reason(corpus) if r["outcome"] != "quarantined"]
    assert examples and list(links.named)[: len(set(examples))] == list(dict.fromkeys(examples))
    assert len(links.named) == 4  # every written episode of the corpus, each once
    first = next(iter(links.named))
    dataset, index = links.named[first]
    assert links.command(first) == f"eidata report ROOT --episode {dataset.removeprefix('datasets/')}:{index}"
    cell = links.link(first, first)
    assert f'href="#{PAGES_NOTE}"' in cell and "eidata report ROOT --episode" in cell
    assert f'href="#{QUARANTINED}"' in links.quarantined("CRC <mismatch>") and "&lt;mismatch&gt;" in links.quarantined(
        "CRC <mismatch>"
    )


@pytest.mark.parametrize("pages", [None, 1, 0])
def test_every_link_of_the_report_answers(corpus: Path, tmp_path: Path, pages: int | None) -> None:
    report, links = write_report(corpus, tmp_path / "report.html", pages=pages, corpus="ROOT")
    written = sorted(p.name for p in (tmp_path / "report_episodes").glob("*.html")) if pages != 0 else []
    assert len(written) == (len(links.named) if pages is None else pages) == len(links.pages)
    found = links_of(report)
    by_label = {label: (href, title) for href, title, label in found}
    for uid, (dataset, index) in links.named.items():  # every episode named links: to its page or its command
        href, title = by_label[uid]
        if uid in links.pages:
            assert href == episode_href(dataset, index) and Path(href).name in written
        else:
            assert href == f"#{PAGES_NOTE}" and title == links.command(uid)
    quarantined = [(h, x) for h, _, x in found if h == f"#{QUARANTINED}"]
    assert [x for _, x in quarantined] == ["CRC mismatch <in> record 3 & more"]  # its record, never a page
    note = report.read_text().split(f'id="{PAGES_NOTE}">')[1].split("</p>")[0]
    assert f"{len(written)} of the {len(links.named)} episodes this report names have a page" in note
    if len(written) < len(links.named):
        assert "--episode-pages all" in html.unescape(note)


def test_the_help_states_the_default_count() -> None:
    text = Path(__file__).resolve().parents[3].joinpath("jobs/commands.toml").read_text()
    assert f"default {DEFAULT_PAGES};" in text.split('"--episode-pages"')[1].split("\n")[0]
