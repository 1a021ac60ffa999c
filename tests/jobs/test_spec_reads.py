"""The spec check reads a source's files behind the parse boundary (issue 97 item 1; `jobs.spec_reads`).

At e7043c41 the check that finds a mistyped OXE builder or camera read every builder's `features.json` in the driver:
one 10^5-deep `features.json` beside two good Bridge builders ended `eidata ingest` with a RecursionError traceback
(exit 1) before any work, 0 of 2 good builders written and the bad one not named. The class: every adapter whose spec
check reads files (`spec_problems` overridden: OXE's builder meta, LeRobot's `info.json` and `modality.json`), each
meta file it reads made deep in one dataset beside a good one. The spec loads, the check still finds a typo in the
good dataset's names, and the job writes the good data and quarantines the bad file's episodes naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import jobs.cli
from adapters.oxe.builder import load_builder
from adapters.synthetic.rlds import write_rlds
from jobs.catalog.query import run_query
from jobs.spec import SpecError, load_spec
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures import library_bombs as lb
from tests.fixtures.opened import opened_here


def _spec(tmp_path: Path, adapter: str, options: dict) -> Path:
    path = tmp_path / "spec.yaml"
    source = {"name": "src", "adapter": adapter, "root": str(tmp_path / "raw"), "options": options}
    job = {
        "output": str(tmp_path / "corpus"),
        "sources": [source],
        "parallelism": {"num_cpus": 2},
        "canonicalize": {"validity": {"min_length_frames": 1}, "min_episode_s": 0.0},  # the fixtures are short
    }
    path.write_text(yaml.safe_dump(job), encoding="utf-8")
    return path


def _oxe(tmp_path: Path, meta: str) -> None:
    for subset, name in (("bridge", "aa_dataset"), ("bridge", "bridge_dataset"), ("fractal", None)):
        write_rlds(tmp_path / "raw", subset, dataset_name=name, episodes=1, steps=4)
    (tmp_path / "raw/aa_dataset/1.0.0" / meta).write_text(lb.DEEP_JSON)
    load_builder.cache_clear()


def _lerobot(tmp_path: Path, meta: str) -> None:
    rows = np.linspace(0.1, 1.0, 20 * len(MOTORS)).reshape(20, len(MOTORS))
    for name in ("a_bad", "b_good"):
        write_arm_dataset(tmp_path / "raw" / name, "so101_follower", list(MOTORS), rows, cameras=("cam_high",))
    modality = {"video": {"front": {"original_key": "observation.images.cam_high"}}}
    for name in ("a_bad", "b_good"):
        (tmp_path / "raw" / name / "meta/modality.json").write_text(json.dumps(modality))
    (tmp_path / "raw/a_bad/meta" / meta).write_text(lb.DEEP_JSON)


CASES = [
    ("oxe", _oxe, "features.json", "image_00", "image_0"),
    ("oxe", _oxe, "dataset_info.json", "image_00", "image_0"),
    ("lerobot", _lerobot, "info.json", "cam_hihg", "cam_high"),
    ("lerobot", _lerobot, "modality.json", "frnt", "front"),
]


@pytest.mark.parametrize(("adapter", "build", "meta", "typo", "meant"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_a_deep_meta_file_does_not_end_the_spec_check(
    tmp_path: Path, adapter: str, build: object, meta: str, typo: str, meant: str
) -> None:
    build(tmp_path, meta)  # type: ignore[operator]
    assert load_spec(_spec(tmp_path, adapter, {"cameras": [meant]})).sources[0].options["cameras"] == [meant]
    with pytest.raises(SpecError) as info:  # the typo is still found, in the good datasets' names
        load_spec(_spec(tmp_path, adapter, {"cameras": [typo]}))
    said = " ".join(i.format(tmp_path / "spec.yaml") for i in info.value.errors)
    assert f"sources[0].options.cameras: camera {typo!r}" in said and f"did you mean {meant!r}?" in said, said


@pytest.mark.scenario
def test_a_deep_features_json_beside_good_bridge_builders_costs_its_builder_only(tmp_path: Path) -> None:
    _oxe(tmp_path, "features.json")
    spec = _spec(tmp_path, "oxe", {})
    assert jobs.cli.main(["ingest", str(spec)]) == 0
    corpus = tmp_path / "corpus"
    written = run_query(corpus, "SELECT episode_uid FROM episodes ORDER BY 1").column("episode_uid").to_pylist()
    assert {u.split("/")[1] for u in written} == {"bridge_dataset", "fractal20220817_data"}, written  # both good
    rows = run_query(corpus, "SELECT episode_uid, file, message FROM quarantine").to_pylist()
    deep = str(tmp_path / "raw/aa_dataset/1.0.0/features.json")
    assert rows and all(deep in f"{r['file']} {r['message']}" and "RecursionError" in r["message"] for r in rows), rows


@pytest.mark.parametrize(("adapter", "build", "meta", "typo", "meant"), CASES[::2], ids=["oxe", "lerobot"])
def test_the_spec_check_opens_no_source_file_in_the_driver(
    tmp_path: Path, adapter: str, build: object, meta: str, typo: str, meant: str
) -> None:
    """Every file of the source the check reads is opened in its parse process, none in the process loading the
    spec."""
    build(tmp_path, meta)  # type: ignore[operator]
    spec = _spec(tmp_path, adapter, {"cameras": [meant]})
    with opened_here() as opened:
        load_spec(spec)
    raw = str(tmp_path / "raw")
    assert not [p for p in opened if p.startswith(raw)], opened
