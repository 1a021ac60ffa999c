"""`make demo` end to end: a raw corpus in ten sources' formats (LeRobot v2.1 and a joint-space SO-101 in v3.0 side
by side) -> Ray ingest -> queries -> manifest -> report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from adapters.registry import get_adapter
from jobs.catalog.manifest_read import load_manifest
from jobs.catalog.query import run_query
from jobs.demo.pipeline import run_pipeline_demo
from jobs.report.episode_links import DEFAULT_PAGES
from jobs.spec import load_spec
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from tests.fixtures.manifest import read_entries

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

# episodes written per source: one corrupt raw episode each is quarantined (Ego4D's corrupt video holds 3 narrations)
WRITTEN = {"agibot": 2, "bridge": 2, "ego4d": 3, "ego_video": 2, "egodex": 2, "epic_kitchens": 2, "hot3d": 2,
           "lerobot": 4, "robomimic": 2, "robomind": 2}  # fmt: skip


REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    with pytest.MonkeyPatch.context() as mp:
        lines: list[str] = []
        mp.setattr("builtins.print", lambda *a, **k: lines.append(" ".join(map(str, a))))
        assert run_pipeline_demo(out) == 0
    return out, "\n".join(lines)


def test_every_step_runs_and_the_report_is_written(demo: tuple[Path, str]) -> None:
    out, text = demo
    for step in (
        "1. writing a raw corpus",
        "2. eidata ingest",
        "2b. eidata caption",
        "by the rules",
        "hours by source x tier",
        "embodiments and actions",
        "quarantine reasons",
        "pick up the cup from the table",
        "4.",
    ):
        assert step in text
    report = out / "report.html"
    assert f"5. eidata report {out / 'corpus'} --out {report}" in text
    assert 'data-section="frames"' in report.read_text()
    links = re.findall(r'<a href="(report_episodes/[^"]+)">its page</a>', report.read_text())
    assert links and all((out / link).is_file() for link in links)  # each flagged episode's page, beside the report
    named = re.findall(r"episode pages: (\d+) of the (\d+) episodes the report names", text)
    assert named and int(named[0][0]) == min(DEFAULT_PAGES, int(named[0][1]))  # the default count, said
    assert len(list((out / "report_episodes").iterdir())) == int(named[0][0])
    hours = text.split("hours by source x tier")[1].split("\n3. ")[0]
    assert all(f"\n{source} " in hours for source in WRITTEN)  # the query lists every source


def test_every_source_is_written_and_its_corrupt_episode_quarantined(demo: tuple[Path, str]) -> None:
    corpus = demo[0] / "corpus"
    written = run_query(corpus, "SELECT source, count(*) AS n FROM episodes GROUP BY ALL ORDER BY ALL").to_pydict()
    assert dict(zip(written["source"], written["n"], strict=True)) == WRITTEN
    quarantined = run_query(corpus, "SELECT DISTINCT source FROM quarantine").column("source").to_pylist()
    assert sorted(quarantined) == sorted(WRITTEN)


def test_the_joint_space_so101_reaches_the_right_hand_with_actions(demo: tuple[Path, str]) -> None:
    corpus = demo[0] / "corpus"
    rows = run_query(corpus, "SELECT embodiment, tier, has_action FROM episodes WHERE subset = 'so101_pick'")
    assert rows.to_pylist() == [{"embodiment": "so101", "tier": "high", "has_action": True}] * 2
    info = json.loads((corpus / "datasets/lerobot/so101_pick/meta/info.json").read_text())
    expected = np.zeros(len(info["features"]["action"]["info"]["mask"]), int)
    for part in (WRIST_POS, WRIST_ROT6D, GRIPPER):
        expected[hand_dims(1, part)] = 1  # the right hand: FK wrist pose and the gripper, nothing else
    assert info["robot_type"] == "so101" and info["features"]["action"]["info"]["mask"] == expected.tolist()


def test_the_manifest_leaves_actionless_out_and_cameras_are_stored_at_training_size(demo: tuple[Path, str]) -> None:
    corpus = demo[0] / "corpus"
    manifest_dir = corpus / "manifests/demo_train"
    manifest = load_manifest(manifest_dir)
    entries = read_entries(manifest_dir)
    assert manifest.name == "demo_train" and entries.num_rows > 0
    assert "actionless" not in set(entries.column("tier").to_pylist())
    # every camera is stored at the training size (`canonicalize.image` 224x224 pad), whatever the source recorded
    infos = sorted((corpus / "datasets").glob("*/*/meta/info.json"))
    videos = [ft for p in infos for ft in json.loads(p.read_text())["features"].values() if ft["dtype"] == "video"]
    assert len(infos) == 13 and videos and all(ft["shape"] == [224, 224, 3] for ft in videos)


def test_the_commented_example_spec_finds_the_new_sources_in_the_demo_corpus(demo: tuple[Path, str]) -> None:
    """jobs/specs/demo.yaml runs on `make demo`'s output as it is (its header says so): each new source, rooted at its
    own raw/<name>/ folder, finds two good raw episodes and the corrupt one, and nothing else."""
    out = demo[0]
    (out / "demo.yaml").write_text((REPO / "jobs/specs/demo.yaml").read_text())
    spec = load_spec(out / "demo.yaml")
    found = {}
    for source in spec.sources:
        refs = list(get_adapter(source.adapter, source.options).discover(source.root))
        found[source.name] = (len(refs), sum(ref.error is not None for ref in refs), {ref.subset for ref in refs})
    assert found["epic_kitchens"][:2] == (3, 1)  # the corrupt video is refused at discovery, the others at read
    assert found["ego_video"][:2] == found["hot3d"][:2] == found["robomind"][:2] == (3, 0)
    assert found["hot3d"][2] == {"aria", "quest3"} and found["robomind"][2] == {"agilex_3rgb", "franka_3rgb"}
    assert found["lerobot"] == (5, 1, {"franka_cube", "so101_pick"})
    assert found["robomimic"] == (3, 1, {"robomimic", "hdf5"})  # the cut file: refused at discovery, its container
