"""Hard links the user owns are read, others refused (`adapters.storage.hard_links`, issue 67 item 2): an eidata export
that links its corpus's files (`export --format gr00t --out`), ingested as a LeRobot source, is discovered and read;
a file whose every name lies under the root is read; a link to an outside parquet (the report's c01) stays refused,
and so does a link vouched for by a record that names no corpus dataset, or a corpus file of another path, or a
root whose listing is stale."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.registry import get_adapter
from adapters.storage.hard_links import LINKED
from adapters.storage.location import locate
from jobs.cli import main
from schemas.containment import HardLinked
from schemas.storage import MARKER
from tests.fixtures.corpus import episode, write_dataset
from tests.fixtures.fence import fenced

PARQUET = "data/chunk-000/episode_000001.parquet"


def _rows(path: Path) -> int:
    with locate(path).readable() as src:
        return pq.read_table(src).num_rows


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(corpus, export): a corpus of two episodes and its GR00T copy, whose parquet are links of the corpus's."""
    tmp = tmp_path_factory.mktemp("hard_links")
    corpus = tmp / "corpus"
    eps = [episode(6, "pick", "oxe/bridge/e0", "franka"), episode(5, "open", "oxe/bridge/e1", "franka")]
    write_dataset(corpus / "datasets/oxe/bridge", "franka", eps)
    assert main(["export", str(corpus), "--format", "gr00t", "--out", str(tmp / "export")]) == 0
    return corpus, tmp / "export"


def _copy(export: Path, to: Path) -> Path:
    """A copy of the export keeping its links (as `cp -a` within one file system)."""
    shutil.copytree(export, to, copy_function=os.link)
    return to


def test_an_export_ingested_as_a_lerobot_source_is_read(exported: tuple[Path, Path]) -> None:
    _, export = exported
    assert (export / "oxe/bridge" / PARQUET).stat().st_nlink == 2  # the export's name and the corpus's
    adapter = get_adapter("lerobot")
    refs = list(adapter.discover(export))
    assert len(refs) == 2 and all(r.error is None for r in refs), [r.error for r in refs]
    with fenced(export):
        episodes = [adapter.read(r) for r in refs]
    assert sorted(len(next(iter(e.states.values())).values) for e in episodes) == [5, 6]


