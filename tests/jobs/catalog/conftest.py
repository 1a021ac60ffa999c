"""The corpus most catalog tests read: real datasets written by `LeRobotWriter` with the lineage ingest records
(tests.fixtures.corpus), a dataset without lineage two folders deep, latents for one episode, one quarantine part;
the catalog rebuilt. Built once for the package; `corpus_copy` is a copy a test may change. Test modules that need
another corpus define their own `corpus` fixture, which takes precedence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.parts import write_quarantine_part
from tests.fixtures.corpus import episode as _ep
from tests.fixtures.corpus import quarantine_row, write_dataset


@pytest.fixture(scope="package")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    bridge = [
        _ep(12, "pick the cube", "oxe/bridge/e0", "franka", success=True),
        _ep(15, "pick the cube", "oxe/bridge/e1", "franka", tier="low", tier_reasons=["failure flag"], success=False),
        _ep(10, "open the drawer", "oxe/bridge/e2", "franka", caption={"text": "a gripper opens a drawer"}),
    ]
    write_dataset(root / "datasets/oxe/bridge", "franka", bridge)
    egodex = [
        _ep(20, "fold", "egodex/basic/a", "human", hands=True),
        _ep(8, "fold", "egodex/basic/b", "human", hands=True, caption="hands fold a towel"),
    ]
    write_dataset(root / "datasets/egodex/basic", "human", egodex)
    nothing = [0] * 50
    clip = _ep(
        11, "cooking", "ego4d/clips/v0", "human_video", mask=nothing, tier="actionless", tier_reasons=["no action"]
    )
    write_dataset(root / "datasets/ego4d/clips", "human_video", [clip], mask=nothing)
    # a dataset written by another tool: no lineage, two folders deep
    write_dataset(root / "datasets/external/group/foreign", "franka", [{"n": 9, "task": "wipe"}])
    latents = root / "datasets/oxe/bridge/latents/chunk-000/observation.images.head/episode_000002.safetensors"
    latents.parent.mkdir(parents=True)
    latents.write_bytes(b"placeholder")
    write_quarantine_part(root, [quarantine_row(file="bridge-train.tfrecord-00000")], "job-0")
    rebuild_catalog(Corpus(root))
    return root


@pytest.fixture
def corpus_copy(corpus: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(corpus, dst, copy_function=shutil.copy2)  # keeps mtimes, hence ingested_at
    return dst
