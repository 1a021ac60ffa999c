"""What the catalog build indexes about behaviour QA, beside the episode rows; it judges nothing and never rewrites
a tier (copies and dead dims are the curation step `eidata verdicts`, `jobs.verdicts`, recorded in the lineage).

- `catalog/verdicts/`: one row per finding behind an episode's tier (view `verdicts`): ingest's, re-derived from the
  episode's behaviour record and the thresholds stored with it (`EpisodeLineage.behaviour_config`), and the verdict
  step's from `EpisodeLineage.verdicts`, each with value, threshold and the episode it was compared with.
- `catalog/findings/`: per dataset, task imbalance and episodes shorter than the policy window (`dataset_findings`),
  each with its value, threshold and the episodes it names (view `findings`); informative, no tier changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingest.qa.findings import dataset_findings
from ingest.qa.phase import episode_findings
from schemas.behaviour import FINDINGS_DIR, FINDINGS_SCHEMA, BehaviourConfig
from schemas.corpus import EpisodeLineage, find_datasets
from schemas.lerobot import EPISODES_PATH, read_jsonl
from schemas.verdicts import VERDICT_SCHEMA, VERDICTS_DIR


def recorded_config(lineages: Sequence[EpisodeLineage]) -> BehaviourConfig:
    """The behaviour thresholds a dataset's episodes were judged with at ingest (the first recorded; the defaults
    for a dataset written before they were recorded, or by another tool)."""
    return next((lin.behaviour_config for lin in lineages if lin.behaviour_config is not None), BehaviourConfig())


def corpus_recorded_config(corpus_root: Path) -> BehaviourConfig:
    """`recorded_config` of the first dataset of the corpus that recorded one (for a corpus-wide view: the report)."""
    for ds in find_datasets(Path(corpus_root)):
        if (ds / EPISODES_PATH).exists():
            for _, line in read_jsonl(ds / EPISODES_PATH):
                config = EpisodeLineage.of(line).behaviour_config
                if config is not None:
                    return config
    return BehaviourConfig()


def verdict_rows(dataset: str, lineages: Sequence[EpisodeLineage]) -> list[dict[str, Any]]:
    """One `VERDICT_SCHEMA` row per finding behind each episode's tier: ingest's behaviour findings (its record
    against the thresholds stored with it) and the verdict step's."""
    rows = []
    for lin in lineages:
        base = {"episode_uid": lin.episode_uid, "dataset": dataset}
        if lin.behaviour is not None:
            for f in episode_findings(lin.behaviour, lin.behaviour_config or BehaviourConfig()):
                rows.append(
                    {
                        **base,
                        "stage": "ingest",
                        "code": f.code,
                        "tier": f.tier.value,
                        "value": f.value,
                        "threshold": f.threshold,
                        "compared_with": None,
                        "message": f.message,
                    }
                )
        for v in lin.verdicts.found if lin.verdicts is not None else []:
            rows.append({**base, "stage": lin.verdicts.step, **v.model_dump(mode="json")})
    return rows


def copy_reason(lineage: EpisodeLineage) -> str | None:
    """The verdict step's `qa_duplicate` reason of an episode, None when it is no copy."""
    found = lineage.verdicts.found if lineage.verdicts is not None else []
    return next((v.reason() for v in found if v.code == "qa_duplicate"), None)


def verdicts_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA)


def verdicts_dir(corpus_root: Path) -> Path:
    return Path(corpus_root) / VERDICTS_DIR


def catalog_findings(table: pa.Table, configs: Mapping[str, BehaviourConfig]) -> pa.Table:
    """Per dataset: task imbalance and episodes shorter than the policy window, each dataset against the thresholds
    its episodes were ingested with (`configs`, by dataset; the defaults where none is given)."""
    rows = []
    cols = table.select(["dataset", "episode_uid", "task", "num_frames"]).to_pydict()
    by_ds: dict[str, list[int]] = defaultdict(list)
    for i, ds in enumerate(cols["dataset"]):
        by_ds[ds].append(i)
    for ds, idx in sorted(by_ds.items()):
        tasks = [cols["task"][i] or "" for i in idx]
        lengths = [cols["num_frames"][i] for i in idx]
        for f in dataset_findings(tasks, lengths, configs.get(ds) or BehaviourConfig()):
            named = [cols["episode_uid"][idx[k]] for k in f.episodes]
            rows.append({"dataset": ds, "code": f.code, "value": f.value, "threshold": f.threshold})
            rows[-1].update(message=f.message, episodes=named)
    return pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)


def findings_dir(corpus_root: Path) -> Path:
    return Path(corpus_root) / FINDINGS_DIR
