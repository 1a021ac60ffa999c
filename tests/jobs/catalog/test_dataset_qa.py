"""The catalog's `dataset_qa` view (`jobs.catalog.dataset_qa`): each dataset's QA pooled once by the build, as the
report pooled it from every episode's `qa_*` columns (issue 99), kept with the dataset's rows by a rebuild that does
not parse it again, pooled again when its episodes change. The corpus: the real GR00T episodes with a planted dead
elbow and a copy of episode 0 (`tests/ingest/qa/planted_raw.py`), judged by `eidata verdicts`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from ingest.qa.dataset import behaviour_messages, behaviour_overview, behaviour_summary, geometry_summary
from jobs.catalog.behaviour import corpus_thresholds
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.query import run_query
from jobs.verdicts.step import run_verdicts
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.dataset_qa import DATASET_QA_DIR, behaviour_key
from schemas.qa import Finding, QARecord, record_from_columns


@pytest.fixture(scope="module")
def corpus(judged_corpus: Path) -> Path:
    return judged_corpus  # the module's copy, its catalog and verdicts made (tests/jobs/conftest.py)


def _as_the_report_pooled(root: Path) -> list[dict]:
    """What the report (e7043c41 `jobs.report.behaviour`, `jobs.report.data.qa_by_dataset`) pooled per dataset from
    every episode's catalog columns, with the corpus's thresholds."""
    _, config = corpus_thresholds(root)
    steps: dict[str, list[Finding]] = {}
    for v in run_query(root, "SELECT * EXCLUDE (dataset, stage) FROM verdicts WHERE stage = 'verdicts'").to_pylist():
        steps.setdefault(v.pop("episode_uid"), []).append(Finding(**v))
    rows = run_query(root, "SELECT * FROM episodes ORDER BY dataset, episode_index").to_pylist()
    out = []
    for ds in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == ds]
        geometry = geometry_summary(ds, [record_from_columns(r, QARecord) for r in mine])
        b = behaviour_summary(
            ds,
            [r["episode_uid"] for r in mine],
            [record_from_columns(r, BehaviourRecord) for r in mine],
            [r["task"] or "" for r in mine],
            [r["num_frames"] for r in mine],
            config,
            [steps.get(r["episode_uid"], []) for r in mine],
        )
        assert geometry is not None and b is not None
        said = behaviour_messages(b)
        out.append(
            {
                "dataset": ds,
                "geometry": geometry.model_dump_json(),
                "behaviour_episodes": b.episodes,
                "behaviour_overview": behaviour_overview(b),
                "thresholds": behaviour_key(config),
                "finding_codes": [code for code, *_ in said],
                "finding_messages": [message for _, message, *_ in said],
            }
        )
    return out


def test_each_dataset_is_pooled_as_the_report_pooled_its_episodes(corpus: Path) -> None:
    got = run_query(corpus, "SELECT * EXCLUDE (geometry_overview, finding_tiers) FROM dataset_qa").to_pylist()
    assert got == _as_the_report_pooled(corpus)
    (row,) = got
    assert {"qa_native_dead_dims", "qa_duplicate"} <= set(row["finding_codes"])  # the step's findings are in it


def test_an_unchanged_rebuild_keeps_the_rows_and_a_changed_dataset_is_pooled_again(
    corpus: Path, tmp_path: Path
) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(corpus, root, copy_function=shutil.copy2)
    part = root / DATASET_QA_DIR / "part-00000.parquet"
    before = part.read_bytes()
    rebuild_catalog(Corpus(root))
    assert part.read_bytes() == before
    # the copy is no copy with these (tests/jobs/verdicts/test_step.py): the step rewrites its lineage, its row is new
    run_verdicts(root, BehaviourConfig(copy_tolerance=1e-6, dead_dims_share=1.0))
    (row,) = run_query(root, "SELECT finding_codes FROM dataset_qa").to_pylist()
    assert "qa_duplicate" not in row["finding_codes"]
    assert run_query(root, "SELECT * EXCLUDE (geometry_overview, finding_tiers) FROM dataset_qa").to_pylist() == (
        _as_the_report_pooled(root)
    )
