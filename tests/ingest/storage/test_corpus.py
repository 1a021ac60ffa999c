"""The corpus handle on a local folder: what every job relies on without asking where the corpus lives (the bucket's
`BucketCorpus` is tested against the S3 server in tests/s3/: test_catalog.py, test_ingest_bucket.py)."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pytest

from ingest.storage.corpus import Corpus, open_corpus, read_corpus
from ingest.storage.digests import FileDigests


def test_a_folder_opens_as_itself_and_names_itself(tmp_path: Path) -> None:
    with open_corpus(tmp_path, None, "caption") as corpus:
        assert corpus.root == tmp_path and corpus.where == tmp_path
        assert corpus.source(tmp_path / "datasets/a/b/x.mp4") == str(tmp_path / "datasets/a/b/x.mp4")
        assert corpus.where_of("manifests/m") == tmp_path / "manifests/m"
    with read_corpus(str(tmp_path)) as corpus:
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
    ds = tmp_path / "datasets/src/sub"
    (ds / "data").mkdir(parents=True)
    (ds / "data/a.bin").write_bytes(b"abc")
    corpus = Corpus(tmp_path)
    digests = corpus.digests(ds)
    assert isinstance(digests, FileDigests)
    size, sha = digests.digest(ds, "data/a.bin")
    assert size == 3 and sha == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    assert corpus.committed(ds, ["data/a.bin", "data/b.bin"]) == {"data/a.bin"}
    assert corpus.publish_files([ds / "data/a.bin"], "latents") == 0


def test_the_handle_travels_to_a_worker(tmp_path: Path) -> None:
    back = pickle.loads(pickle.dumps(Corpus(tmp_path)))
    assert back.root == tmp_path and back.options is None
