"""`--manifest` read one way for export, train and eval: a NAME, a folder in any spelling, a file of it, a URL; what
to run when it is not there (a working command: tests/jobs/test_train.py and tests/jobs/export/lerobot_v3/
test_job.py run it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.catalog.manifest_arg import manifest_folder, missing_hint


@pytest.mark.parametrize(
    ("given", "root", "folder"),
    [
        ("v1", "corpus", "corpus/manifests/v1"),
        ("v1", "corpus/", "corpus/manifests/v1"),
        ("v1", None, "manifests/v1"),
        ("v1/", "/data/c", "/data/c/manifests/v1"),
        ("corpus/manifests/v1", "elsewhere", "corpus/manifests/v1"),
        ("corpus/manifests/v1/", None, "corpus/manifests/v1"),
        ("corpus/manifests/v1/manifest.json", None, "corpus/manifests/v1"),
        ("/abs/c/manifests/v1/entries.parquet", "c", "/abs/c/manifests/v1"),
        ("c/manifests/v1/entries-0123456789abcdef.parquet", None, "c/manifests/v1"),  # the file its json names
        ("manifest.json", None, "."),
        ("s3://b/c/manifests/v1/", None, "s3://b/c/manifests/v1"),
        ("v1", "s3://b/c", "s3://b/c/manifests/v1"),
    ],
)
def test_manifest_folder(given: str, root: str | None, folder: str) -> None:
    assert manifest_folder(given, root) == folder
    assert manifest_folder(folder, root) == folder  # idempotent: a resolved folder passed on resolves to itself


def _manifest(corpus: Path, name: str) -> None:
    (corpus / "datasets").mkdir(parents=True, exist_ok=True)
    (corpus / "manifests" / name).mkdir(parents=True)
    (corpus / "manifests" / name / "manifest.json").write_text("{}")


def test_missing_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _manifest(tmp_path / "a", "v1")
    _manifest(tmp_path / "b", "v1")
    _manifest(tmp_path / "b", "v0")
    monkeypatch.chdir(tmp_path)
    # a NAME beside corpora: the --manifest of each that holds it
    assert (
        missing_hint("v1")
        == "; `--manifest a/manifests/v1` or `--manifest b/manifests/v1` names a manifest of that name"
    )
    # with a corpus, or a folder in one: its manifests and the curate command for this one, quoted for a shell
    assert (
        missing_hint("v2", "b")
        == "; b has the manifests v0, v1; `eidata curate b --name v2 --where TRUE` writes one of every episode"
    )
    assert missing_hint("b/manifests/v2") == missing_hint("v2", "b")
    (tmp_path / "my corpus").mkdir()
    assert "`eidata curate 'my corpus' --name v2 --where TRUE`" in missing_hint("v2", "my corpus")
    # no corpus known (a folder not in one, a NAME no corpus here holds): ROOT to fill in
    assert missing_hint("elsewhere/v2") == "; `eidata curate ROOT --name v2 --where TRUE` writes one of every episode"
    assert missing_hint("v9").startswith("; `eidata curate ROOT --name v9")
