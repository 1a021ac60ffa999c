"""Two corpora to export from.

`tiny_corpus`: a Franka dataset (3 episodes, two tasks), a human dataset (2 episodes, one task shared with the Franka
one) whose natives differ, and a Franka clip at another camera size; the catalog rebuilt and a manifest `all` of every
episode (plans and writers, no Ray).

`real_mix`: real episodes of two robots whose cameras have different roles, written as ingest writes them (no Ray):
2 GR00T PickNPlace (GR1, its `ego_view` the `head`) and 3 Bridge (WidowX, `image_0` the `third_person`, and
`image_1`, `image_2` under their own names), frames stored at 64x64; a manifest `mix` of all, balanced by source.

`exported`: a copy of the demo reference corpus (`tests/conftest.py`, ingested on the shared Ray) with a manifest
`mix` of every episode with actions across sources, and its v3.0 exports: every dataset, the manifest, the manifest
without video. Shared by the lerobot 0.6.1 checks (`test_job.py`) and the real clients (`test_clients.py`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.cli import main
from tests.fixtures.corpus import episode, write_dataset

MANIFEST = "mix"


def _with_native(n: int, task: str, uid: str, embodiment: str, width: int) -> dict:
    return {**episode(n, task, uid, embodiment), "native": np.zeros((n, width))}


@pytest.fixture(scope="package")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    tasks = ["pick", "open the drawer", "pick"]
    franka = [_with_native(6 + i, tasks[i], f"oxe/bridge/e{i}", "franka", 2) for i in range(3)]
    write_dataset(root / "datasets/oxe/bridge", "franka", franka, native_state_names=["j0", "j1"])
    human = [_with_native(5, task, f"egodex/basic/h{i}", "human", 1) for i, task in enumerate(["fold", "pick"])]
    write_dataset(root / "datasets/egodex/basic", "human", human, native_state_names=["camera.x"])
    # a dataset of the source oxe whose camera is smaller: its episode is skipped, the source keeps its other dataset
    small = [_with_native(4, "pick", "oxe/clips/c0", "franka", 2)]
    write_dataset(root / "datasets/oxe/clips", "franka", small, camera=(16, 24), native_state_names=["j0", "j1"])
    rebuild_catalog(Corpus(root))
    curate(root, "all", "true", val_fraction=0.0)
    return root


@pytest.fixture(scope="package")
def exported(reference: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the reference corpus (catalog and manifests are written into the copy only) and its v3.0 exports."""
    tmp = tmp_path_factory.mktemp("v3")
    corpus = tmp / "corpus"
    shutil.copytree(reference, corpus)
    rebuild_catalog(Corpus(corpus))
    curate(corpus, MANIFEST, "tier <> 'actionless'", balance="subset", val_fraction=0.3)
    out = tmp / "out"
    assert main(["export", str(corpus), "--format", "lerobot-v3", "--out", str(out)]) == 0
    # the head camera of the sources that have one (its dataset, its frames compared with lerobot's below): a source
    # without one is left out, by request (by default the slot `primary` would hold each dataset's main camera)
    argv = ["export", str(corpus), "--format", "lerobot-v3", "--out", str(out), "--manifest", MANIFEST]
    assert main([*argv, "--cameras", "head"]) == 1
    assert main([*argv, "--cameras", "head", "--allow-dropped-sources"]) == 0
    # the same selection without video: no episode lacks anything, every source stays
    argv = ["export", str(corpus), "--format", "lerobot-v3", "--out", str(out / "nocam"), "--manifest", MANIFEST]
    assert main([*argv, "--cameras", "none"]) == 0
    return corpus, out


REAL_MIX = "mix"


@pytest.fixture(scope="package")
def real_mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from adapters.registry import get_adapter
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.corpus import dataset_dir
    from schemas.image_size import ImageSpec
    from tests.ingest.qa.planted_raw import gr00t_raws, ingest
    from tests.realdata import realdata

    root = tmp_path_factory.mktemp("real_mix")
    spec = CanonicalizeSpec(image=ImageSpec(size="64x64"))
    oxe = get_adapter("oxe")
    bridge = [r for r in oxe.discover(realdata("octo_bridge_debug_rlds")) if r.error is None][:3]
    for raw in [*gr00t_raws()[:2], *map(oxe.read, bridge)]:
        written, rejected = ingest(raw, spec, root / dataset_dir(raw.ref.source, raw.ref.subset))
        assert len(written) == 1, rejected
    rebuild_catalog(Corpus(root))
    curate(root, REAL_MIX, "true", balance="source", val_fraction=0.0)
    return root
