"""`adapters.storage.tree` with files above the multipart threshold, against the real S3 server (S3's smallest part,
5 MiB, so that 10 MiB make three parts): a large file is put in parts byte for byte and leaves no incomplete upload,
the same file again is kept (by its claim, nothing sent), other bytes at its key replace it (the older claim does not
block them; a small file replacing a large one drops its claim), a killed run's upload is aborted by the next
export's `begin`, and the tree's `finish` keeps the object and the claim of a file it still has and drops the claim
of a file it no longer has."""

from __future__ import annotations

import random
from pathlib import Path

from adapters.storage.multipart import incomplete_uploads
from adapters.storage.object_store import ObjectStore
from adapters.storage.objects import exists
from adapters.storage.publish import CLAIMS_DIR
from adapters.storage.tree import Tree
from adapters.storage.urls import filesystem
from schemas.storage import MARKER, StorageOptions
from tests.s3.server import S3Server

PART = 5 << 20
BIG = "videos/observation.images.front/chunk-000/file-000.mp4"
GONE = "videos/observation.images.wrist/chunk-000/file-000.mp4"
STALE = "videos/observation.images.top/chunk-000/file-000.mp4"


def _write(target: ObjectStore, rel: str, data: bytes) -> Path:
    path = target.local("ds") / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_large_file_goes_in_parts_and_is_kept_or_replaced_whole(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    options = StorageOptions(
        endpoint_url=s3.endpoint,
        access_key_id=s3.access_key,
        secret_access_key=s3.secret_key,
        multipart_threshold=PART,
        multipart_part_size=PART,
    )
    url = f"s3://out/{prefix}/export"
    fs, _ = filesystem(url, options)
    first, second = (random.Random(seed).randbytes(2 * PART + 4321) for seed in ("first", "second"))
    key, claim = f"out/{prefix}/export/ds/{BIG}", f"out/{prefix}/export/ds/{CLAIMS_DIR}/{BIG}"

    def stored(k: str) -> bytes:
        fs.invalidate_cache()
        return fs.cat_file(k)

    with Tree(url, options, job="export-test", scratch=tmp_path / "scratch") as tree:
        target = tree.store
        target.begin("ds", retract=[MARKER])
        target.put_file("ds", _write(target, BIG, first))
        assert (target.stats.put, target.stats.bytes_put) == (1, len(first))
        assert stored(key) == first and exists(fs, claim)
        assert str(fs.info(key)["ETag"]).strip('"').endswith("-3")  # a multipart object's ETag: its parts' count
        assert incomplete_uploads(fs, f"out/{prefix}") == []

        target.put_file("ds", _write(target, BIG, first))  # a rerun's same bytes: nothing sent
        assert (target.stats.put, target.stats.kept, target.stats.bytes_put) == (1, 1, len(first))

        target.put_file("ds", _write(target, GONE, first))  # a second large file, left out of the next tree
        # a stale claim over no object (a run killed after its claim, before its completion) does not block others
        fs.pipe_file(f"out/{prefix}/export/ds/{CLAIMS_DIR}/{STALE}", b'{"sha256": "0", "size": 1}')
        target.put_file("ds", _write(target, STALE, second))
        assert stored(f"out/{prefix}/export/ds/{STALE}") == second and target.stats.put == 3

    with Tree(url, options, job="export-test", scratch=tmp_path / "scratch") as tree:
        target = tree.store
        # a killed run's upload under the tree: the next export's `begin` aborts it (it holds the output's lease)
        fs.call_s3("create_multipart_upload", Bucket="out", Key=f"{prefix}/export/ds/{GONE}")
        assert len(incomplete_uploads(fs, f"out/{prefix}")) == 1
        target.begin("ds", retract=[MARKER])  # the next export: other bytes at BIG, no GONE or STALE
        assert incomplete_uploads(fs, f"out/{prefix}") == []
        target.put_file("ds", _write(target, BIG, second))
        assert (target.stats.put, target.stats.replaced, target.stats.bytes_put) == (0, 1, len(second))
        assert stored(key) == second
        assert incomplete_uploads(fs, f"out/{prefix}") == []

        _write(target, MARKER, b"fp2")
        target.finish("ds", last=[MARKER])
        assert stored(key) == second and exists(fs, claim)  # the tree's file and its claim stay
        for rel in (GONE, STALE):
            assert not exists(fs, f"out/{prefix}/export/ds/{rel}")
            assert not exists(fs, f"out/{prefix}/export/ds/{CLAIMS_DIR}/{rel}")
        assert stored(f"out/{prefix}/export/ds/{MARKER}") == b"fp2"
        assert incomplete_uploads(fs, f"out/{prefix}") == []

        target.begin("ds", retract=[MARKER])  # a later export whose file is below the threshold: one PUT, no claim
        target.put_file("ds", _write(target, BIG, b"small"))
        assert stored(key) == b"small" and not exists(fs, claim) and target.stats.replaced == 2
