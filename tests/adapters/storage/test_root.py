"""The one storage handle: a folder resolved once, a URL kept as named, unknown schemes refused with one message, the
same calls on a folder and on an object store (fsspec's memory store stands for a bucket here; tests/s3/ run the
handle's views against SeaweedFS), and capabilities declared rather than asked by "is this a bucket?"."""

from __future__ import annotations

import os
import pickle
import uuid
from pathlib import Path

import pytest

from adapters.storage.locks import Holder
from adapters.storage.root import MAX_CHECKED, Root
from adapters.storage.urls import UnknownScheme
from schemas.containment import OutsideRoot
from schemas.faults import environment_fault
from schemas.storage import LockHeldError, SourceVanishedError, StorageOptions


def test_a_folder_is_resolved_once_and_can_replace_and_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    root = Root("corpus/")
    assert root.where == tmp_path.resolve() / "corpus" and root == Root(tmp_path / "corpus")
    assert root.replaces and root.renames and root.paths and root.why_not("replaces") is None
    assert Root("file://" + str(tmp_path / "corpus")).where == root.where
    assert root.refusal("replaces", "--overwrite") is None


def test_a_url_is_kept_as_named_and_declares_what_a_bucket_cannot() -> None:
    root = Root("s3://bucket/corpus/", StorageOptions(endpoint_url="http://127.0.0.1:1"))
    assert root.where == "s3://bucket/corpus" and root.url("datasets/a") == "s3://bucket/corpus/datasets/a"
    assert not root.replaces and not root.renames and not root.paths
    refused = root.refusal("replaces", "--overwrite")
    assert refused == "s3://bucket/corpus: --overwrite: objects in a bucket are never replaced"
    with pytest.raises(KeyError, match="not a storage capability"):
        root.why_not("immutable")
    again = pickle.loads(pickle.dumps(root))
    assert again == root and again.options == root.options


@pytest.mark.parametrize("url", ["s4://bucket/out", "gz2://x/y", "notascheme://a"])
def test_an_unknown_scheme_is_refused_with_one_message(url: str) -> None:
    scheme = url.split("://")[0]
    with pytest.raises(UnknownScheme, match=rf"^{url}: unknown storage scheme {scheme}:// \(a folder, file://"):
        Root(url)


