"""The report's behaviour QA section from the catalog: a corpus of the real GR00T episodes with a planted dead elbow
and a copy of episode 0 (`tests/ingest/qa/planted_raw.py`), judged by `eidata verdicts`, shows both findings
with their values and the measured values against the thresholds, one dot per episode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.qa.dataset import behaviour_messages
from jobs.report.behaviour import PANELS, behaviour_by_dataset, behaviour_figure
from schemas.dataset_qa import DATASET_QA_DIR


@pytest.fixture(scope="module")
def corpus(judged_corpus: Path) -> Path:
    return judged_corpus  # the module's copy, its catalog and verdicts made (tests/jobs/conftest.py)


def test_findings_and_measured_values_from_the_catalog(corpus: Path) -> None:
    view = behaviour_by_dataset(corpus)
    (b,) = view.datasets
    assert b.episodes == 7 and all(r.fingerprint for r in b.records)
    codes = {code: msg for code, msg, _, _ in behaviour_messages(b)}
    assert {"qa_native_dead_dims", "qa_duplicate"} <= set(codes)  # and the elbow's plateau (ingest.qa.plateau)
    assert "planted_dead_elbow" in codes["qa_native_dead_dims"]
    assert "planted_zz_copy_of_0: copy of" in codes["qa_duplicate"]
    fig = behaviour_figure(view)
    axes = fig.get_axes()
    assert len(axes) == len(PANELS)
    dots = sum(len(line.get_xdata()) for line in axes[0].get_lines() if line.get_linestyle() == "None")
    assert dots == 7  # one camera-frozen value per episode


def _rewrite_pooled(root: Path, **values: object) -> None:
    """The catalog's `dataset_qa` rows with `values` in every row (as a rebuild with other pooling would write)."""
    part = root / DATASET_QA_DIR / "part-00000.parquet"
    table = pq.read_table(part)
    for name, value in values.items():
        column = pa.array([value] * table.num_rows, table.schema.field(name).type)
        table = table.set_column(table.schema.get_field_index(name), name, column)
    pq.write_table(table, part)


def test_findings_are_read_from_each_datasets_pooled_row_judged_again_with_other_thresholds(
    corpus: Path, tmp_path: Path
) -> None:
    # issue 99: the catalog build pools each dataset once (`dataset_qa`); the report reads its row, not every
    # episode's qa_* columns, unless the row was judged with other thresholds than the corpus's
    root = tmp_path / "corpus"
    shutil.copytree(corpus, root, copy_function=shutil.copy2)
    said = behaviour_by_dataset(root).messages
    assert {row[1] for row in said} >= {"qa_native_dead_dims", "qa_duplicate"}
    _rewrite_pooled(root, finding_codes=["qa_x"], finding_tiers=["low"], finding_messages=["as pooled"])
    view = behaviour_by_dataset(root)
    assert [row[1:] for row in view.messages] == [["qa_x", "low", "as pooled"]]
    (b,) = view.datasets  # the figure's dataset pooled from its episodes, as drawn
    assert b.episodes == 7
    _rewrite_pooled(root, thresholds="other thresholds")
    assert behaviour_by_dataset(root).messages == said