def test_a_record_naming_no_corpus_dataset_or_another_file_vouches_nothing(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus, export = exported
    ds = _copy(export, tmp_path / "root") / "oxe/bridge"
    outside = tmp_path / "outside/oxe/bridge"  # the same names, outside any corpus
    shutil.copytree(corpus / "datasets/oxe/bridge", outside)
    record = json.loads((ds / MARKER).read_text())
    (ds / MARKER).write_text(json.dumps(record | {"source": str(outside)}))
    (ds / PARQUET).unlink()
    os.link(outside / PARQUET, ds / PARQUET)  # c01: an outside parquet linked in, its record naming its folder
    with fenced(tmp_path / "root"), pytest.raises(HardLinked, match=rf"{ds / PARQUET} is a hard link"):
        _rows(ds / PARQUET)
    (ds / MARKER).write_text(json.dumps(record))  # the record names the corpus, the link is not of its file
    with fenced(tmp_path / "root"), pytest.raises(HardLinked):
        _rows(ds / PARQUET)
    (ds / PARQUET).unlink()
    os.link(corpus / "datasets/oxe/bridge/data/chunk-000/episode_000000.parquet", ds / PARQUET)  # another path's
    with fenced(tmp_path / "root"), pytest.raises(HardLinked):
        _rows(ds / PARQUET)
    (ds / MARKER).unlink()  # no record at all: the corpus's own file at its own path is still an outside name
    (ds / PARQUET).unlink()
    os.link(corpus / "datasets/oxe/bridge" / PARQUET, ds / PARQUET)
    with fenced(tmp_path / "root"), pytest.raises(HardLinked):
        _rows(ds / PARQUET)


def test_a_file_whose_every_name_lies_under_the_root_is_read(exported: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, _ = exported
    root = tmp_path / "root"
    shutil.copytree(corpus / "datasets/oxe/bridge", root / "bridge")
    _copy(root / "bridge", root / "bridge_linked")  # `cp -al` beside it, under the same root
    with fenced(root):
        assert _rows(root / "bridge_linked" / PARQUET) == 5
        assert json.loads((root / "bridge_linked/meta/info.json").read_text())["total_episodes"] == 2
    os.link(root / "bridge" / PARQUET, tmp_path / "third_name.parquet")  # a third name, outside
    with fenced(root), pytest.raises(HardLinked, match=r"\(3 names"):
        _rows(root / "bridge" / PARQUET)
    (tmp_path / "third_name.parquet").unlink()
    (root / "bridge" / PARQUET).rename(tmp_path / "moved_out.parquet")  # after the listing: one name now outside
    with fenced(root), pytest.raises(HardLinked, match=r"\(2 names"):
        _rows(root / "bridge_linked" / PARQUET)


def test_the_corpus_itself_ingested_after_an_export_linked_its_files_is_read(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    """The corpus notes each file it links out (`note_linked`, `job/linked-out`): its dataset, a LeRobot source
    again, is read though its parquet has the export's name too (before: every linked parquet refused); an outside
    file linked in is not noted and stays refused, and so does a noted inode whose file changed since."""
    corpus, _ = exported
    ds = corpus / "datasets/oxe/bridge"
    assert (ds / PARQUET).stat().st_nlink >= 2  # the corpus's name and the export's (other tests add more)
    adapter = get_adapter("lerobot")
    refs = list(adapter.discover(ds))
    assert len(refs) == 2 and all(r.error is None for r in refs), [r.error for r in refs]
    with fenced(ds):
        assert sorted(len(next(iter(adapter.read(r).states.values())).values) for r in refs) == [5, 6]
    noted = (corpus / LINKED).read_text().splitlines()
    assert len(noted) == len(set(noted)) == 2  # one line per linked parquet
    assert main(["export", str(corpus), "--format", "gr00t", "--out", str(tmp_path / "again")]) == 0
    assert (corpus / LINKED).read_text().splitlines() == noted  # the same files linked again: noted once
    # a copy of the corpus whose parquet is an outside file's other name (c01), its log copied along
    root = tmp_path / "corpus"
    shutil.copytree(corpus, root, ignore=shutil.ignore_patterns("*.parquet"))
    shutil.copytree(ds / "data", root / "datasets/oxe/bridge/data", dirs_exist_ok=True)
    outside = tmp_path / "outside.parquet"
    shutil.copyfile(ds / PARQUET, outside)
    (root / "datasets/oxe/bridge" / PARQUET).unlink()
    os.link(outside, root / "datasets/oxe/bridge" / PARQUET)
    with fenced(root), pytest.raises(HardLinked, match="is a hard link"):
        _rows(root / "datasets/oxe/bridge" / PARQUET)
    with (root / LINKED).open("a") as log:  # a line naming the outside file's inode as it was: then it changed
        st = outside.stat()
        log.write(f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns + 1}\n")
    with fenced(root), pytest.raises(HardLinked, match="is a hard link"):
        _rows(root / "datasets/oxe/bridge" / PARQUET)


def _linked_files(tmp_path: Path, n: int) -> tuple[Path, list[Path]]:
    corpus = tmp_path / "c"
    files = [corpus / f"datasets/s/d/data/f{i}.parquet" for i in range(n)]
    for i, f in enumerate(files):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * (i + 1))
    return corpus, files


def test_a_note_another_exporter_appended_beside_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two exports noting at once: a line another appends between this one's read and its own append is not lost to
    this process's cache (before: the cache took the log's new size as its own line's, so the other's file was
    refused as a hard link here and noted once more)."""
    from adapters.storage import hard_links as hl

    corpus, (a, b, c) = _linked_files(tmp_path, 3)
    hl.note_linked(corpus, a)
    real_write = os.write

    def with_another(fd: int, data: bytes) -> int:  # the other exporter's line lands first
        with open(corpus / LINKED, "a") as other:
            other.write(hl._identity(os.stat(b)) + "\n")
        return real_write(fd, data)

    monkeypatch.setattr(hl.os, "write", with_another)
    hl.note_linked(corpus, c)
    monkeypatch.setattr(hl.os, "write", real_write)
    hl.note_linked(corpus, b)  # noted already by the other: not again
    lines = (corpus / LINKED).read_text().splitlines()
    assert len(lines) == len(set(lines)) == 3
    real_b = os.path.realpath(b)
    assert hl._linked_out(os.path.dirname(real_b), os.path.basename(real_b), os.stat(b))


def test_a_full_log_makes_a_copy_never_an_unnoted_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log past its bound is read as no evidence, so a line more would only be refused: noting refuses (EFBIG)
    and the export copies the file instead of linking it."""
    from adapters.storage import hard_links as hl
    from adapters.storage.corpus import Corpus

    corpus, (a, b) = _linked_files(tmp_path, 2)
    Corpus(corpus).copy_to(a, tmp_path / "out/a", link=True)
    assert (tmp_path / "out/a").stat().st_nlink == 2  # noted, then linked
    monkeypatch.setattr(hl, "_LOG_BYTES", 1)
    before = (corpus / LINKED).read_text()
    with pytest.raises(OSError, match="over 1 bytes"):
        hl.note_linked(corpus, b)
    Corpus(corpus).copy_to(b, tmp_path / "out/b", link=True)
    assert (tmp_path / "out/b").stat().st_nlink == 1 and (tmp_path / "out/b").read_bytes() == b.read_bytes()
    assert (corpus / LINKED).read_text() == before
