"""The per-file boundary on a root in a bucket (issue 58 item 2, `adapters.hostile.isolated`): a parse that fails with
what the adapter does not catch costs its own file's episodes only, as on local disk. An object store's opens are not
Python's (no audit event "open"), so a root on one had no boundary: one deep `info.json` ended the discovery of every
dataset beside it. Every object open is now declared by its door (`adapters.storage.declared`: an object's
`read_text`/`open`, `location.readable`), and the boundary names the object by its URL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters import get_adapter
from adapters.storage.location import locate
from tests.adapters.hostile.test_isolated import discovered
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures import library_bombs as lb
from tests.s3.server import S3Server
from tests.store_cases import put_url


def _datasets(folder: Path) -> None:
    rows = np.linspace(0.1, 1.0, 20 * len(MOTORS)).reshape(20, len(MOTORS))
    for name in ("a_bad", "b_good"):
        write_arm_dataset(folder / name, "so101_follower", list(MOTORS), rows)


@pytest.mark.parametrize("meta", ["info.json", "episodes.jsonl"])
def test_a_deep_meta_object_costs_its_dataset_only(tmp_path: Path, s3: S3Server, prefix: str, meta: str) -> None:
    folder = tmp_path / "raw"
    _datasets(folder)
    path = folder / "a_bad/meta" / meta
    path.write_text(lb.DEEP_JSON if meta == "info.json" else path.read_text() + lb.DEEP_JSON + "\n")
    url = put_url(folder, f"s3://raw/{prefix}", s3.options())
    root = url if meta == "info.json" else locate(url, s3.options())  # a URL, or the path a job locates
    refs = discovered(get_adapter("lerobot", None, s3.options()), root)
    assert [r.subset for r in refs if r.error is None] == ["b_good"], [(r.subset, r.error) for r in refs]
    (bad,) = [r for r in refs if r.subset == "a_bad"]
    assert f"{url}/a_bad/meta/{meta}" in bad.error and "RecursionError" in bad.error, bad.error


def test_a_parquet_object_pyarrow_fails_in_is_named_by_its_url(
    tmp_path: Path, s3: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    folder = tmp_path / "raw"
    _datasets(folder)
    url = put_url(folder, f"s3://raw/{prefix}", s3.options())
    (data,) = (folder / "a_bad").rglob("*.parquet")
    bad_url = f"{url}/{data.relative_to(folder).as_posix()}"
    real = pq.read_metadata

    def planted(src: object, *args: object, **kwargs: object) -> object:
        if getattr(src, "name", None) == bad_url:  # the object's file handed over by `readable`
            raise MemoryError("planted: pyarrow's parse stopped by the task's memory limit")
        return real(src, *args, **kwargs)

    monkeypatch.setattr(pq, "read_metadata", planted)
    refs = discovered(get_adapter("lerobot", None, s3.options()), url)
    assert [r.subset for r in refs if r.error is None] == ["b_good"], [(r.subset, r.error) for r in refs]
    bad = [r for r in refs if r.subset == "a_bad"]
    assert bad and all(bad_url in (r.error or "") for r in bad), [r.error for r in bad]
