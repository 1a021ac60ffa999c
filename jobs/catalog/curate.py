"""`eidata curate`: a SQL selection over the catalog -> `manifests/<name>/` (DESIGN.md section 7).

Entries are sorted by episode_uid and their split depends on the uid alone, so the same selection gives the same
entries file (bytes and name) under any name; `manifest.json` adds what a run needs to be reproduced (query, catalog
snapshot hash, routing table, split rule, weights, mixture).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import io
import logging
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from adapters.storage.corpus import Corpus
from jobs.catalog.bounded import OPTIONS as SQL_OPTIONS
from jobs.catalog.bounded import SqlLimitError, SqlLimits
from jobs.catalog.build import catalog_snapshot_hash
from jobs.catalog.census import open_catalog
from jobs.catalog.episode_select import Picked, select_episodes
from jobs.catalog.manifest_write import write_manifest
from jobs.catalog.overrule import VerdictChoice
from jobs.catalog.query import format_table
from jobs.output_lock import OutputLock
from jobs.runtime.exits import fail
from jobs.runtime.job_lock import JobLockedError
from jobs.runtime.options import Arg
from schemas.corpus import MANIFESTS_DIR
from schemas.faults import reraise_environment
from schemas.json_document import parsed_json
from schemas.manifest import (
    CONTENT_COLUMNS,
    ENTRIES_SCHEMA,
    MANIFEST_JSON,
    Balance,
    Manifest,
    MixtureEntry,
    SplitCounts,
    SplitRule,
    check_name,
)
from schemas.storage import CatalogError, StorageError, StorageOptions
from schemas.tiers import QualityTier, RoutingTable

BALANCES: tuple[Balance, ...] = ("none", "source", "subset")

log = logging.getLogger(__name__)


class CurateError(RuntimeError):
    """The selection cannot become a manifest (empty, duplicated uids, a tier the routing table lacks, ...)."""


def split_fractions(uids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Where each episode falls in [0, 1): `schemas.manifest.SplitRule.rule` for many uids at once."""
    raw = b"".join(hashlib.sha256(u.encode("utf-8")).digest()[:8] for u in uids.to_pylist())
    return np.frombuffer(raw, dtype=">u8").astype(np.float64) / 2.0**64


def balance_weights(groups: pa.Array | pa.ChunkedArray, n: int) -> np.ndarray:
    """Per-episode weights giving every group the same total weight, with mean weight 1 (total = n)."""
    codes = pc.dictionary_encode(groups).combine_chunks().indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(codes)
    return n / (len(counts) * counts[codes].astype(np.float64))


def sampled_mass(weights: np.ndarray, duration_s: np.ndarray, keys: pa.ChunkedArray) -> np.ndarray:
    """Each episode's share of the training draws under `weight_unit: frame` (what the trainer does, see
    `schemas.manifest.WeightUnit`): a balance group (`keys`) keeps its total weight, spread over its frames in
    proportion to weight x length. With balance "none" the whole manifest is one group, so sources are drawn by their
    hours."""
    codes = pc.dictionary_encode(keys).combine_chunks().indices.to_numpy(zero_copy_only=False).astype(np.int64)
    per_frame = weights * duration_s
    group_weight = np.bincount(codes, weights=weights)
    group_frames = np.bincount(codes, weights=per_frame)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(group_frames[codes] > 0, group_weight[codes] * per_frame / group_frames[codes], 0.0)


def shares(values: np.ndarray) -> np.ndarray:
    """Each value's share of their sum (values >= 0, not all 0). The total is the correctly rounded sum (`math.fsum`)
    of these same values, so no value exceeds it and every share lies in [0, 1] exactly, their sum 1 within
    `schemas.manifest.SHARE_TOLERANCE`: a share summed one way over a total summed another came out at
    1.0000000000000016 and the manifest refused it (issue 48)."""
    return np.asarray(values, dtype=np.float64) / math.fsum(values)


