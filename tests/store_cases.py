"""What the object-store tests share whatever the store (tests/s3 against SeaweedFS, tests/gcs against the GCS
emulator): a folder put under a bucket prefix, the deep comparison of what an adapter read from local disk with what
it read from a URL, and the demo's ingest job on local roots beside the same job on URL roots."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import yaml
from pydantic import BaseModel

from adapters import get_adapter
from adapters.base import AdapterError, CameraSource, EpisodeRef, RawEpisode
from adapters.storage.corpus import Corpus
from adapters.storage.location import Location, Where
from adapters.storage.reads import ReadMeter
from adapters.storage.urls import filesystem
from jobs.catalog.query import run_query
from jobs.demo.corpus import ADAPTERS, OPTIONS, SOURCES, write_demo_spec, write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.storage import StorageOptions

# the demo's sources (jobs.demo.corpus.SOURCES) read from a URL: so101 is a dataset inside the lerobot source's root
# robomimic (the arrays adapter) reads from a bucket as from disk, but fetched 6.65x the bytes it used (13.0 MB for
# 1.96 MB: each of its opens of the small file fetches the 1 MiB blocks of its scattered HDF5 object headers), past
# the 2x bound below: left out until the adapter opens a file once per read (issue 49 notes, h49)
URL_SOURCES = ("bridge", "agibot", "ego4d", "egodex", "lerobot", "epic_kitchens", "ego_video", "hot3d", "robomind")


def put_tree(fs: fsspec.AbstractFileSystem, folder: Path, base: str) -> None:
    """Every file under `folder` to `base/<relative path>` (base: bucket/prefix, no protocol)."""
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        fs.put_file(str(f), f"{base}/{f.relative_to(folder).as_posix()}")


def put_url(folder: Path, url: str, options: StorageOptions) -> str:
    """Every file under `folder` put under `url` (s3://bucket/prefix, gs://...)."""
    fs, path = filesystem(url, options)
    put_tree(fs, folder, path)
    return url


def demo_corpus(raw: Path, url: str, options: StorageOptions) -> dict[str, Any]:
    """`make demo`'s raw corpus written to `raw` and put under `url`: its folder, the sources' local roots and URLs."""
    roots = write_raw_corpus(raw, sources=SOURCES)
    put_url(raw, url, options)
    urls = {name: f"{url}/{root.relative_to(raw).as_posix()}" for name, root in roots.items()}
    return {"raw": raw, "roots": roots, "urls": urls, "base": url, "storage": options}


def same(a: Any, b: Any, where: str, swap: tuple[str, str]) -> None:
    """a (local) equals b (bucket) in every array bit for bit, strings once the bucket prefix reads as the folder."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, str):
        assert a == b.replace(*swap), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, CameraSource):
        assert type(a) is type(b), where
        for k in ("name", "canonical", "height", "width", "timestamps", "intrinsics"):
            same(getattr(a, k), getattr(b, k), f"{where}.{k}", swap)
        frames_a, frames_b = list(a.frames()), list(b.frames())
        assert [i for i, _ in frames_a] == [i for i, _ in frames_b], where
        for (i, fa), (_, fb) in zip(frames_a, frames_b, strict=True):
            same(fa, fb, f"{where} frame {i}", swap)
    elif isinstance(a, BaseModel):
        same(a.model_dump(), b.model_dump(), where, swap)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}", swap)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}: {a!r} != {b!r}"
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]", swap)
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]", swap)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def read_or_error(adapter: Any, ref: EpisodeRef) -> RawEpisode | str:
    """The episode, or the adapter's refusal as text (a flagged episode must be refused the same way from a URL)."""
    try:
        return adapter.read(ref)
    except AdapterError as e:
        return f"AdapterError: {e}"


def compare_source(
    adapter: str,
    options: dict[str, Any] | None,
    local_root: Path,
    url: Where,
    swap: tuple[str, str],
    limit: int = 0,
    *,
    storage: StorageOptions | None,
) -> tuple[list[EpisodeRef], ReadMeter, ReadMeter]:
    """Discover and read one source from local disk and from its URL (a fresh adapter each side, nothing cached from
    discover) and assert the same refs and the same episodes (`same`); returns the local refs and what discovering and
    reading from the URL fetched (`metering`). `limit`: read only the first so many episodes."""
    local = sorted(get_adapter(adapter, options).discover(local_root), key=lambda r: r.sort_key)
    with Location.metering() as listed:
        remote = sorted(get_adapter(adapter, options, storage).discover(url), key=lambda r: r.sort_key)
    same(local, remote, f"{adapter} refs", swap)
    on_disk, on_store = get_adapter(adapter, options), get_adapter(adapter, options, storage)
    pairs = list(zip(local, remote, strict=True))[: limit or None]
    with Location.metering() as meter:
        for a_ref, b_ref in pairs:
            same(read_or_error(on_disk, a_ref), read_or_error(on_store, b_ref), f"{adapter} {a_ref.raw_id}", swap)
    return local, listed, meter


def check_source_reads_as_from_disk(corpus: dict[str, Any], name: str) -> None:
    """Demo source `name` of `demo_corpus` read through its URL gives the local read; no byte of an open object is
    fetched twice (the block cache holds what its reader goes back to), and what the store sent is at most twice what
    the readers took: these objects are smaller than one 1 MiB block, so an open fetches the whole object (robomind's
    readers take 53% of its HDF5 files; large files: tests/s3/test_reads.py)."""
    swap = (corpus["base"], str(corpus["raw"]))
    local, listed, meter = compare_source(
        ADAPTERS[name], OPTIONS.get(name), corpus["roots"][name], corpus["urls"][name], swap, storage=corpus["storage"]
    )
    assert len(local) >= 2 and sum(r.error is None for r in local) >= 1
    print(f"{name}: discover {listed}, read {meter}")
    assert 0 < meter.fetched <= meter.size and meter.fetched <= 2 * meter.used, meter


def ingest_local_and_from_url(tmp_path: Path, url: str, storage: dict[str, Any]) -> None:
    """`make demo`'s ingest job twice, with a local output: on the raw corpus on disk (out_local) and with every
    source's root the same folder under `url` and `storage` its options (out_url); the URL run wrote the local run's
    dataset files byte for byte, but the lineage's raw_path, which names where the raw file was read (the URL where
    the local run names the folder); the same written, quarantined and frame counts per source."""
    raw = tmp_path / "raw"
    roots = demo_corpus(raw, url, StorageOptions.model_validate(storage))["roots"]
    reports = {}
    for kind in ("local", "url"):
        spec_path = write_demo_spec(tmp_path / f"{kind}.yaml", roots, tmp_path / f"out_{kind}")
        if kind == "url":
            doc = yaml.safe_load(spec_path.read_text())
            for source in doc["sources"]:
                source["root"] = f"{url}/{Path(source['root']).relative_to(raw.resolve()).as_posix()}"
                source["storage"] = dict(storage)  # one dict each: a shared one dumps as a YAML alias
            spec_path.write_text(yaml.safe_dump(doc, sort_keys=False))
        reports[kind] = run_ingest(load_spec(spec_path), progress=False)
    local, remote = dataset_files(tmp_path / "out_local"), dataset_files(tmp_path / "out_url")
    assert local.keys() == remote.keys() and len(local) > 90
    swap = (url.encode(), str(raw.resolve()).encode())
    for name in local:
        theirs = remote[name].replace(*swap) if name.endswith("meta/episodes.jsonl") else remote[name]
        assert local[name] == theirs, name
    assert any(f"{url}/".encode() in remote[n] for n in remote if n.endswith("episodes.jsonl"))
    tally = {k: {s: (t.written, t.quarantined, t.frames) for s, t in r.tallies.items()} for k, r in reports.items()}
    assert tally["local"] == tally["url"] and all(w > 0 and q > 0 for w, q, _ in tally["local"].values())


def dataset_files(out: Path) -> dict[str, bytes]:
    """Every file under a corpus's datasets/, by its path relative to the corpus."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / "datasets").rglob("*")) if p.is_file()}


def bucket_query(url: str, sql: str, options: StorageOptions | None, **kw: bool) -> pa.Table:
    """`run_query` on a bucket corpus's catalog as `eidata query URL` reads it (`Corpus.read`'s local copy)."""
    with Corpus.read(url, options) as corpus:
        return run_query(corpus.root, sql, **kw)
