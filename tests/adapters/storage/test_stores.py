"""`adapters.storage.stores`: the store of a corpus or an output is chosen once from its `Root`'s capabilities, and
the handles built on it (`Corpus`, `Tree`) ask nothing else: a folder's keeps files where they lie, an object store's
(no rename) works in a scratch. The behaviour of each is tested through its handle (test_corpus.py, test_tree.py and
tests/s3/)."""

from __future__ import annotations

import pickle
from pathlib import Path

from adapters.storage.corpus import Corpus
from adapters.storage.object_store import ObjectStore
from adapters.storage.root import Root
from adapters.storage.stores import FolderStore, store_for
from adapters.storage.tree import Tree


def test_a_folder_is_kept_by_a_folder_store_as_its_user_spelled_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = store_for(Root("corpus"), "corpus")
    assert type(store) is FolderStore and store.where == Path("corpus")  # not resolved: messages name it as given
    assert type(Corpus(Path("corpus")).store) is FolderStore and type(Tree(Path("out")).store) is FolderStore


def test_an_object_store_is_kept_through_a_scratch_and_its_lease_stays_home(tmp_path: Path) -> None:
    url = "s3://bucket/corpus"
    store = store_for(Root(url), url, tmp_path / "scratch", job="ingest")
    assert type(store) is ObjectStore and store.where == url and store.root == tmp_path / "scratch"
    corpus = Corpus(tmp_path / "scratch", Root(url), store)
    assert corpus.where == url and corpus.source(tmp_path / "scratch/datasets/a/b/x.mp4") == f"{url}/datasets/a/b/x.mp4"
    back = pickle.loads(pickle.dumps(corpus))  # to a Ray worker: a store of its own, no lease
    assert back._store is None and type(back.store) is ObjectStore and back.store is not store
    assert back.source(tmp_path / "scratch/datasets/a/b/x.mp4") == f"{url}/datasets/a/b/x.mp4"


def test_a_record_names_the_corpus_as_its_user_gave_it(tmp_path: Path, monkeypatch) -> None:
    """`Corpus.named` (the `source` of an export's completion record): a bucket corpus's dataset by its URL, never the
    scratch its local copy lies in (a path gone after the run, another on the next: the tree it closes differed from
    run to run); a folder's by its absolute path however the user spelled the folder."""
    url, scratch = "s3://bucket/corpus", tmp_path / "scratch"
    corpus = Corpus(scratch, Root(url), store_for(Root(url), url, scratch, job="export"))
    assert corpus.named(scratch / "datasets/a/b") == f"{url}/datasets/a/b"
    (tmp_path / "corpus/datasets/a/b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    folder = Corpus(Path("corpus"))
    assert folder.named(Path("corpus/datasets/a/b")) == str(tmp_path.resolve() / "corpus/datasets/a/b")
