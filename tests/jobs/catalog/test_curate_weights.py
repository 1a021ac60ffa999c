"""`eidata curate` runs on every filter that selects an episode: over random catalogs (group sizes, episode lengths,
tiers) and random filters, the exit status is 0 when the filter selects anything and 1 when it selects nothing, never 2,
and the manifest's shares lie in [0, 1] and sum to 1 within `schemas.manifest.SHARE_TOLERANCE` (issue 48: a group's
weight summed one way over a total summed another gave a share of 1.0000000000000016 that the schema refused)."""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.catalog.curate import cli_curate, shares
from jobs.catalog.manifest_read import load_manifest
from schemas.manifest import SHARE_TOLERANCE
from tests.fixtures.corpus import write_catalog_table
from tests.fixtures.manifest import read_entries
from tests.jobs.catalog.test_curate import synthetic_catalog

EMBODIMENTS = {"oxe": "franka", "agibot": "agibot_gripper", "egodex": "human"}
TIERS = ("high", "low", "actionless")
# atoms a filter is built of: tiers, groups, lengths, as users write them
ATOMS = (
    "tier = 'high'",
    "tier <> 'rejected'",
    "tier IN ('high', 'low')",
    "source = 'oxe'",
    "subset = 's1'",
    "duration_s > 3.3",
    "num_frames BETWEEN 10 AND 70",
    "episode_index % 3 = 0",
    "has_action",
    "true",
)

group = st.tuples(st.sampled_from(tuple(EMBODIMENTS)), st.integers(0, 3), st.integers(1, 40))
episode = st.tuples(st.integers(0, 600), st.sampled_from(TIERS))


def _catalog(groups: list[tuple[str, int, int]], draws: list[tuple[int, str]]) -> pa.Table:
    """`test_curate`'s catalog of these groups, episode k's (frames, tier) drawn from `draws` cyclically."""
    groups = list(dict.fromkeys((source, f"s{sub}", EMBODIMENTS[source], n) for source, sub, n in groups))
    table = synthetic_catalog(groups)
    frames, tiers = zip(*(draws[k % len(draws)] for k in range(table.num_rows)), strict=True)
    uids = [f"{u}-{k}" for k, u in enumerate(table["episode_uid"].to_pylist())]  # two groups may share a subset
    columns = {
        "episode_uid": uids,
        "num_frames": frames,
        "duration_s": [f / 10 for f in frames],
        "tier": tiers,
        "tier_reasons": [[] if t == "high" else ["a reason"] for t in tiers],
        "has_action": [t != "actionless" for t in tiers],
    }
    for name, values in columns.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    return table


@settings(max_examples=30, deadline=None)
@given(
    groups=st.lists(group, min_size=1, max_size=6),
    draws=st.lists(episode, min_size=1, max_size=25),
    atoms=st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3),
    joins=st.lists(st.sampled_from((" AND ", " OR ")), min_size=2, max_size=2),
    balance=st.sampled_from(("none", "source", "subset")),
)
def test_every_filter_that_selects_an_episode_curates(
    groups: list[tuple[str, int, int]],
    draws: list[tuple[int, str]],
    atoms: list[str],
    joins: list[str],
    balance: str,
) -> None:
    catalog = _catalog(groups, draws)
    where = atoms[0] + "".join(j + a for j, a in zip(joins, atoms[1:], strict=False))
    selected = duckdb.sql(f"SELECT count(*) FROM catalog WHERE {where}").fetchall()[0][0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog_table(root, catalog, "part-a")
        args = argparse.Namespace(root=str(root), name="m", where=where, balance=balance, val_fraction=0.1)
        assert cli_curate(args) == (0 if selected else 1), (where, balance)
        if not selected:
            return
        m = load_manifest(root / "manifests/m")
        weights = read_entries(root / "manifests/m")["weight"].to_numpy()
    assert m.num_entries == selected and len(weights) == selected
    assert np.all(weights > 0) and math.isclose(weights.mean(), 1.0, rel_tol=1e-12)
    for share in (list(m.sampling_weights.values()), [e.weight for e in m.mixture]):
        assert all(0.0 <= s <= 1.0 for s in share)
        assert abs(math.fsum(share) - 1.0) <= SHARE_TOLERANCE


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 1e6, allow_subnormal=False), min_size=1, max_size=60).filter(any))
def test_shares_lie_in_the_unit_interval_and_sum_to_one(values: list[float]) -> None:
    s = shares(np.array(values))
    assert np.all((s >= 0.0) & (s <= 1.0))
    assert abs(math.fsum(s) - 1.0) <= SHARE_TOLERANCE


def test_one_dataset_is_all_the_weight(tmp_path: Path) -> None:
    # the case that exited 2: these lengths' masses summed by Arrow's group-by over their numpy sum gave 1 + 2 ulp
    write_catalog_table(
        tmp_path, _catalog([("oxe", 0, 8)], [(f, "high") for f in (222, 50, 332, 139, 356, 16, 509, 566)]), "p"
    )
    args = argparse.Namespace(root=str(tmp_path), name="m", where="tier = 'high'", balance="none", val_fraction=0.1)
    assert cli_curate(args) == 0
    m = load_manifest(tmp_path / "manifests/m")
    assert [e.weight for e in m.mixture] == [1.0] and m.sampling_weights == {"oxe": 1.0}
