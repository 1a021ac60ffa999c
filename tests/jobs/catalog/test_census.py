"""The catalog knows the corpus it describes (issue 67 item 8): a copy of the corpus with one dataset folder deleted, a
dataset grown after the catalog (an ingest killed after its commits), one copied in, a catalog of an older eidata:
every command that reads the catalog refuses in one line naming the difference and `eidata catalog ROOT`, which
repairs it. The record of what each info.json held by its stat (`Seen`): used while the stat is the same, not
recorded while the stat is young enough to hide a write in the same timestamp tick."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import jobs.catalog.census as census
import jobs.cli
from adapters.storage.root import Root
from jobs.catalog.census import (
    CENSUS_JSON,
    SEEN_JSON,
    CatalogMismatchError,
    Mark,
    Seen,
    check_census,
    differences,
    open_catalog,
)
from jobs.catalog.selection import SelectionError, where_episodes
from schemas.corpus import EPISODES_DIR
from schemas.lerobot import EPISODES_PATH, INFO_PATH

GONE = "datasets/oxe/bridge"


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line `eidata ARGV` refuses with (exit 1)."""
    assert jobs.cli.main(argv) == 1, capsys.readouterr()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_rebuilt_catalog_records_every_dataset_and_opens(corpus_copy: Path) -> None:
    body = json.loads((corpus_copy / EPISODES_DIR / CENSUS_JSON).read_text())
    names = sorted(body["datasets"])
    assert names == [
        "datasets/ego4d/clips",
        "datasets/egodex/basic",
        "datasets/external/group/foreign",
        "datasets/oxe/bridge",
    ]
    assert body["datasets"]["datasets/oxe/bridge"]["episodes"] == 3
    assert differences(corpus_copy) == []
    with open_catalog(corpus_copy, "query") as corpus:
        assert corpus.root == corpus_copy


