"""The corpus handle on a local folder: what every job relies on without asking where the corpus lives (the bucket's
A bucket's corpus is tested against the S3 server in tests/s3/: test_catalog.py, test_ingest_bucket.py)."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path
from typing import Annotated

import pytest
import torch
from pydantic import BaseModel, BeforeValidator, ValidationError
from safetensors.torch import save_file

from adapters.storage.corpus import Corpus
from adapters.storage.digests import FileDigests
from schemas.storage import NotACorpus


def test_a_folder_opens_as_itself_and_names_itself(tmp_path: Path) -> None:
    with Corpus.open(tmp_path, None, "caption") as corpus:
        assert corpus.root == tmp_path and corpus.where == tmp_path
        assert corpus.source(tmp_path / "datasets/a/b/x.mp4") == str(tmp_path / "datasets/a/b/x.mp4")
        assert corpus.where_of("manifests/m") == tmp_path / "manifests/m"
    with pytest.raises(NotACorpus, match="not an eidata corpus"):  # neither datasets/ nor catalog/: a raw folder
        with Corpus.read(str(tmp_path)):
            pass
    (tmp_path / "datasets").mkdir()
    with Corpus.read(str(tmp_path)) as corpus:
        assert corpus.root == tmp_path


def test_put_is_whole_and_an_exclusive_put_has_one_winner(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path)
    assert corpus.put("manifests/m/manifest.json", b"first", exclusive=True) == tmp_path / "manifests/m/manifest.json"
    with pytest.raises(FileExistsError, match="already exists"):
        corpus.put("manifests/m/manifest.json", b"second", exclusive=True)
    assert corpus.read_bytes("manifests/m/manifest.json") == b"first"
    corpus.put("manifests/m/manifest.json", b"replaced")
    assert corpus.read_bytes("manifests/m/manifest.json") == b"replaced"
    assert [p.name for p in (tmp_path / "manifests/m").iterdir()] == ["manifest.json"]  # no temp file left

    wins: list[bool] = []

    def race(i: int) -> None:
        try:
            corpus.put("manifests/r/manifest.json", f"writer {i}".encode(), exclusive=True)
            wins.append(True)
        except FileExistsError:
            wins.append(False)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert corpus.read_bytes("manifests/r/manifest.json").startswith(b"writer ")


def test_digests_hash_the_files_and_committed_means_present(tmp_path: Path) -> None:
    """Digests of a folder's files are hashed; a derived file is committed when present, with its safetensors
    metadata (a file whose header cannot be read: {}, which no stage takes for its own encoding)."""
    ds = tmp_path / "datasets/src/sub"
    (ds / "data").mkdir(parents=True)
    (ds / "data/a.bin").write_bytes(b"abc")
    corpus = Corpus(tmp_path)
    digests = corpus.digests(ds)
    assert isinstance(digests, FileDigests)
    size, sha = digests.digest(ds, "data/a.bin")
    assert size == 3 and sha == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    save_file({"x": torch.zeros(2)}, ds / "data/c.safetensors", metadata={"model": "m", "layer": "-1"})
    names = ["data/a.bin", "data/b.bin", "data/c.safetensors"]
    assert corpus.committed(ds, names) == {"data/a.bin": {}, "data/c.safetensors": {"layer": "-1", "model": "m"}}
    assert corpus.storage.replaces  # a folder's derived files may be replaced
    assert corpus.publish_files([ds / "data/a.bin"], "latents") == 0


def test_the_handle_travels_to_a_worker(tmp_path: Path) -> None:
    back = pickle.loads(pickle.dumps(Corpus(tmp_path)))
    assert back.root == tmp_path and back.options is None


def test_a_stage_refuses_a_folder_without_datasets_before_writing(tmp_path: Path) -> None:
    with pytest.raises(NotACorpus, match=f"{tmp_path / 'nothing'}: no datasets/ folder; not a corpus"):
        with Corpus.open(tmp_path / "nothing", None, "latents", existing=True):
            pytest.fail("opened")
    assert not (tmp_path / "nothing").exists()
    (tmp_path / "datasets").mkdir()
    with Corpus.open(tmp_path, None, "latents", existing=True) as corpus:
        assert corpus.root == tmp_path


class _Job(BaseModel):
    root: Annotated[Path | str, BeforeValidator(Corpus.where_value)]


def test_a_root_is_a_folder_or_an_s3_url() -> None:
    assert _Job(root="corpus").root == Path("corpus")
    assert _Job(root="s3://out/corpus/").root == "s3://out/corpus"  # a string: a Path would fold its //
    with pytest.raises(ValidationError, match="must be s3://"):
        _Job(root="gs://out/corpus")


def test_a_file_s_size_identity_and_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an export asks of a corpus file: its size, a line identifying it to a rerun (path in the corpus, size,
    time: a change of either makes the export again), and a local copy, a hard link where allowed, kept when it is
    there already."""
    corpus, src = Corpus(tmp_path), tmp_path / "datasets/a/b/videos/e.mp4"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"video")
    assert corpus.size(src) == 5
    assert corpus.sizes(tmp_path / "datasets/a/b", ["videos/e.mp4", "videos/e.mp4"]) == [5, 5]  # a folder's files
    st = src.stat()
    assert corpus.identity(src) == f"datasets/a/b/videos/e.mp4|5|{st.st_mtime_ns}"
    assert corpus.identity(tmp_path / "missing.json") == "missing.json|-1|-1"
    # the line does not depend on how the corpus is spelled (issue 59: a relative ROOT rewrote the whole export)
    monkeypatch.chdir(tmp_path / "datasets")
    assert Corpus(Path("../")).identity(Path("../datasets/a/b/videos/e.mp4")) == corpus.identity(src)
    assert corpus.identity(tmp_path.parent / "elsewhere") == f"{tmp_path.parent / 'elsewhere'}|-1|-1"
    linked, copied = tmp_path / "out/e.mp4", tmp_path / "out/copy.mp4"
    corpus.copy_to(src, linked, link=True)
    assert os.path.samefile(src, linked)
    corpus.copy_to(src, linked, link=True)  # a rerun: already there
    corpus.copy_to(src, copied)
    assert copied.read_bytes() == b"video" and not os.path.samefile(src, copied)
