"""`jobs.catalog.selection`: `--manifest` and `--where` of a stage give the episodes curate would, per dataset; both
given, the episodes both select; what cannot be selected is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.catalog.selection import SelectionError, manifest_episodes, select, where_episodes
from tests.fixtures.corpus import episode, write_dataset

BRIDGE, CLIPS = "datasets/oxe/bridge", "datasets/oxe/clips"


def two_datasets(root: Path) -> Path:
    """Two datasets (4 + 2 episodes), its catalog and a manifest `some` of the bridge's first two episodes and the
    second clip."""
    write_dataset(root / BRIDGE, "franka", [episode(6 + i, "pick", f"oxe/bridge/e{i}", "franka") for i in range(4)])
    write_dataset(root / CLIPS, "franka", [episode(5 + i, "push", f"oxe/clips/c{i}", "franka") for i in range(2)])
    rebuild_catalog(Corpus(root))
    where = "episode_uid IN ('oxe/bridge/e0', 'oxe/bridge/e1', 'oxe/clips/c1')"
    curate(root, "some", where, val_fraction=0.0)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_datasets(tmp_path_factory.mktemp("selection") / "corpus")


def test_a_manifest_selects_its_episodes_by_name_folder_or_file(corpus: Path) -> None:
    want = {BRIDGE: {0, 1}, CLIPS: {1}}
    for given in ("some", str(corpus / "manifests/some"), str(corpus / "manifests/some/entries.parquet")):
        assert manifest_episodes(corpus, given) == want, given


def test_where_selects_as_curate_does(corpus: Path) -> None:
    assert where_episodes(corpus, "subset = 'clips'") == {CLIPS: {0, 1}}
    assert where_episodes(corpus, "num_frames > 7") == {BRIDGE: {2, 3}}  # lengths 6..9


def test_both_select_what_both_take_and_neither_selects_all(corpus: Path) -> None:
    both = select(corpus, "some", "subset = 'bridge'")
    assert both is not None and both.episodes == {BRIDGE: {0, 1}} and len(both) == 2
    assert both.said == "manifest some and where subset = 'bridge'"
    assert select(corpus, None, None) is None


def test_what_cannot_be_selected_is_refused_by_name(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(SelectionError, match=r"manifests/nope: no entries\.parquet.*has the manifests some"):
        manifest_episodes(corpus, "nope")
    with pytest.raises(SelectionError, match="--where"):
        where_episodes(corpus, "1; DROP TABLE episodes")
    with pytest.raises(SelectionError, match=r"no catalog.*eidata catalog"):
        where_episodes(tmp_path, "true")
    chosen = select(corpus, "some", None)
    assert chosen is not None
    only_bridge = [corpus / BRIDGE]  # a copy of the corpus without the clips
    with pytest.raises(SelectionError, match=f"lacks: {CLIPS}; curate again"):
        chosen.datasets(corpus, only_bridge)
    with pytest.raises(SelectionError, match=r"has no episodes \[1\]"):
        chosen.keep(corpus, corpus / CLIPS, {0: 5})


def test_a_manifest_is_read_once_and_that_read_checked_against_the_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 99: `--manifest` reads its entries once (1.2 CPU-s a read at 1M episodes) and checks that table against
    the catalog (`check_current`): an entry whose content changed since it was curated is refused. Counted reads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.catalog.manifest_current import ManifestStaleError
    from jobs.catalog.manifest_read import entries_file

    root = two_datasets(tmp_path / "corpus")
    entries, read = entries_file(root / "manifests/some"), pq.read_table
    reads: list[str] = []
    monkeypatch.setattr(pq, "read_table", lambda source, *a, **k: reads.append(str(source)) or read(source, *a, **k))
    assert manifest_episodes(root, "some") == {BRIDGE: {0, 1}, CLIPS: {1}}
    assert reads.count(str(entries)) == 1, reads
    table = read(entries)
    hashes = ["0" * 64, *table["content_hash"].to_pylist()[1:]]
    pq.write_table(
        table.set_column(table.schema.get_field_index("content_hash"), "content_hash", pa.array(hashes)), entries
    )
    with pytest.raises(ManifestStaleError, match="1 of its 3 episodes changed or gone"):
        manifest_episodes(root, "some")
