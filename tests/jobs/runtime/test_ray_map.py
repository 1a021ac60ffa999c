"""Work over every dataset as Ray tasks (jobs/runtime/ray_map.py): the results in the items' order, worked in Ray's
worker processes, and a catalog rebuild and a `validate` on Ray byte for byte what the serial path gives (issue 99
item 3)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.runtime import ray_map
from jobs.runtime.ray_map import in_order
from jobs.validate import validate_path
from schemas.storage import CatalogError
from tests.fixtures.corpus import episode as _ep
from tests.fixtures.corpus import write_dataset

pytestmark = pytest.mark.shared_ray


def _pids(items: list[int]) -> list[tuple[int, int]]:
    return [(i, os.getpid()) for i in items]


@pytest.fixture
def on_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call on Ray, one item a task: a small input takes the path a large one takes."""
    monkeypatch.setattr(ray_map, "SERIAL_BELOW", 0)
    monkeypatch.setattr(ray_map, "PER_TASK", 1)


def test_results_in_order_from_ray_workers(on_ray: None) -> None:
    got = list(in_order(_pids, list(range(9)), address=None, what="test"))
    assert [i for i, _ in got] == list(range(9))
    assert os.getpid() not in {pid for _, pid in got}  # worked in Ray's workers, not here


def test_serial_below_the_threshold() -> None:
    got = list(in_order(_pids, list(range(3)), address=None, what="test"))
    assert got == [(i, os.getpid()) for i in range(3)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for source, subset, n in (("oxe", "bridge", 3), ("egodex", "basic", 2), ("oxe", "fractal", 1)):
        eps = [_ep(8 + i, "pick", f"{source}/{subset}/e{i}", "franka", success=i % 2 == 0) for i in range(n)]
        write_dataset(root / f"datasets/{source}/{subset}", "franka", eps)
    write_dataset(root / "datasets/external/foreign", "franka", [{"n": 9, "task": "wipe"}])  # no lineage
    return root


def _catalog(root: Path) -> dict[str, bytes]:
    """Every file the rebuild writes that a reader reads: the episodes' parts, the findings and verdicts."""
    files = [p for d in ("catalog/episodes", "catalog/findings", "catalog/verdicts") for p in (root / d).rglob("*")]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(files) if p.is_file()}


def test_catalog_and_validate_on_ray_as_serial(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_ray: None
) -> None:
    root = tmp_path / "c"
    shutil.copytree(corpus, root, copy_function=shutil.copy2)  # keeps mtimes, hence ingested_at
    with monkeypatch.context() as serial:
        serial.setattr(ray_map, "SERIAL_BELOW", 10**9)
        assert rebuild_catalog(Corpus(root)) == 7
        before = _catalog(root)
        reports = validate_path(str(root), data=False)
    assert rebuild_catalog(Corpus(root), rehash=True) == 7  # every dataset parsed again, on Ray
    assert _catalog(root) == before
    assert [r.model_dump() for r in validate_path(str(root), data=False)] == [r.model_dump() for r in reports]
    assert [Path(r.root).name for r in reports] == ["basic", "foreign", "bridge", "fractal"]


def test_a_dataset_that_fails_on_ray_is_named_as_serial(corpus: Path, tmp_path: Path, on_ray: None) -> None:
    root = tmp_path / "c"
    shutil.copytree(corpus, root, copy_function=shutil.copy2)
    (root / "datasets/oxe/bridge/meta/episodes.jsonl").write_text('{"episode_index": 0, "len')  # torn
    with pytest.raises(CatalogError, match=r"datasets/oxe/bridge: ") as err:
        rebuild_catalog(Corpus(root))
    assert "Traceback" not in str(err.value)  # the dataset's error itself, not Ray's wrapper around it
