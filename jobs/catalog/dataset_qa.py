"""The catalog's `dataset_qa` view (`schemas.dataset_qa`): each dataset's geometry QA pooled over its episodes and its
behaviour findings in words, made once when the build parses the dataset, so that the corpus report reads one row per
dataset instead of pooling every episode's `qa_*` columns in Python (issue 99: 101 of its 176 profiled seconds at
30,016 episodes).

`pool` is the one pooling, from catalog row values in `episode_index` order: the build's rows (the values it writes)
and the report's (a dataset whose row was judged with other thresholds than the corpus's, and the few datasets a
figure draws, whose episodes' records it plots) give the same summaries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import pyarrow as pa

from ingest.qa.dataset import (
    DatasetBehaviour,
    DatasetQA,
    behaviour_messages,
    behaviour_overview,
    behaviour_summary,
    geometry_overview,
    geometry_summary,
)
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.dataset_qa import DATASET_QA_SCHEMA, DatasetQARow, behaviour_key
from schemas.qa import Finding, QARecord, catalog_fields, record_from_columns
from schemas.verdicts import STEP

# the catalog columns `pool` reads of each episode
BEHAVIOUR_COLUMNS = ("episode_uid", "task", "num_frames")
POOLED_COLUMNS = (
    "dataset",
    "episode_index",
    *BEHAVIOUR_COLUMNS,
    *dict.fromkeys(name for r in (QARecord, BehaviourRecord) for name, *_ in catalog_fields(r)),
)


# What a kept row was pooled by (`jobs.catalog.stored.ROWS_FORMAT` holds it): the source of the pooling and of the
# findings' words, so that a kept dataset's row is pooled again when either changes, as a new column makes it parsed
POOLING = hashlib.sha256(
    b"".join(
        resources.files(package).joinpath(name).read_bytes()
        for package, name in (
            ("ingest.qa", "dataset.py"),
            ("ingest.qa", "findings.py"),
            ("ingest.qa", "behaviour_bounds.toml"),
            ("ingest.qa", "bounds.toml"),
            ("jobs.catalog", "dataset_qa.py"),
        )
    )
).hexdigest()


def step_findings(verdicts: Sequence[Mapping[str, Any]]) -> dict[str, list[Finding]]:
    """episode_uid -> the findings of `eidata verdicts` among verdict rows (`VERDICT_SCHEMA` dicts), in their order."""
    out: dict[str, list[Finding]] = {}
    for v in verdicts:
        if v["stage"] == STEP:
            fields = {k: x for k, x in v.items() if k not in ("dataset", "stage", "episode_uid")}
            out.setdefault(v["episode_uid"], []).append(Finding(**fields))
    return out


def pool(
    dataset: str, rows: Sequence[Mapping[str, Any]], steps: Mapping[str, list[Finding]], config: BehaviourConfig
) -> tuple[DatasetQA | None, DatasetBehaviour | None]:
    """One dataset's pooled geometry QA and behaviour QA (`ingest.qa.dataset`) from its catalog rows (`rows`, dicts
    of `POOLED_COLUMNS`, in `episode_index` order), the verdict step's findings by episode (`steps`) and `config`."""
    geometry = geometry_summary(dataset, [record_from_columns(dict(r), QARecord) for r in rows])
    behaviour = behaviour_summary(
        dataset,
        [r["episode_uid"] for r in rows],
        [record_from_columns(dict(r), BehaviourRecord) for r in rows],
        [r["task"] or "" for r in rows],
        [r["num_frames"] for r in rows],
        config,
        [steps.get(r["episode_uid"], []) for r in rows],
    )
    return geometry, behaviour


def qa_row(
    dataset: str, geometry: DatasetQA | None, behaviour: DatasetBehaviour | None, config: BehaviourConfig
) -> dict[str, Any]:
    """The `dataset_qa` row (`DatasetQARow` as a dict) of `pool`'s summaries, judged with `config`."""
    said = behaviour_messages(behaviour) if behaviour is not None else []
    return DatasetQARow(
        dataset=dataset,
        geometry=None if geometry is None else geometry.model_dump_json(),
        geometry_overview=None if geometry is None else geometry_overview(geometry),
        behaviour_episodes=0 if behaviour is None else behaviour.episodes,
        behaviour_overview=None if behaviour is None else behaviour_overview(behaviour),
        thresholds=None if behaviour is None else behaviour_key(config),
        finding_codes=[code for code, *_ in said],
        finding_tiers=["" if tier is None else tier.value for _, _, tier, _ in said],
        finding_messages=[message for _, message, *_ in said],
    ).model_dump()


def dataset_qa_row(
    dataset: str, table: pa.Table, verdicts: Sequence[Mapping[str, Any]], config: BehaviourConfig
) -> dict[str, Any]:
    """The build's row of one dataset: its catalog rows `table` (`CATALOG_SCHEMA`) and verdict rows, pooled with the
    thresholds its episodes were ingested with (`config`)."""
    rows = table.select(list(POOLED_COLUMNS)).sort_by("episode_index").to_pylist()
    return qa_row(dataset, *pool(dataset, rows, step_findings(verdicts), config), config)


def empty_table() -> pa.Table:
    return DATASET_QA_SCHEMA.empty_table()
