"""The real third-party samples the tests and benchmarks read: `realdata("<folder>/<path>")` is that path under the
samples' folder beside the repository, `../shared/realdata/` (`EIDATA_SHARED_REALDATA` names another). Fetched data is
never committed here: a clone without that folder skips the test, saying which folder is missing and where it comes
from; under `CI=true` the test fails instead (tests/needs.py), so CI cannot go green without reading every sample.

`tests/REAL_SAMPLES.md` is the list of samples: a folder must be listed there (source, licence, the tests that read
it) before `realdata` returns it, and tests/test_realdata.py checks that the list names exactly the folders the tests
and benchmarks read. Its second table holds the samples the tests name that are not yet in the shared folder: those
skip, even on CI, until they are placed (that test fails once one is there and still listed as awaited)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_REALDATA = Path(os.environ.get("EIDATA_SHARED_REALDATA") or REPO.parent / "shared" / "realdata")
LIST = REPO / "tests" / "REAL_SAMPLES.md"
PLACED = "## In the shared folder"  # the heading of REAL_SAMPLES.md's table of samples that are there
AWAITED = "## Awaited"  # the heading of its table of samples the tests name that are not there yet


@dataclass(frozen=True)
class Sample:
    """One row of tests/REAL_SAMPLES.md."""

    folder: str
    source: str  # owner/repo@commit:path
    licence: str
    users: tuple[str, ...]  # the test and benchmark files that read it, relative to the repository
    placed: bool  # listed as in the shared folder (else awaited)


def parse(text: str) -> dict[str, Sample]:
    """The samples of a REAL_SAMPLES.md text: the rows of the tables under its PLACED and AWAITED headings."""
    out: dict[str, Sample] = {}
    placed: bool | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            placed = True if line.startswith(PLACED) else False if line.startswith(AWAITED) else None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| `") else []
        if placed is None or len(cells) != 4:
            continue
        folder, source, licence, users = cells
        name = folder.strip("`/")
        # the source cell: one or more `owner/repo@commit:path`, then a note in words; the first names where to look
        first = re.search(r"`([^`]+)`", source)
        out[name] = Sample(
            name, first.group(1) if first else source, licence, tuple(re.findall(r"`([^`]+)`", users)), placed
        )
    return out


@cache
def listed() -> dict[str, Sample]:
    return parse(LIST.read_text(encoding="utf-8"))


def awaited(folder: str) -> bool:
    """Whether `folder` is listed as awaited and is still absent: a test that reads several samples leaves it out
    (calling `realdata` for it alone skips the tests that need it)."""
    return not listed()[folder].placed and not (SHARED_REALDATA / folder).is_dir()


def realdata(rel: str) -> Path:
    """The real sample path `rel` (`<folder>` or `<folder>/<path inside it>`) under the shared folder. A folder that
    is not listed in tests/REAL_SAMPLES.md is an error; one listed but absent skips the calling test or fixture (fails
    it under CI=true, unless it is listed as awaited)."""
    folder = rel.split("/", 1)[0]
    sample = listed().get(folder)
    if sample is None:
        raise LookupError(f"real sample {folder!r} is not in {LIST.name}: add its row (source, licence, tests)")
    if not (SHARED_REALDATA / folder).is_dir():
        # imported here: benchmarks/linters_side_by_side/cases.py reads the samples in a venv without pytest
        import pytest

        from tests.needs import tool_missing

        where = f"{SHARED_REALDATA / folder} is absent: copy it from {sample.source} (tests/REAL_SAMPLES.md)"
        if not sample.placed:  # CI has no copy of it either, yet: failing there would say nothing new
            pytest.skip(f"real sample {folder} awaits its place in the shared folder; {where}")
        tool_missing(f"real sample {folder}", where)
    return SHARED_REALDATA / rel