def _say_untrainable(n: int, picked: Picked) -> None:
    """How many of the `n` selected episodes `eidata train` leaves out as the corpus stands (every sample is anchored
    on image latents, `training.episodes`): without a camera, never; without latents yet, until `eidata latents`
    runs (`picked`: counted in the child, `jobs.catalog.episode_select`)."""
    if picked.no_camera or picked.waiting:
        log.warning(
            "%d of the %d selected episodes cannot train in `eidata train` as the corpus stands: %d have no camera "
            "(never image latents: left out, counted in the run's index.json), %d have no image latents yet "
            "(`eidata latents` first)",
            picked.no_camera + picked.waiting,
            n,
            picked.no_camera,
            picked.waiting,
        )


def _mixture(selected: pa.Table, weights: np.ndarray) -> list[MixtureEntry]:
    t = selected.select(["dataset", "embodiment", "source", "subset", "duration_s"]).append_column(
        "weight", pa.array(weights)
    )
    agg = t.group_by(["dataset", "embodiment", "source", "subset"], use_threads=False).aggregate(
        [("weight", "sum"), ("duration_s", "sum"), ("dataset", "count")]
    )
    agg = agg.sort_by([("dataset", "ascending"), ("embodiment", "ascending")])
    share = shares(agg["weight_sum"].to_numpy())
    return [
        MixtureEntry(
            dataset=r["dataset"],
            weight=float(w),
            robot_type=r["embodiment"],
            source=r["source"],
            subset=r["subset"],
            episodes=r["dataset_count"],
            hours=r["duration_s_sum"] / 3600,
        )
        for r, w in zip(agg.to_pylist(), share, strict=True)
    ]


