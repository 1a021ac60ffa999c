"""`eidata caption --manifest / --where / --dry-run`, scoped as `eidata latents` is (issue 79, review 8 item 9:
caption had no scope, so a small try on a real corpus was impossible): the run captions the selected episodes only
and says its scope; a dry run says what it would caption and writes nothing; a selection the corpus cannot give is
a usage error (exit 2). Rule captions (no model): no Ray, no weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.cli import main
from tests.jobs.runtime.test_dry_run import snapshot
from tests.jobs.stages.test_latents_scope import built, corpus  # noqa: F401  (the same two datasets, a copy each)


@pytest.fixture
def work(corpus: Path) -> Path:  # noqa: F811
    return corpus


def test_a_dry_run_with_a_manifest_plans_its_episodes_and_writes_nothing(work: Path, capsys) -> None:
    before = snapshot(work)
    assert main(["caption", str(work), "--manifest", "some", "--dry-run"]) == 0
    assert snapshot(work) == before
    out = capsys.readouterr().out
    assert "caption dry run (rule: " in out and "3 episodes selected (manifest some) in 2 dataset(s)" in out, out


def test_a_manifest_and_a_where_caption_the_episodes_both_select(work: Path, capsys) -> None:
    assert main(["caption", str(work), "--manifest", "some", "--where", "subset = 'bridge'"]) == 0
    out = capsys.readouterr().out
    assert "of the episodes selected (manifest some and where subset = 'bridge'): 0 by the VLM, 2 by the rules" in out
    assert main(["caption", str(work), "--dry-run"]) == 0  # the rest still to caption: 4 of 6
    assert "4 episodes in 2 dataset(s)" in capsys.readouterr().out


def test_a_selection_the_corpus_cannot_give_is_a_usage_error(work: Path, capsys) -> None:
    assert main(["caption", str(work), "--manifest", "nope", "--dry-run"]) == 2
    assert "manifests/nope" in capsys.readouterr().err