def test_every_reader_refuses_a_corpus_missing_a_dataset(
    corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(corpus_copy)
    assert jobs.cli.main(["curate", root, "--name", "all", "--where", "true"]) == 0
    capsys.readouterr()
    shutil.rmtree(corpus_copy / GONE)
    manifest = str(corpus_copy / "manifests/all")
    commands = {
        "query": ["query", root, "SELECT count(*) FROM episodes"],
        "curate": ["curate", root, "--name", "again", "--where", "true"],
        "validate": ["validate", root],
        "report": ["report", root, "--out", str(tmp_path / "r.html")],
        "export": ["export", root, "--format", "lerobot-v3", "--out", str(tmp_path / "x"), "--manifest", "all"],
        "export lda": ["export", root, "--format", "lda", "--out", str(tmp_path / "x"), "--manifest", "all"],
        "train": ["train", "--manifest", manifest, "--steps", "1", "--out", str(tmp_path / "run")],
    }
    for name, argv in commands.items():
        if name == "validate":  # validate says "refused" with its own exit code for a corpus it cannot read
            assert jobs.cli.main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1, err
        else:
            err = _refused(argv, capsys)
        assert f"{GONE} is cataloged (3 episodes) but not in the corpus" in err, (name, err)
        assert f"`eidata catalog {root}`" in err, (name, err)
    with pytest.raises(SelectionError, match=f"--where 'true': .*{GONE} is cataloged"):  # `latents --where`
        where_episodes(corpus_copy, "true")
    assert not (corpus_copy / "manifests/again").exists()
    assert not (tmp_path / "x").exists() and not (tmp_path / "run").exists()
    # the remedy it names: the catalog of the datasets as they are, which every reader takes
    assert jobs.cli.main(["catalog", root]) == 0
    assert jobs.cli.main(commands["query"]) == 0
    assert capsys.readouterr().out.replace(" ", "").endswith("\n4\n(1row)\n")  # 7 episodes less bridge's 3


def test_a_dataset_grown_after_the_catalog_is_named_as_an_unfinished_write(corpus_copy: Path) -> None:
    """What an ingest killed after its commits leaves: a dataset's meta ahead of the catalog."""
    info = corpus_copy / "datasets/egodex/basic" / INFO_PATH
    body = json.loads(info.read_text())
    body["total_episodes"] += 1
    info.write_text(json.dumps(body))
    with pytest.raises(CatalogMismatchError, match=r"datasets/egodex/basic changed since the catalog was built \(3 ep"):
        check_census(corpus_copy, corpus_copy, "query")
    body["total_episodes"] -= 1  # the counts as they were, the episodes file grown (a lineage rewritten)
    info.write_text(json.dumps(body, indent=4))
    with (corpus_copy / "datasets/egodex/basic" / EPISODES_PATH).open("a") as f:
        f.write("\n")
    found = differences(corpus_copy)
    assert len(found) == 1 and f"{EPISODES_PATH} is" in found[0] and "eidata ingest" in found[0], found


def test_a_dataset_copied_in_and_an_older_catalog_are_refused(corpus_copy: Path) -> None:
    shutil.copytree(corpus_copy / "datasets/oxe/bridge", corpus_copy / "datasets/oxe/bridge2")
    assert differences(corpus_copy) == [
        "datasets/oxe/bridge2 is in the corpus but not in the catalog (copied in, or an ingest not finished?)"
    ]
    (corpus_copy / EPISODES_DIR / CENSUS_JSON).unlink()  # a catalog an eidata before the census built
    assert differences(corpus_copy) == ["the catalog was built without a record of its datasets (an older eidata)"]
    shutil.rmtree(corpus_copy / EPISODES_DIR)  # no catalog at all: a first ingest that did not finish
    assert differences(corpus_copy) == ["there is no catalog of its 5 dataset(s) (an ingest not finished?)"]


def test_the_cataloged_datasets_are_the_census_in_the_walks_order(tmp_path: Path) -> None:
    # issue 99: the report walked a million-episode corpus's 29,852 datasets three times more after the census check;
    # a reader of a checked catalog takes them from its census, in find_datasets' order (paths part by part: "a/b"
    # before "a-b/x", though "-" sorts before "/" as text), and walks only where a catalog has no census
    from jobs.catalog.census import cataloged_datasets, write_census

    names = ["datasets/a-b/x", "datasets/a/b", "datasets/b", "datasets/a.c/y/z"]
    for name in names:  # a walk finds them too, for the catalog without a census
        (tmp_path / name / "meta").mkdir(parents=True)
        (tmp_path / name / INFO_PATH).write_text("{}")
    walked = cataloged_datasets(tmp_path)
    assert walked == ["datasets/a/b", "datasets/a-b/x", "datasets/a.c/y/z", "datasets/b"]
    (tmp_path / "datasets/a/b" / INFO_PATH).unlink()  # gone from the folder, not from the census: the census's
    write_census(tmp_path / EPISODES_DIR, {name: Mark(1, 1, 1, 1) for name in names})
    assert cataloged_datasets(tmp_path) == walked


def test_the_mark_reads_two_sizes_and_info_json(corpus_copy: Path) -> None:
    ds = corpus_copy / GONE
    mark = Mark.of(Root(corpus_copy), GONE)
    assert (mark.episodes, mark.info_bytes, mark.episodes_bytes) == (
        3,
        (ds / INFO_PATH).stat().st_size,
        (ds / EPISODES_PATH).stat().st_size,
    )
    assert mark.differs(mark) == ""


def test_described_names_the_datasets_a_plan_may_take_from_the_catalog(corpus_copy: Path) -> None:
    """`described`: those of the asked datasets the census records as they are; a grown one, one not cataloged, and
    every one without a census are read from their meta."""
    from jobs.catalog.census import described

    asked = ["datasets/oxe/bridge", "datasets/egodex/basic", "datasets/not/there"]
    assert described(corpus_copy, asked) == {"datasets/oxe/bridge", "datasets/egodex/basic"}
    with (corpus_copy / "datasets/egodex/basic" / EPISODES_PATH).open("a") as f:
        f.write("\n")
    assert described(corpus_copy, asked) == {"datasets/oxe/bridge"}
    (corpus_copy / EPISODES_DIR / CENSUS_JSON).unlink()
    assert described(corpus_copy, asked) == set()


def test_an_unchanged_corpus_is_checked_without_reading_an_info_json(
    corpus_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The check every reader pays (issue 99: 30k info.json read before each command at 1M episodes): after
    `catalog`, an info.json whose stat is the one it was read under is stat'ed, not opened (`Seen`;
    its racy window set to none, the fixture's files being seconds old)."""
    from jobs.catalog.census import described
    from tests.fixtures.opened import opened_here

    monkeypatch.setattr(census, "RACY_NS", 0)
    root = str(corpus_copy)
    assert jobs.cli.main(["catalog", root]) == 0
    with opened_here() as opened:
        assert differences(corpus_copy) == []
        assert jobs.cli.main(["query", root, "SELECT count(*) FROM episodes"]) == 0
        assert described(corpus_copy) == {
            "datasets/oxe/bridge",
            "datasets/egodex/basic",
            "datasets/ego4d/clips",
            "datasets/external/group/foreign",
        }
        assert jobs.cli.main(["catalog", root]) == 0
    capsys.readouterr()
    assert [p for p in opened if p.endswith(INFO_PATH)] == []
    # a census of an eidata before the record (or one unreadable): every info.json read, as before
    (corpus_copy / "catalog" / SEEN_JSON).write_text("{")
    with opened_here() as opened:
        assert differences(corpus_copy) == []
    assert len([p for p in opened if p.endswith(INFO_PATH)]) == 4


def test_an_info_json_rewritten_in_place_to_its_size_and_mtime_is_noticed(
    corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guarantee the record must keep: an info.json edited in place keeping its size is read again and the change
    named; so is one whose mtime was then set back as it was (its ctime moved: no call sets it back)."""
    import os

    monkeypatch.setattr(census, "RACY_NS", 0)
    assert jobs.cli.main(["catalog", str(corpus_copy)]) == 0
    info = corpus_copy / GONE / INFO_PATH
    before, st = info.read_bytes(), info.stat()
    assert b'"total_episodes": 3,' in before
    with info.open("r+b") as f:  # in place: the same inode and size
        f.write(before.replace(b'"total_episodes": 3,', b'"total_episodes": 4,'))
    os.utime(info, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert info.stat().st_size == st.st_size and info.stat().st_ino == st.st_ino
    changed = f"{GONE} changed since the catalog was built (4 episodes"
    assert [d[: len(changed)] for d in differences(corpus_copy)] == [changed]
    os.utime(info, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime it was cataloged under
    assert [d[: len(changed)] for d in differences(corpus_copy)] == [changed]


def test_counts_are_taken_only_under_the_stat_they_were_read_under(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(census, "RACY_NS", 0)
    info = tmp_path / "info.json"
    info.write_text("{}")
    first = Seen()
    first.saw("a", os.stat(info), 3, 40)
    assert first.save(tmp_path / "corpus") and (tmp_path / "corpus/catalog" / SEEN_JSON).is_file()
    again = Seen.load(tmp_path / "corpus")
    assert again.counts("a", os.stat(info)) == (3, 40) and again.now == first.now
    assert not again.save(tmp_path / "corpus")  # the same record: not written
    assert again.counts("b", os.stat(info)) is None
    info.write_text("{}")  # rewritten, the same size
    assert Seen.load(tmp_path / "corpus").counts("a", os.stat(info)) is None


def test_a_young_stat_is_not_recorded(tmp_path: Path) -> None:
    """A write within `RACY_NS` of the read could keep the stat the read saw (racy-git.txt): not trusted."""
    info = tmp_path / "info.json"
    info.write_text("{}")
    seen = Seen()
    seen.saw("a", os.stat(info), 3, 40)
    assert seen.now == {} and not seen.save(tmp_path)


def test_an_unreadable_or_older_record_is_none(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    for text in ("{", '{"seen_version": 0, "datasets": {"a": [1, 2, 3, 4, 5, 6]}}', "[]"):
        (tmp_path / "catalog" / SEEN_JSON).write_text(text)
        assert Seen.load(tmp_path).known == {}