def curate(
    corpus_root: Path | str,
    name: str,
    where: str,
    *,
    balance: Balance = "none",
    val_fraction: float = 0.05,
    routing: RoutingTable | None = None,
    overwrite: bool = False,
    options: StorageOptions | None = None,
    verdicts: VerdictChoice | None = None,
    limits: SqlLimits | None = None,
) -> Path | str:
    """Select episodes with `where` (`select_episodes`: rejected and quarantined ones never) and write
    `manifests/<name>/` (a bucket corpus's put with `options`); returns that folder as the user names it.
    balance="subset" gives every (source, subset) the same total weight (LARA), "source" every source, "none" weight
    1 each; split by sha256 of episode_uid (`SplitRule.rule`). Refuses to replace a manifest unless `overwrite`."""
    check_name(name)
    if balance not in BALANCES:
        raise ValueError(f"balance must be one of {BALANCES}, got {balance!r}")
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must be within [0, 1], got {val_fraction}")
    routing = routing or RoutingTable.default()
    # refused (CatalogError): a step left the catalog behind its lineage, or it describes other datasets
    # one curate per manifest name: a second is refused naming the first's pid (`ROOT/job/curate-NAME.lock`)
    with open_catalog(corpus_root, "curate", options) as corpus, OutputLock(corpus.root, f"curate-{name}"):
        folder = f"{MANIFESTS_DIR}/{name}"
        if corpus.exists(f"{folder}/{MANIFEST_JSON}") and not overwrite:
            raise FileExistsError(f"manifest {corpus.where_of(folder)} already exists")
        snapshot = catalog_snapshot_hash(corpus.root)
        sql, selected, picked = select_episodes(corpus.root, where, verdicts, limits)
        if verdicts and verdicts.include:  # what the overrule did, where a user looks (issue 79: it did nothing)
            log.info(
                "--include-verdict %s brought back %d episode(s): selected with the tier the overrule gives them "
                "(applied before --where), other than the catalog's",
                ", ".join(verdicts.include),
                picked.brought_back,
            )
        if catalog_snapshot_hash(corpus.root) != snapshot:
            raise CurateError("the catalog changed while the query ran; run curate again")
        # the manifest of the selection, written in one step (`jobs.catalog.manifest_write`); without `overwrite` a
        # create that fails if another curate of the name won meanwhile
        if selected.num_rows == 0:
            raise CurateError("the where clause selects no episode (rejected and quarantined ones never count)")
        uids = selected["episode_uid"].combine_chunks()
        same = pc.equal(uids.slice(1), uids.slice(0, len(uids) - 1))  # sorted: duplicates are neighbours
        if pc.any(same).as_py():
            dupes = sorted(set(uids.slice(1).filter(same).to_pylist()))
            raise CurateError(f"episode_uid listed more than once in the catalog: {dupes[:5]} ({len(dupes)} in all)")
        if missing := set(pc.unique(selected["tier"]).to_pylist()) - {t.value for t in routing.probabilities}:
            raise CurateError(f"the routing table has no row for tier(s) {sorted(missing)} present in the selection")
        _say_untrainable(selected.num_rows, picked)

        n = selected.num_rows
        keys = {  # balance "none": one group, each weight 1
            "none": pa.chunked_array([[""] * n], pa.string()),
            "source": selected["source"],
            "subset": pc.binary_join_element_wise(selected["source"], selected["subset"], "/"),
        }[balance]
        weights = balance_weights(keys, n)
        is_val = split_fractions(selected["episode_uid"]) < val_fraction
        if val_fraction > 0 and not is_val.any():  # asked for a val split, got none: said, not a silent `val: 0`
            why = f"--val-fraction {val_fraction:g} of {n} (split by a hash of episode_uid; {n * val_fraction:.1f}"
            log.warning("val: 0 episodes at %s expected): no validation set; a larger --val-fraction gives one", why)
        entries = pa.table(
            {
                "episode_uid": selected["episode_uid"],
                "dataset": selected["dataset"],
                "episode_index": selected["episode_index"],
                "tier": selected["tier"],
                "weight": pa.array(weights),
                "split": pa.array(np.where(is_val, "val", "train")),
                **{c: selected[c] for c in CONTENT_COLUMNS},  # what each held: a later use sees it changed
            },
            schema=ENTRIES_SCHEMA,
        )

        duration = selected["duration_s"].to_numpy()
        mass = sampled_mass(weights, duration, keys)  # what the trainer draws (weight_unit frame), not episodes
        if not mass.any():  # every selected episode 0 s long: no frame to draw anywhere, shares by weight
            mass = weights
        src_codes = pc.dictionary_encode(selected["source"]).combine_chunks()
        src_names, src_idx = src_codes.dictionary.to_pylist(), src_codes.indices.to_numpy(zero_copy_only=False)
        per_source = np.bincount(src_idx, weights=mass, minlength=len(src_names))
        tier_counts = pc.value_counts(selected["tier"]).to_pylist()
        manifest = Manifest(
            name=name,
            where=where,
            query=sql,
            include_verdicts=list(verdicts.include) if verdicts else [],
            exclude_verdicts=list(verdicts.exclude) if verdicts else [],
            balance=balance,
            catalog_snapshot_hash=snapshot,
            routing=routing,
            sampling_weights={s: float(w) for s, w in sorted(zip(src_names, shares(per_source), strict=True))},
            mixture=_mixture(selected, mass),
            split=SplitRule(val_fraction=val_fraction),
            splits={
                "train": SplitCounts(episodes=int((~is_val).sum()), hours=float(duration[~is_val].sum() / 3600)),
                "val": SplitCounts(episodes=int(is_val.sum()), hours=float(duration[is_val].sum() / 3600)),
            },
            tiers={QualityTier(c["values"]): int(c["counts"]) for c in sorted(tier_counts, key=lambda c: c["values"])},
            num_entries=n,
            created_at=datetime.now(UTC),
        )
        buf = io.BytesIO()
        pq.write_table(entries, buf, compression="zstd")
        return write_manifest(corpus, manifest, buf.getvalue(), overwrite=overwrite)  # old or new, whole


