"""The files of a manifest's corpus as training reads them: one handle (`CorpusFiles.of_manifest`, a view of
`Root`), a folder's files read in place, a URL's through the bounded cache. From a bucket:

- the index reads meta whole, lists each dataset's `data/` and `latents/` once (size and version of every object: no
  HEAD per file), and reads a latents file's safetensors header and `frame_index` by ranged GETs, never the latents;
- a parquet data file is read through pyarrow on a seekable fsspec file object with small blocks, so only its footer
  and the `action`/`state` column chunks are fetched, and that projection is kept in the local cache as a parquet;
- latents and text-embedding files are copied whole into the cache on first use (safetensors memory-maps a path).

So the first epoch fetches what it touches once and the second fetches nothing while the cache holds the working set.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import fsspec.asyn
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.storage.object_cache import Cache, entry_name, write_all
from adapters.storage.reads import ReadMeter, open_seekable
from adapters.storage.root import Root
from adapters.storage.urls import preflight
from schemas.episode_lines import skipped, wanted
from schemas.storage import StorageOptions

T = TypeVar("T")
Where = Path | str  # a local path, or an object's URL (no credential in it)

PARQUET_BLOCK = 64 << 10  # small blocks: a footer and two column chunks, not the whole file
HEADER_READ = 16 << 10  # a safetensors file's first ranged GET: header and an 8-aligned I64 frame_index (stored first)
DEFAULT_CACHE = "~/.cache/eidata/train"  # a bucket's cache folder when none is given
LISTED = ("meta", "data", "latents")  # a dataset's folders that training opens (text embeddings: under latents/)


# fsspec's io thread and loop are the parent's in a forked child (a DataLoader worker of the default start method),
# where waiting on them hangs: reset them in every forked child, as fsspec.asyn.reset_lock's docstring asks
os.register_at_fork(after_in_child=fsspec.asyn.reset_lock)


class CorpusFiles:
    """The files of the corpus at `root` (a folder, read in place; a URL: its filesystem, listed versions and the
    bounded `cache`); errors name files by path or URL, never the options (a secret among them)."""

    def __init__(self, root: Where, options: StorageOptions | None = None, cache: Cache | None = None) -> None:
        self.storage = Root(root, options)  # the one handle (`adapters.storage.root`)
        self.root: Where = self.storage.where
        self.options, self.cache = options, cache
        self.meter = ReadMeter()  # this process's fetches from the store (the cache's fetch log counts all of them)
        self._objects: dict[str, tuple[int, str]] = {}  # URL -> (size, version) from the listings
        self._listed: set[str] = set()  # folder URLs listed: what they lack does not exist

    @property
    def fs(self) -> Any:
        """The store's filesystem, made in this process (`Root.fs`: a DataLoader worker opens its own)."""
        return self.storage.fs

    def join(self, *parts: str) -> Where:
        """The corpus file or folder at `parts` (relative to the root)."""
        return self.storage.url("/".join(p.strip("/") for p in parts))

    @staticmethod
    def _key(where: Where) -> str:
        return str(where).split("://", 1)[-1]

    def _rel(self, where: Where) -> str:
        """`where` (a path or URL of this corpus, as a caller spelled it) relative to the root, for `Root`'s calls."""
        return os.path.relpath(self._key(where), self.storage.path)

    def list_dataset(self, dataset_root: Where) -> None:
        """Remember size and version (ETag) of every object under the dataset's meta/, data/ and latents/: one
        listing each (a LIST per 1000 keys), so no file costs a HEAD. A folder is asked in place."""
        if self.cache is None:
            return
        for folder in LISTED:
            prefix = self._key(f"{dataset_root}/{folder}")
            self._listed.add(f"{dataset_root}/{folder}/")
            self.storage.fresh(self._rel(prefix))
            try:
                found = self.fs.find(prefix, detail=True)
            except FileNotFoundError:
                continue
            self.meter.requests += 1 + len(found) // 1000
            for key, info in found.items():
                if info.get("type") == "file":
                    version = str(info.get("ETag") or info.get("LastModified") or info.get("mtime"))
                    url = f"{str(self.root).split('://', 1)[0]}://{key}"
                    self._objects[url] = (int(info["size"]), version)

    def is_file(self, where: Where) -> bool:
        """Whether the listing of its folder holds it (outside a listed folder: a HEAD)."""
        url = str(where)
        if url in self._objects:
            return True
        if any(url.startswith(folder) for folder in self._listed):
            return False
        self.meter.requests += 1
        return self.fs.isfile(self._key(url))

    def read_bytes(self, where: Where) -> bytes:
        """A whole small file (meta)."""
        data = self.storage.read(self._rel(where))
        self.meter.fetched += len(data)
        self.meter.used += len(data)
        self.meter.requests += 1
        return data

    def jsonl(self, where: Where, episodes: Collection[int] | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(line number, object) of each non-empty line (with `episodes`, those of its episodes only, the others
        unparsed: `schemas.episode_lines`); a bad line read names the file and the line."""
        out = []
        for lineno, raw in enumerate(self.read_bytes(where).splitlines(), start=1):
            if raw.strip() and not skipped(raw, episodes):
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    why = e.msg if isinstance(e, json.JSONDecodeError) else "not UTF-8"
                    raise ValueError(f"{where}:{lineno}: not valid JSON ({why})") from e
                if wanted(obj, episodes):
                    out.append((lineno, obj))
        return out

    def safetensors_meta(self, where: Where, tensor: str | None) -> tuple[dict[str, Any], np.ndarray]:
        """(header, values of `tensor`) of a safetensors file by ranged reads (no `tensor`: the header alone)."""
        size = self._objects.get(str(where), (None,))[0] or self.storage.size(self._rel(where))
        head = self._range(where, 0, min(HEADER_READ, size))
        if len(head) < 8:
            raise ValueError(f"{len(head)} bytes: too short for a safetensors header")
        n = struct.unpack("<Q", head[:8])[0]
        if 8 + n > size:
            raise ValueError(f"header length {n} past the end of the {size}-byte file")
        if 8 + n > len(head):
            head += self._range(where, len(head), 8 + n)
        header = json.loads(head[8 : 8 + n])
        if tensor is None:
            self.meter.used += 8 + n
            return header, np.zeros(0)
        info = header[tensor]
        start, end = (8 + n + int(o) for o in info["data_offsets"])
        data = head[start:end] if end <= len(head) else self._range(where, start, end)
        self.meter.used += 8 + n + len(data)
        dtype = {"I64": "<i8", "I32": "<i4", "F32": "<f4"}[info["dtype"]]
        return header, np.frombuffer(data, dtype=dtype).reshape(info["shape"])

    def _range(self, where: Where, start: int, end: int) -> bytes:
        data = self.storage.read(self._rel(where), start, end)
        self.meter.fetched += len(data)
        self.meter.requests += 1
        return data

    def columns(self, where: Where, columns: list[str]) -> pa.Table:
        """Those columns of a parquet file (a bucket's: its cached projection, fetched by ranged reads once)."""
        if self.cache is None:
            return pq.read_table(where, columns=columns)
        url = str(where)
        name = entry_name(url, self._version(url), ",".join(columns))

        def fetch() -> Path:
            with open_seekable(self.fs, self._key(url), block_size=PARQUET_BLOCK, meter=(m := ReadMeter())) as f:
                table = pq.ParquetFile(f).read(columns=columns)
            self.meter.add(m)
            buf = io.BytesIO()
            pq.write_table(table, buf)
            data = buf.getvalue()
            assert self.cache is not None  # checked above, for mypy inside the closure
            return self.cache.put(name, len(data), lambda fd: write_all(fd, data), what=url, fetched=m.fetched)

        return self.cache.use(name, fetch, lambda p: pq.read_table(p, columns=columns))

    def use(self, where: Where, read: Callable[[str], T]) -> T:
        """`read(local path)` of a file: the path itself, or a bucket object's cached whole copy."""
        if self.cache is None:
            return read(str(where))
        url = str(where)
        size, version = self._objects.get(url) or (self.storage.size(self._rel(url)), self._version(url))
        return self.cache.copy(
            self.fs, self._key(url), lambda p: read(str(p)), what=url, version=version, size=size, meter=self.meter
        )

    def _version(self, url: str) -> str:
        if url not in self._objects:
            info = self.storage.info(self._rel(url))
            self.meter.requests += 1
            self._objects[url] = (int(info["size"]), str(info.get("ETag") or info.get("LastModified")))
        return self._objects[url][1]

    @staticmethod
    def of_manifest(
        manifest: Where, options: StorageOptions | None = None, *, cache_dir: str | None = None, cache_bytes: int
    ) -> tuple[CorpusFiles, Where]:
        """(the files of the corpus holding the manifest folder or URL `manifest`, the manifest as they name it). The
        corpus is the manifest's grandparent (`<corpus>/manifests/<name>`). A bucket's is checked before anything is
        made (bucket, credential, the manifest's prefix: `StorageError`, never naming the secret) and read through the
        cache folder `cache_dir` (else ~/.cache/eidata/train) of at most `cache_bytes`."""
        root = Root(manifest, options)
        if root.local:
            return CorpusFiles(root.where.parent.parent), Path(manifest)  # type: ignore[union-attr]
        url = str(root.where)
        preflight(url, options)
        folder = cache_dir or DEFAULT_CACHE
        return CorpusFiles(url.rsplit("/", 2)[0], options, Cache(Path(folder).expanduser(), cache_bytes)), url
