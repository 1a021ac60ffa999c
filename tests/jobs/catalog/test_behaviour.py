"""The catalog-wide behaviour QA at rebuild (`jobs.catalog.behaviour`), on a corpus of the real GR00T PickNPlace
episodes written by ingest's path (`tests/ingest/behaviour/planted_raw.ingest`) plus two planted copies: a dead
right elbow (its native column constant) and a duplicate of episode 0 (float32, trimmed by 7 frames, noise). The
duplicate is rejected naming the episode it repeats, the dead joint lowered to low naming the column, the clean
episodes keep `high`; the policy window in the corpus's spec names the short episodes in the `findings` view."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from jobs.catalog.build import rebuild_catalog
from jobs.catalog.query import run_query
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import JOB_DIR
from tests.ingest.behaviour import gr00t_sample as g
from tests.ingest.behaviour.planted_raw import write_planted_corpus

WINDOW = 200  # frames: two clean episodes (164 and 206 frames at 10 Hz: 4 is shorter) fall short of it


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_planted_corpus(root, CanonicalizeSpec())
    (root / JOB_DIR).mkdir()
    (root / JOB_DIR / "spec.yaml").write_text(f"canonicalize:\n  behaviour:\n    policy_window_frames: {WINDOW}\n")
    rebuild_catalog(root)
    return root


def rows(corpus: Path) -> dict[str, dict]:
    sql = """SELECT episode_uid, tier, tier_reasons, qa_duplicate_of, qa_duplicate_similarity, qa_native_dead_dims,
                    qa_cam_frozen_s, qa_tracking_corr, num_frames FROM episodes"""
    return {r["episode_uid"].rsplit("/", 1)[1]: r for r in run_query(corpus, sql).to_pylist()}


def test_duplicate_is_rejected_naming_the_episode_it_repeats(corpus: Path) -> None:
    r = rows(corpus)
    dup = r["planted_zz_copy_of_0"]
    assert dup["qa_duplicate_of"].endswith("/episode_000000") and dup["qa_duplicate_similarity"] >= 0.75
    assert dup["tier"] == "rejected" and dup["tier_reasons"][-1].startswith("qa_duplicate: repeats lerobot/")
    assert r["episode_000000"]["qa_duplicate_of"] is None  # the earlier episode of the pair is kept


def test_dead_native_joint_is_judged_against_the_dataset(corpus: Path) -> None:
    r = rows(corpus)
    dead = r["planted_dead_elbow"]
    assert dead["tier"] == "low" and dead["tier_reasons"][-1].startswith("qa_native_dead_dims: native state columns")
    # the legs, neck and waist never move in any episode: constant columns the dataset never moves are not dead
    clean = [r[f"episode_{i:06d}"] for i in range(g.EPISODES)]
    assert all(x["tier"] == "high" for x in clean), [x["tier_reasons"] for x in clean]
    assert not any(r.startswith("qa_") for x in clean for r in x["tier_reasons"])
    assert all(len(x["qa_native_dead_dims"]) >= 12 for x in clean)


def test_short_episodes_for_the_policy_window_are_a_dataset_finding(corpus: Path) -> None:
    found = run_query(corpus, "SELECT * FROM findings").to_pylist()
    (short,) = [f for f in found if f["code"] == "qa_short_episodes"]
    lengths = {k: v["num_frames"] for k, v in rows(corpus).items()}
    assert short["threshold"] == 0 and f"policy window of {WINDOW} frames" in short["message"]
    assert sorted(e.rsplit("/", 1)[1] for e in short["episodes"]) == sorted(k for k, n in lengths.items() if n < WINDOW)


def test_a_repeat_is_one_embodiment_doing_one_task_again() -> None:
    """Same motion on another robot or towards another task's target is another sample; case, punctuation and
    spacing of the task text do not make a copy distinct (the end-to-end case: tests/adapters/test_one_module_source.py,
    three reaches of one shape to three targets all stay high)."""
    from jobs.catalog.behaviour import _same_demonstration_key

    table = pa.table(
        {
            "embodiment": ["franka", "franka", "ur5e", "franka"],
            "task": ["Pick up the cup.", "pick up  the cup", "pick up the cup", "reach target 2"],
        }
    )
    a, b, c, d = _same_demonstration_key(table)
    assert a == b and a != c and a != d