@pytest.fixture(params=["folder", "object store"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Root:
    return Root(tmp_path) if request.param == "folder" else Root(f"memory://eidata-test-{uuid.uuid4().hex[:8]}/root")


def test_the_same_calls_read_and_write_a_folder_and_an_object_store(store: Root) -> None:
    assert not store.exists("meta/info.json") and store.list("meta") == []
    where = store.put("meta/info.json", b'{"fps": 10}')
    store.put("meta/tasks.jsonl", b"{}\n")
    assert str(where).endswith("meta/info.json") and store.url("meta/info.json") == where
    assert store.exists("meta/info.json") and store.read("meta/info.json") == b'{"fps": 10}'
    assert store.size("meta/info.json") == 11 and store.list("meta") == ["info.json", "tasks.jsonl"]
    assert store.read("meta/info.json", 2, 5) == b"fps" and store.info("meta/info.json")["size"] == 11
    store.put("meta/info.json", b"{}")
    assert store.read("meta/info.json") == b"{}"
    assert store.file(str(store.url("meta/info.json"))).read_bytes() == b"{}"  # a ref's path, as discovery wrote it
    assert store.file("meta/info.json").read_bytes() == b"{}"  # relative to the root
    assert (store.location("meta") / "info.json").read_bytes() == b"{}"
    assert store.keys() == ["meta/info.json", "meta/tasks.jsonl"] and store.keys("meta", "meta/info.json") == [
        "meta/tasks.jsonl"
    ]
    store.remove("meta/tasks.jsonl")
    store.fresh("meta")
    assert store.keys("meta") == ["meta/info.json"] and not store.exists("meta/tasks.jsonl")


def test_a_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    """`Root.file`, the one resolver adapters read through: `..`, an absolute path elsewhere, a symlink out, another
    bucket's URL all leave the root (`OutsideRoot`); the root itself and what lies under it do not."""
    (tmp_path / "root" / "a").mkdir(parents=True)
    (tmp_path / "secret").write_bytes(b"x")
    (tmp_path / "root" / "a" / "link").symlink_to(tmp_path / "secret")
    root = Root(tmp_path / "root")
    assert root.file(str(tmp_path / "root")) == root.where and root.file("a") == root.where / "a"
    for bad in ("../secret", str(tmp_path / "secret"), "a/link", "s3://bucket/root/a"):
        with pytest.raises(OutsideRoot):
            root.file(bad)
    bucket = Root("memory://eidata-test-root/prefix")
    assert str(bucket.file("memory://eidata-test-root/prefix/a/b.h5")) == "memory://eidata-test-root/prefix/a/b.h5"
    for bad in ("memory://eidata-test-root/prefix2/x", "memory://eidata-test-root/prefix/../x", "/etc/passwd"):
        with pytest.raises(OutsideRoot):
            bucket.file(bad)


def test_a_location_given_keeps_its_own_options() -> None:
    given = Root("s3://bucket/src", StorageOptions(endpoint_url="http://127.0.0.1:1")).location()
    root = Root(given, StorageOptions(endpoint_url="http://127.0.0.1:2"))
    assert root.location() is given and str(root.location("a/b.h5")) == "s3://bucket/src/a/b.h5"
    assert root.location("a").storage_options == given.storage_options


def test_folder_of_names_a_local_folder_only(tmp_path: Path) -> None:
    assert Root.folder_of(tmp_path / "out") == (tmp_path / "out").resolve()
    assert Root.folder_of("s3://bucket/out") is None and Root.folder_of("s4://bucket/out") is None


def test_lies_in_compares_folders_resolved_and_never_a_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        Root.lies_in("raw/corpus", tmp_path / "raw")
        and Root.lies_in(tmp_path, ".")
        and not Root.lies_in("raw", "raw/corpus")
    )
    assert not Root.lies_in("s3://bucket/raw/corpus", "s3://bucket/raw") and not Root.lies_in("s4://b/x", tmp_path)


def test_the_filesystem_is_opened_again_in_a_forked_or_unpickled_process(tmp_path: Path) -> None:
    root = Root(tmp_path)
    assert root.fs is not None and root.path == str(tmp_path.resolve())
    pid, _, path = root.__dict__["_opened"]
    root.__dict__["_opened"] = (pid + 1, None, path)  # as a forked DataLoader worker finds it
    assert root.fs is not None and root.__dict__["_opened"][0] == pid
    assert "_opened" not in pickle.loads(pickle.dumps(root)).__dict__  # a Ray worker opens its own


# ---- `Root.vanished`: a source changed under its reader, told from an episode's own defect ---------------------------


def _source_files(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "src"
    (root / "ep1").mkdir(parents=True)
    files = [root / "ep1/data.h5", root / "ep1/video.mp4"]
    for f in files:
        f.write_bytes(b"x")
    return root, [str(f) for f in files]


def test_a_source_as_discovered_is_not_vanished_even_with_a_sidecar_missing(tmp_path: Path) -> None:
    root, paths = _source_files(tmp_path)
    assert Root(root).vanished(paths) is None
    Path(paths[1]).unlink()  # one file gone (a sidecar the adapter expected): the episode's defect, not the source's
    assert Root(root).vanished(paths) is None
    assert Root(root).vanished([*paths[1:], str(root / "never.json")]) is not None  # ...unless none is left
    assert Root(root).vanished([]) is None


def test_a_root_gone_or_every_file_gone_is_said(tmp_path: Path) -> None:
    root, paths = _source_files(tmp_path)
    for p in paths:
        Path(p).unlink()
    why = Root(root).vanished(paths)
    assert why is not None and f"none of the episode's 2 discovered files exists any more (first: {paths[0]})" in why
    root.rename(tmp_path / "elsewhere")
    why = Root(root).vanished(paths)
    assert why is not None and f"the source root {root} is gone since discovery" in why


def test_its_error_is_the_environments(tmp_path: Path) -> None:
    """What the worker raises from a vanished source is an environment fault by its class (`faults.toml`)."""
    assert environment_fault(SourceVanishedError("gone")) == "SourceVanishedError: gone"


def test_only_the_first_files_are_looked_at(tmp_path: Path) -> None:
    root, paths = _source_files(tmp_path)
    many = [str(root / f"frame_{i}.png") for i in range(MAX_CHECKED)] + paths  # the real files past the checked ones
    assert Root(root).vanished(many) is not None


def test_one_discovered_file_gone_is_said_for_an_adapter_whose_refs_name_only_what_it_saw(tmp_path: Path) -> None:
    """`all_seen` (LeRobot's refs: a file missing at discovery flags the ref there): any one file gone since is the
    source's change (review 7 f6: `videos/` away for a moment), where without it a sidecar may be missing for good."""
    root, paths = _source_files(tmp_path)
    assert Root(root).vanished(paths, all_seen=True) is None
    Path(paths[1]).unlink()
    assert Root(root).vanished(paths) is None
    why = Root(root).vanished(paths, all_seen=True)
    assert why is not None and f"1 of the episode's 2 files discovery found are gone since (first: {paths[1]})" in why
    assert environment_fault(SourceVanishedError(why)) is not None


def test_a_lock_is_taken_with_its_holder_s_record_and_refused_naming_it(tmp_path: Path) -> None:
    """`Root.lock`: the lock file made with its folder and this process's record written in it; a taker that may not
    wait is refused naming the holder (pid, command, since when); a bucket holds no lock file."""
    fd = Root(tmp_path).lock("ds/.eidata/writer.lock")
    try:
        record = Holder.parse((tmp_path / "ds/.eidata/writer.lock").read_text())
        assert record is not None and record.pid == str(os.getpid()) and record.since.endswith(" UTC")
        with pytest.raises(LockHeldError) as refused:
            Root(tmp_path).lock("ds/.eidata/writer.lock", wait_s=0)
        assert refused.value.pid == str(os.getpid()) and refused.value.holder == str(record)
    finally:
        os.close(fd)
    os.close(Root(tmp_path).lock("ds/.eidata/writer.lock", wait_s=0))  # closed: free again
    with pytest.raises(ValueError, match=r"a lock on job\.lock: it is read and written through an object store"):
        Root("s3://bucket/corpus", StorageOptions(endpoint_url="http://127.0.0.1:1")).lock("job.lock")
