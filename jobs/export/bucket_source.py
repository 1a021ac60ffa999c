"""An export reading a corpus in a bucket (`s3://bucket/corpus`, DESIGN.md 3.2) without copying it.

`source_corpus(root, options)` gives a local folder standing for the corpus: each dataset's meta derived from its
commit records (readers trust the records, never a listing of final keys), the bucket's `manifests/`, and per dataset
an `OBJECTS` file naming the dataset's URL and the size of every object its records commit. No episode file is
copied: an export opens a dataset's episode files through `episode_files(root)`, which are the local files for a local
dataset and, for a bucket one, Locations (`adapters.storage.location`) read by ranged GETs with bounded read-ahead
(`readable`: pyarrow's footer and column chunks, PyAV's moov and samples). A local corpus passes through unchanged.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from adapters.storage.location import Location, locate, register
from adapters.storage.urls import preflight
from ingest.storage.bucket_output import BucketOutput
from ingest.storage.objects import list_keys
from ingest.storage.publish import derived_meta
from schemas.corpus import MANIFESTS_DIR
from schemas.storage import StorageOptions, is_remote

OBJECTS = ".eidata-objects.json"  # in a dataset folder of a source view: where its episode files are


@dataclass(frozen=True)
class EpisodeFiles:
    """Where one dataset's episode files are: its own folder, or the bucket URL its records name (with their sizes)."""

    base: str
    sizes: dict[str, int] | None = None  # rel -> bytes, from the commit records; None for a local folder

    @property
    def remote(self) -> bool:
        return self.sizes is not None

    def at(self, rel: str) -> Location:
        if self.sizes is None:
            return Path(self.base) / rel
        if rel not in self.sizes:  # readers trust committed keys only
            raise FileNotFoundError(f"{self.base}/{rel}: no commit record names it")
        return locate(f"{self.base}/{rel}")

    def size(self, rel: str) -> int:
        return (Path(self.base) / rel).stat().st_size if self.sizes is None else self.sizes[rel]


def episode_files(root: Path) -> EpisodeFiles:
    """The episode files of the dataset folder `root` (a source view's names its bucket URL)."""
    marker = Path(root) / OBJECTS
    if not marker.is_file():
        return EpisodeFiles(str(root))
    d = json.loads(marker.read_text(encoding="utf-8"))
    return EpisodeFiles(d["url"], d["sizes"])


def source_identity(root: Path, meta: Sequence[str]) -> str:
    """What an export of the dataset `root` depends on, as text: a local dataset's meta files by path, size and mtime;
    a bucket dataset's by its URL and their bytes (a view is rebuilt each run, so its times say nothing)."""
    files = episode_files(root)
    lines = []
    for rel in meta:
        p = Path(root) / rel
        if files.remote:
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "-"
            lines.append(f"{files.base}/{rel}|{digest}")
        else:
            st = p.stat() if p.exists() else None
            lines.append(f"{p}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}")
    return "".join(line + "\n" for line in lines)


def view_corpus(url: str, dest: Path, options: StorageOptions | None = None) -> Path:
    """The local folder standing for the corpus at `url` (see the module's docstring), in `dest` (replaced)."""
    reader = BucketOutput(url, options, scratch=dest)  # no lease: its listings and publishers only
    fs, path = reader.fs, reader.path
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for rel in reader.datasets():
        records = reader.publisher(rel).log.records()
        for name, data in derived_meta(records).items():
            (dest / rel / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel / name).write_bytes(data)
        sizes = {obj: int(d["size"]) for r in records for obj, d in r.objects.items()}
        (dest / rel / OBJECTS).write_text(json.dumps({"url": f"{reader.url}/{rel}", "sizes": sizes}), encoding="utf-8")
    for key in list_keys(fs, f"{path}/{MANIFESTS_DIR}"):  # a manifest's entries and manifest.json: small
        local = dest / key.removeprefix(path + "/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(fs.cat_file(key))
    return dest


@contextmanager
def source_corpus(root: str | Path, options: StorageOptions | None = None) -> Iterator[Path]:
    """`root` itself, or for a bucket URL its view (checked before any work: bucket, prefix, credential), in a
    temporary folder named as the URL's last part; the options are registered for the URL while the block runs."""
    if not is_remote(str(root)):
        yield Path(root)
        return
    url = str(root).rstrip("/")
    preflight(url, options)
    register(url, options)
    try:
        with tempfile.TemporaryDirectory(prefix="eidata-export-source-") as tmp:
            yield view_corpus(url, Path(tmp) / url.rsplit("/", 1)[-1], options)
    finally:
        register(url, None)


def _path_or_url(v: Any) -> Any:
    return v if not isinstance(v, str) or is_remote(v) else Path(v)


# a job model's corpus or output: a folder, or a bucket URL kept as text (a Path would fold `s3://` into `s3:/`)
PathOrUrl = Annotated[Path | str, BeforeValidator(_path_or_url)]
