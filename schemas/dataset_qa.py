"""One dataset's QA as the corpus report shows it, pooled once where the catalog is built (issue 99).

The report's geometry and behaviour sections show, per dataset, its pooled invariants and its behaviour findings in
words (`ingest.qa.dataset`: `geometry_summary`, `behaviour_summary`, `behaviour_messages`, the overviews). Pooled from
every episode's `qa_*` columns at each report, that was Python per episode: 101 of the report's 176 profiled seconds
at 30,016 episodes, linear in the episodes. The catalog build pools each dataset once when it parses it (a dataset it
keeps keeps its row, `jobs.catalog.stored`), from the same catalog row values the report read, into one row of the
catalog's `dataset_qa` view (`catalog/dataset_qa/*.parquet`); the report reads one row per dataset.

The behaviour findings depend on the thresholds they were judged with: the row names the `BehaviourConfig` it used
(`thresholds`, `behaviour_key`), the thresholds the dataset's own episodes were ingested with; a report whose corpus
thresholds differ (`jobs.catalog.behaviour.corpus_thresholds`: the corpus's first recorded) pools that dataset again
from its episodes' columns. The geometry pooling uses no threshold (its findings are judged by the report).
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from schemas.arrow import arrow_schema
from schemas.behaviour import BehaviourConfig

DATASET_QA_DIR = "catalog/dataset_qa"


def behaviour_key(config: BehaviourConfig) -> str:
    """What names a set of behaviour thresholds in a `DatasetQARow`: sha256 of its JSON and of where a user sets them
    (`schemas.thresholds.Keyed`: the messages quote that key)."""
    return hashlib.sha256(
        f"{config.model_dump_json()}\n{config.key(next(iter(type(config).model_fields)))}".encode()
    ).hexdigest()


class DatasetQARow(BaseModel):
    """One row of the catalog's `dataset_qa` view: a dataset's pooled geometry QA, its behaviour findings in words."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="the dataset, relative to the corpus root")
    geometry: str | None = Field(
        None,
        description="its pooled geometry invariants (`ingest.qa.dataset.DatasetQA` as JSON); null where no episode "
        "has a geometry record",
    )
    geometry_overview: str | None = Field(None, description="those invariants in one line, as the report shows them")
    behaviour_episodes: int = Field(0, description="its episodes with a behaviour record (0: no behaviour QA)")
    behaviour_overview: str | None = Field(None, description="its measured behaviour in one line (null: none)")
    thresholds: str | None = Field(
        None, description="sha256 of the behaviour thresholds (`BehaviourConfig` JSON) its findings were judged with"
    )
    finding_codes: list[str] = Field(default_factory=list, description="each behaviour finding's code")
    finding_tiers: list[str] = Field(
        default_factory=list, description="the tier each routes to ('' for a dataset-level finding, which routes none)"
    )
    finding_messages: list[str] = Field(
        default_factory=list, description="each in words: how many episodes, the worst with value and threshold"
    )


DATASET_QA_SCHEMA = arrow_schema(DatasetQARow)