def load_routing(path: Path) -> RoutingTable:
    """A routing table from YAML or JSON: the model form ({probabilities: {tier: {task: p}}}) or the bare map."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "probabilities" not in data:
        data = {"probabilities": data}
    return RoutingTable.model_validate(data)


def _default(name: str) -> object:
    return inspect.signature(curate).parameters[name].default


# `eidata curate`, in the flags' order; the defaults are `curate`'s own
OPTIONS = (
    Arg("root", help="corpus folder, or its bucket URL (s3://bucket/corpus)"),
    Arg(
        "--name",
        required=True,
        help="the manifest's name (a folder name: letters, digits, '.', '_', '-'); written to "
        "ROOT/manifests/NAME/, which `eidata export --manifest NAME` and `eidata train --manifest "
        "ROOT/manifests/NAME` read",
    ),
    Arg(
        "--where",
        required=True,
        help="one SQL expression over the `episodes` view's columns (eidata query --describe episodes), "
        "e.g. \"tier = 'high' AND "
        'duration_s > 5" (no statement, subquery or file access; functions from jobs.catalog.guard.SAFE_FUNCTIONS)',
    ),
    Arg(
        "--balance",
        choices=list(BALANCES),
        default=_default("balance"),
        help="sampling weights, mean 1 over the manifest. none: 1 each, so sources are drawn by their hours; "
        "source: every source the same total weight (an episode of a small source weighs more); subset: every "
        "source/subset the same (default: %(default)s)",
    ),
    Arg(
        "--val-fraction",
        type=float,
        default=_default("val_fraction"),
        metavar="F",
        help="share of the selected episodes put in the val split, by a hash of episode_uid: the same episode "
        "always lands in the same split (default: %(default)s)",
    ),
    Arg("--routing", default=None, help="routing table JSON (default: uniform over allowed tasks)"),
    Arg("--overwrite", action="store_true", help="replace a manifest of that name (default: refuse)"),
    Arg(
        "--include-verdict",
        action="append",
        default=[],
        metavar="CODE",
        help="overrule this verdict, whichever step gave it (e.g. qa_duplicate, qa_tracking_corr; the "
        "catalog's tier_codes): its episodes get the tier they would have without it, the tier --where then "
        "sees (tier = 'high' takes them); how many it brought back is said (repeatable)",
    ),
    Arg(
        "--exclude-verdict",
        action="append",
        default=[],
        metavar="CODE",
        help="leave out every episode with this finding in the `verdicts` view (e.g. qa_dead_dims,"
        " qa_jump_sigma; repeatable)",
    ),
    *SQL_OPTIONS,
)


def cli_curate(args: argparse.Namespace) -> int:
    """`eidata curate`: exit 0 on success, 1 when nothing can be written, 2 for bad SQL or arguments."""
    try:
        routing = load_routing(Path(args.routing)) if getattr(args, "routing", None) else None
    except (OSError, ValueError, yaml.YAMLError) as e:  # pydantic's ValidationError is a ValueError
        return fail(2, f"eidata curate: routing table {args.routing}: {e}")
    try:
        out = curate(
            args.root,
            args.name,
            args.where,
            balance=args.balance,
            val_fraction=args.val_fraction,
            routing=routing,
            overwrite=bool(getattr(args, "overwrite", False)),
            verdicts=VerdictChoice(
                tuple(getattr(args, "include_verdict", None) or ()), tuple(getattr(args, "exclude_verdict", None) or ())
            ),
            limits=SqlLimits.of(args),
        )
    except JobLockedError as e:
        return fail(1, f"eidata curate: {e}; wait for it")
    except (CurateError, CatalogError, OSError, duckdb.Error, ValueError, SqlLimitError) as e:
        reraise_environment(e)  # a full disk: one line and 75 (jobs.cli), not "nothing can be written" and 1
        hint = "; --overwrite replaces it" if isinstance(e, FileExistsError) else ""
        print(f"eidata curate: {e}{hint}", file=sys.stderr)
        # 1: nothing can be written (the manifest exists); 2: a bad credential or bucket, SQL, name, option, SQL limit
        failed = isinstance(e, CurateError | CatalogError | OSError | duckdb.IOException)
        return 1 if failed and not isinstance(e, StorageError) else 2
    with Corpus.read(args.root) as corpus:
        rel = f"{MANIFESTS_DIR}/{args.name}/{MANIFEST_JSON}"
        m = Manifest.model_validate(parsed_json(corpus.read_bytes(rel), str(corpus.where_of(rel))))
    print(f"manifest {m.name}: {m.num_entries} episodes -> {out}")
    for split, c in m.splits.items():
        print(f"  {split}: {c.episodes} episodes, {c.hours:.3f} h")
    print(f"  balance {m.balance}; catalog snapshot {m.catalog_snapshot_hash[:16]}")
    cols = ["dataset", "robot_type", "weight", "episodes", "hours"]
    mix = pa.Table.from_pylist([e.model_dump(include=set(cols)) for e in m.mixture]).select(cols)
    print(format_table(mix, "table"), end="")
    return 0
