"""What the catalog build indexes about behaviour QA beside the episode rows (views `verdicts` and `findings`); it
judges nothing and never rewrites a tier (copies and dead dims are the curation step `eidata verdicts`, recorded in the
lineage). A dataset is judged with the thresholds stored with its episodes at ingest (`recorded_thresholds`), never a
spec file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from adapters.lerobot_format.files import read_jsonl
from ingest.lerobot.settled import settle_dataset
from ingest.qa.dataset import dataset_findings
from ingest.qa.findings import episode_findings
from jobs.catalog.census import cataloged_datasets
from schemas.behaviour import BehaviourConfig
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from schemas.qa import FINDINGS_SCHEMA, QAConfig


def recorded_thresholds(lineages: Iterable[EpisodeLineage]) -> tuple[QAConfig, BehaviourConfig]:
    """The geometry and behaviour thresholds a dataset's episodes were judged with at ingest, each the first
    recorded (the defaults for one a dataset written before it was recorded, or by another tool, does not hold)."""
    qa: QAConfig | None = None
    behaviour: BehaviourConfig | None = None
    for lin in lineages:
        qa = lin.qa_config if qa is None else qa
        behaviour = lin.behaviour_config if behaviour is None else behaviour
        if qa is not None and behaviour is not None:
            break
    return qa if qa is not None else QAConfig(), behaviour if behaviour is not None else BehaviourConfig()


def corpus_thresholds(corpus_root: Path) -> tuple[QAConfig, BehaviourConfig]:
    """`recorded_thresholds` over the corpus's datasets in order (for a corpus-wide view: the report), as the catalog
    names them (`jobs.catalog.census.cataloged_datasets`), each settled as it is read (`ingest.lerobot.settled`): the
    first dataset alone where it records both (every dataset walked and settled first was 2 of the report's 33 CPU-s
    at 1M episodes, and 10 s of its wall)."""
    root = Path(corpus_root)
    return recorded_thresholds(
        EpisodeLineage.of(line)
        for name in cataloged_datasets(root)
        if (settle_dataset(root / name) / EPISODES_PATH).exists()
        for _, line in read_jsonl(root / name / EPISODES_PATH)
    )


def verdict_rows(dataset: str, lineages: Sequence[EpisodeLineage]) -> list[dict[str, Any]]:
    """One `VERDICT_SCHEMA` row per finding behind each episode's tier: ingest's behaviour findings (its record
    against the thresholds stored with it) and the verdict step's."""
    rows = []
    for lin in lineages:
        base = {"episode_uid": lin.episode_uid, "dataset": dataset}
        config = lin.behaviour_config or BehaviourConfig()
        found = episode_findings(lin.behaviour, config) if lin.behaviour is not None else []
        rows += [{**base, "stage": "ingest", **f.model_dump(mode="json")} for f in found]
        for v in lin.verdicts.found if lin.verdicts is not None else []:
            rows.append({**base, "stage": lin.verdicts.step, **v.model_dump(mode="json")})
    return rows


def catalog_findings(table: pa.Table, configs: Mapping[str, BehaviourConfig]) -> pa.Table:
    """Per dataset: task imbalance and episodes shorter than the policy window, each dataset against the thresholds
    its episodes were ingested with (`configs`, by dataset; the defaults where none is given)."""
    columns = [("episode_uid", "list"), ("task", "list"), ("num_frames", "list")]
    rows = []
    for g in table.group_by("dataset", use_threads=False).aggregate(columns).sort_by("dataset").to_pylist():
        config = configs.get(g["dataset"]) or BehaviourConfig()
        rows += finding_rows(g["dataset"], g["episode_uid_list"], g["task_list"], g["num_frames_list"], config)
    return pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)


def finding_rows(
    dataset: str, uids: Sequence[str], tasks: Sequence[str | None], frames: Sequence[int], config: BehaviourConfig
) -> list[dict[str, Any]]:
    """`catalog_findings`' rows of one dataset, from its episodes' uids, tasks and frame counts in the catalog's
    order (the rebuild's merge gives them a dataset at a time: `jobs.catalog.merged`)."""
    rows = []
    for f in dataset_findings([t or "" for t in tasks], list(frames), config):
        rows.append({"dataset": dataset, **f.model_dump(), "episodes": [uids[k] for k in f.episodes]})
    return rows
