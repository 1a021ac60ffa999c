"""Behaviour QA over the whole catalog, at each rebuild: what no single episode can say.

- Near-duplicates within and across datasets: the episodes' content fingerprints (`qa_fingerprint`) searched by LSH
  (`ingest.behaviour.duplicates.near_duplicates`), a pair counting only within one embodiment and task (a repeat is
  one robot doing one task again); the later episode of each pair (by catalog order: episode_uid)
  gets `qa_duplicate_of` / `qa_duplicate_similarity` and, at or above `duplicate_similarity_quarantine`, the tier
  `rejected` with the reason (value and threshold) in the catalog row, so no manifest trains on it twice.
- Dead dims: an episode's `qa_dead_dims` (canonical) and `qa_native_dead_dims` (native state columns) are dims
  motionless there while another dim moves; a dim is dead only if the dataset moves it in most of its other episodes
  (a planar robot's height, a humanoid's legs in an arms-only dataset never move: not a defect). Such episodes are
  lowered to `low` with the dims and the share of the dataset that moves them.
- Per dataset: task imbalance and episodes shorter than the policy window (`dataset_findings`), as rows of
  `catalog/findings/` (view `findings` in `eidata query`), each with its value, threshold and the episodes it names.

Thresholds: the `canonicalize.behaviour` section of the corpus's ingest spec (`jobs.qa_findings`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.behaviour.duplicates import near_duplicates
from ingest.behaviour.findings import dataset_findings
from schemas.behaviour import FINDINGS_DIR, FINDINGS_SCHEMA, BehaviourConfig
from schemas.tiers import QualityTier, demote

DEAD_SHARE = 0.5  # a dim is dead in an episode when at least this share of the dataset's other episodes move it


def _same_demonstration_key(table: pa.Table) -> list[tuple[str, str]]:
    """(embodiment, task) per row, the task lower-cased with punctuation and spacing dropped: a repeat of a
    demonstration is one robot doing one task again. The same motion on another robot, or towards another task's
    target (a scripted reach to k targets), is a different sample, however alike its shape."""
    tasks = [" ".join(re.sub(r"[^\w\s]", " ", t or "").lower().split()) for t in table["task"].to_pylist()]
    return list(zip(table["embodiment"].to_pylist(), tasks, strict=True))


def _duplicates(table: pa.Table, config: BehaviourConfig) -> dict[int, tuple[int, float]]:
    """Row -> (earlier row it repeats, similarity), best match per later row, among rows of one embodiment and task."""
    fp = table["qa_fingerprint"]
    valid = np.flatnonzero(pc.is_valid(fp).to_numpy(zero_copy_only=False))
    m = config.fingerprint_hashes
    lengths = pc.list_value_length(fp.take(pa.array(valid))).to_numpy(zero_copy_only=False) if len(valid) else []
    rows = valid[np.asarray(lengths) == m] if len(valid) else valid
    if len(rows) < 2:
        return {}
    flat = pc.list_flatten(fp.take(pa.array(rows))).to_numpy(zero_copy_only=False)
    sig = flat.astype(np.uint32).reshape(len(rows), m)
    pairs = near_duplicates(sig, config)
    key = _same_demonstration_key(table)
    best: dict[int, tuple[int, float]] = {}
    for a, b, s in zip(pairs.first, pairs.second, pairs.similarity, strict=True):
        later, earlier = int(rows[b]), int(rows[a])
        if key[later] != key[earlier]:
            continue
        if later not in best or s > best[later][1]:
            best[later] = (earlier, float(s))
    return best


def judge_dead(still: list[list[int] | None]) -> dict[int, tuple[list[int], float]]:
    """One dataset's episodes' motionless dims (None: not measured) -> for each episode with a dead dim, (the dims
    most of the other measured episodes move, the smallest share that moves them)."""
    rows = [i for i, d in enumerate(still) if d is not None]
    if len(rows) < 2:
        return {}
    counts: dict[int, int] = defaultdict(int)
    for i in rows:
        for d in still[i] or []:
            counts[d] += 1
    out: dict[int, tuple[list[int], float]] = {}
    for i in rows:
        shares = {d: 1 - (counts[d] - 1) / (len(rows) - 1) for d in still[i] or []}  # others that do not list it
        dims = [d for d, share in shares.items() if share >= DEAD_SHARE]
        if dims:
            out[i] = (dims, min(shares[d] for d in dims))
    return out


def dead_reason(column: str, dims: list[int], share: float) -> str:
    what = "canonical dims" if column == "qa_dead_dims" else "native state columns"
    return (
        f"{column}: {what} {dims} motionless while others move; {share:.0%} of the dataset's other episodes move"
        f" them (>= {DEAD_SHARE:.0%})"
    )


def _dead(table: pa.Table, column: str) -> dict[int, tuple[list[int], float]]:
    """Row -> `judge_dead` of its dataset, over the whole table."""
    by_ds: dict[str, list[int]] = defaultdict(list)
    for i, ds in enumerate(table["dataset"].to_pylist()):
        by_ds[ds].append(i)
    still = table[column].to_pylist()
    out = {}
    for rows in by_ds.values():
        out.update({rows[k]: v for k, v in judge_dead([still[i] for i in rows]).items()})
    return out


def route_catalog(table: pa.Table, config: BehaviourConfig) -> pa.Table:
    """The catalog table with the duplicate columns filled and the tiers of duplicates and dead-dim episodes
    lowered, each with its reason appended."""
    if table.num_rows == 0:
        return table
    dupes = _duplicates(table, config)
    dead = {c: _dead(table, c) for c in ("qa_dead_dims", "qa_native_dead_dims")}
    if not dupes and not any(dead.values()):
        return table
    uids = table["episode_uid"].to_pylist()
    tiers = table["tier"].to_pylist()
    reasons = table["tier_reasons"].to_pylist()
    dup_of = table["qa_duplicate_of"].to_pylist()
    dup_sim = table["qa_duplicate_similarity"].to_pylist()
    thr = config.duplicate_similarity_quarantine
    for i, (j, s) in dupes.items():
        dup_of[i], dup_sim[i] = uids[j], s
        if s >= thr:
            tiers[i] = demote(QualityTier(tiers[i]), QualityTier.rejected).value
            reasons[i] = [*(reasons[i] or []), f"qa_duplicate: repeats {uids[j]} (similarity {s:.2f} >= {thr:.2f})"]
    for column, found in dead.items():
        for i, (dims, share) in found.items():
            tiers[i] = demote(QualityTier(tiers[i]), QualityTier.low).value
            reasons[i] = [*(reasons[i] or []), dead_reason(column, dims, share)]
    columns = {"tier": tiers, "tier_reasons": reasons, "qa_duplicate_of": dup_of, "qa_duplicate_similarity": dup_sim}
    for name, values in columns.items():
        k = table.schema.get_field_index(name)
        table = table.set_column(k, table.schema.field(k), pa.array(values, table.schema.field(k).type))
    return table


def catalog_findings(table: pa.Table, config: BehaviourConfig) -> pa.Table:
    """Per dataset: task imbalance and episodes shorter than the policy window (duplicates are in the rows)."""
    rows = []
    cols = table.select(["dataset", "episode_uid", "task", "num_frames"]).to_pydict()
    by_ds: dict[str, list[int]] = defaultdict(list)
    for i, ds in enumerate(cols["dataset"]):
        by_ds[ds].append(i)
    for ds, idx in sorted(by_ds.items()):
        tasks = [cols["task"][i] or "" for i in idx]
        lengths = [cols["num_frames"][i] for i in idx]
        for f in dataset_findings(tasks, lengths, None, config):
            named = [cols["episode_uid"][idx[k]] for k in f.episodes]
            rows.append({"dataset": ds, "code": f.code, "value": f.value, "threshold": f.threshold})
            rows[-1].update(message=f.message, episodes=named)
    return pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)


def findings_dir(corpus_root: Path) -> Path:
    return Path(corpus_root) / FINDINGS_DIR
