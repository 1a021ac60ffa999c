"""`adapters.storage.tree`: an output folder (`Tree`: a tree written beside it and renamed into place), and an object
store's tree (`ObjectStore`) on a local folder standing for the bucket (the conditional create is `O_EXCL` there; the
S3 server's runs are tests/s3/test_export_v3.py and test_export_lingbot.py): a tree's files, then the keys it no longer
has deleted, then `info.json`, then the completion record; a tree stopped anywhere is not complete and its rewrite
gives the files of an uninterrupted one; an older complete tree loses its record and `info.json` first."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.object_store import ObjectStore
from adapters.storage.stores import PARTIAL
from adapters.storage.tree import PlanTree, Tree
from schemas.storage import MARKER, DryRunWriteError, OutputLeasedError

INFO = "meta/info.json"
LAST = [INFO, MARKER]


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".eidata" not in p.relative_to(root).parts
    }


def _publish(target: ObjectStore, files: dict[str, bytes], first: list[str]) -> None:
    """A tree `ds` as an export publishes it: `first` put as they are finished, the rest at the end."""
    target.begin("ds", retract=LAST)
    _write(target.local("ds"), files)
    for rel in first:
        target.put_file("ds", target.local("ds") / rel)
    target.finish("ds", last=LAST)


V1 = {"data/file-000.parquet": b"a" * 10, "data/file-001.parquet": b"b" * 5, INFO: b'{"v": 1}', MARKER: b"fp1"}
V2 = {"data/file-000.parquet": b"A" * 10, "videos/file-000.mp4": b"v", INFO: b'{"v": 2}', MARKER: b"fp2"}


class Stop(Exception):
    """Raised after a put: the publish stops where a kill would have stopped it."""


def test_a_tree_is_published_whole_and_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Tree(str(out), store=ObjectStore(str(out), scratch=tmp_path / "scratch", job="export-test")) as tree:
        target = tree.store
        _publish(target, V1, first=["data/file-000.parquet"])
        assert not target.local("ds").exists()  # the scratch copy is gone once published
        assert _files(out / "ds") == V1 and tree.read(f"ds/{MARKER}") == b"fp1"
        assert (target.stats.put, target.stats.deleted) == (4, 0)
        _publish(target, V2, first=[])
        assert _files(out / "ds") == V2  # the file V2 does not have is deleted, the one with other bytes replaced
        assert (target.stats.put, target.stats.replaced, target.stats.deleted) == (7, 1, 1)
        _publish(target, V2, first=[])
        assert target.stats.kept == 2  # the same bytes: nothing sent (info.json and the record, retracted, put again)


def test_a_stopped_tree_is_not_complete_and_its_rerun_finishes_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Tree(str(out), store=ObjectStore(str(out), scratch=tmp_path / "scratch", job="export-test")) as tree:
        target = tree.store
        _publish(target, V1, first=[])
    for stop_after in range(1, len(V2)):
        with Tree(str(out), store=ObjectStore(str(out), scratch=tmp_path / "scratch", job="export-test")) as tree:
            target = tree.store
            real, n = target.put_file, {"puts": 0}

            def put(tree: str, local: Path, real=real, n=n, stop_after=stop_after, **kw: object) -> None:
                real(tree, local, **kw)
                n["puts"] += 1
                if n["puts"] == stop_after:
                    raise Stop

            target.put_file = put  # type: ignore[method-assign]
            with pytest.raises(Stop):
                _publish(target, V2, first=[])
            left = _files(out / "ds")
            assert MARKER not in left  # the old record went first: the mix is never complete
            assert left.get(INFO) in (None, V2[INFO])  # the old info.json went second
        with Tree(str(out), store=ObjectStore(str(out), scratch=tmp_path / "scratch", job="export-test")) as tree:
            target = tree.store
            _publish(target, V2, first=[])
        assert _files(out / "ds") == V2


def test_one_job_per_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Tree(str(out), store=ObjectStore(str(out), scratch=tmp_path / "a", job="export-a")):
        with pytest.raises(OutputLeasedError, match="export-a"):
            with Tree(str(out), store=ObjectStore(str(out), scratch=tmp_path / "b", job="export-b")):
                pytest.fail("a second export ran on the output")


def test_a_folder_s_tree_is_written_beside_it_and_renamed_into_place(tmp_path: Path) -> None:
    """A folder output: the tree is written in a partial sibling and replaces the old one only when complete; a
    failure leaves the old tree and no partial; `keep` drops a killed run's partials; a tree written in place and
    published keeps its files and gets no completion record (its files are resumed one by one)."""
    with Tree.open(tmp_path / "out", None, "export-test") as out:
        assert type(out) is Tree and out.where == tmp_path / "out"
        with out.write("a/ds", retract=LAST, last=LAST) as folder:
            assert folder.parent == tmp_path / "out/a" and folder.name.startswith(f".ds{PARTIAL}")
            _write(folder, V1)
            out.closed("a/ds", folder / INFO)  # a folder's file stays where it is written
            assert not (tmp_path / "out/a/ds").exists()
        assert _files(tmp_path / "out/a/ds") == V1 and out.read(f"a/ds/{MARKER}") == b"fp1"
        with pytest.raises(Stop), out.write("a/ds") as folder:
            _write(folder, V2)
            raise Stop
        assert _files(tmp_path / "out/a/ds") == V1 and [p.name for p in (tmp_path / "out/a").iterdir()] == ["ds"]
        (tmp_path / f"out/a/.ds{PARTIAL}deadbeef").mkdir()
        out.keep("a/ds")
        assert [p.name for p in (tmp_path / "out/a").iterdir()] == ["ds"]
        with out.write("a/ds") as folder:
            _write(folder, V2)
        assert _files(tmp_path / "out/a/ds") == V2 and out.read("a/ds/none") is None
        _write(tmp_path / "out/b", {INFO: b"{}"})
        out.publish("b", retract=LAST, last=[INFO], record=b"fp")
        out.fetch(INFO)
        assert _files(tmp_path / "out/b") == {INFO: b"{}"}


def test_a_dry_run_s_output_plans_and_refuses_every_change(tmp_path: Path) -> None:
    """`Tree.open(..., dry_run=True)`: the same handle, only read: `fill` records the tree's estimate and never calls
    its writer, a killed run's partial stays, and writing, publishing or closing a file raises naming the output."""
    with Tree.open(tmp_path / "out", None, "export-test") as out:
        assert out.fill("a/ds", lambda folder: _write(folder, V1), lambda: 0, retract=LAST, last=LAST)
    (tmp_path / f"out/a/.ds{PARTIAL}killed").mkdir()
    before = sorted((p.as_posix(), p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*"))
    with Tree.open(tmp_path / "out", None, "export-test", dry_run=True) as plan:
        assert isinstance(plan, PlanTree) and plan.where == tmp_path / "out"
        assert plan.read(f"a/ds/{MARKER}") == b"fp1"  # a plan says which trees are unchanged
        called: list[Path] = []
        assert not plan.fill("a/ds", called.append, lambda: 1234, retract=LAST, last=LAST)
        assert not plan.fill("b", called.append, lambda: 5)
        assert plan.planned == {"a/ds": 1234, "b": 5} and not called
        plan.keep("a/ds")
        for change in (
            lambda: plan.write("a/ds"),
            lambda: plan.publish("a/ds", retract=LAST),
            lambda: plan.publish_file(INFO),
            lambda: plan.closed("a/ds", tmp_path / INFO),
        ):
            with pytest.raises(DryRunWriteError, match=f"{tmp_path / 'out'}: a dry run writes nothing"):
                change()
    assert sorted((p.as_posix(), p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*")) == before
    with Tree.open(tmp_path / "none", None, "export-test", dry_run=True) as plan:
        assert plan.read(INFO) is None and not (tmp_path / "none").exists()
