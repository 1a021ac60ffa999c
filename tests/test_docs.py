"""The documents stand alone: nothing outside `tests/` sends a reader to this team's notes beside the repository (a
clone does not have them), BENCHMARKS.md opens with its table of current figures and stays short, and every
"BENCHMARKS.md, "Section"" that a document or docstring cites names a heading that exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.needs import tool_missing

REPO = Path(__file__).resolve().parents[1]
# The team's notes live in a folder beside the repository: `../shared/` (ENVIRONMENT.md, FORMATS.md, LEROBOT_V21.md,
# STYLE.md, realdata/, reviews/). Tests may name a sample there that may not be redistributed; nothing else may.
OUTSIDE = re.compile(
    r"\.\./shared|/work/shared|\bshared/realdata|ENVIRONMENT\.md|FORMATS\.md|LEROBOT_V21\.md|STYLE\.md"
)
TEXT = {".py", ".md", ".toml", ".yaml", ".yml", ".txt", ".cfg", ".json", ".sh", ""}
CITATION = re.compile(r"BENCHMARKS\.md(?:\]\([^)]*\))?[,:]?\s*\(?((?:\"[^\"]+\"(?:,\s*|\s+and\s+)?)+)")


def _files() -> list[Path]:
    """The repository's own files (tracked, or new and not ignored), outside `tests/`."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        tool_missing("git", "the documents check lists the repository's files with git ls-files")
    out = subprocess.run(
        [git, "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, text=True
    )
    paths = [REPO / p for p in out.stdout.splitlines() if not p.startswith("tests/")]
    return [p for p in paths if p.is_file() and (p.suffix in TEXT or p.name in {"Makefile", "Dockerfile"})]


def _joined(text: str) -> str:
    """Text with line breaks, comment marks and indentation folded into single spaces, so a citation that wraps
    (`BENCHMARKS.md ("A",\\n#   "B")`) reads as one line."""
    return re.sub(r"\s*\n\s*(?:#+\s*)?", " ", text)


def test_nothing_outside_tests_refers_to_the_notes_beside_the_repository() -> None:
    hits = [
        f"{p.relative_to(REPO)}:{n}: {line.strip()[:110]}"
        for p in _files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not hits, (
        "references to ../shared (not in a clone): state the fact in the repository with its public source:\n"
        + "\n".join(hits)
    )


def test_benchmarks_opens_with_the_table_of_current_figures_and_stays_short() -> None:
    lines = (REPO / "BENCHMARKS.md").read_text().splitlines()
    assert len(lines) < 600, f"BENCHMARKS.md has {len(lines)} lines: keep the current figures, history goes to git"
    first = next(i for i, line in enumerate(lines) if line.startswith("## "))
    assert lines[first] == "## Current figures" and first < 15, lines[: first + 1]
    header = next(line for line in lines[first + 1 :] if line.strip())
    assert header.startswith("| ") and "reference" in header and "command" in header, header
    rows = [line for line in lines[first + 3 :] if line.startswith("| ")]
    assert len(rows) >= 20 and all(line.count("|") >= 6 for line in rows[:20])


def _headings() -> list[str]:
    """BENCHMARKS.md's headings, leaving out the `#` comments inside its code blocks."""
    out, fenced = [], False
    for line in (REPO / "BENCHMARKS.md").read_text().splitlines():
        fenced ^= line.startswith("```")
        if not fenced and re.match(r"#{1,4} ", line):
            out.append(line.lstrip("#").strip())
    return out


def cited_sections(text: str) -> list[str]:
    """The section names a text cites after "BENCHMARKS.md": `BENCHMARKS.md, "A"`, `[BENCHMARKS.md](..) "A" and "B"`,
    `BENCHMARKS.md ("A", "B")`."""
    return [name for m in CITATION.finditer(_joined(text)) for name in re.findall(r"\"([^\"]+)\"", m.group(1))]


def test_every_cited_benchmarks_section_exists() -> None:
    headings = _headings()
    missing = [
        f'{p.relative_to(REPO)}: "{name}"'
        for p in [*_files(), *(REPO / "tests").rglob("*.py")]
        if p.name != "BENCHMARKS.md" and p != Path(__file__).resolve()
        for name in cited_sections(p.read_text(errors="replace"))
        if not any(name in h for h in headings)
    ]
    assert not missing, (
        "BENCHMARKS.md sections cited but not there (rename the citation or the heading):\n" + "\n".join(missing)
    )


def test_the_citation_reader_finds_each_form() -> None:
    text = (
        'CAPACITY [BENCHMARKS.md](BENCHMARKS.md), "Ingest on Ray" and "Footage".\n'
        '# rates (BENCHMARKS.md, "Codec settings"): x\n'
        'Figures: [BENCHMARKS.md](../../BENCHMARKS.md) ("LeRobot v3.0 export", "Quantile stats",\n'
        '  "Manifest normalization stats").\n'
        'see BENCHMARKS.md "Behaviour QA". And BENCHMARKS.md alone.\n'
    )
    assert cited_sections(text) == [
        "Ingest on Ray",
        "Footage",
        "Codec settings",
        "LeRobot v3.0 export",
        "Quantile stats",
        "Manifest normalization stats",
        "Behaviour QA",
    ]
