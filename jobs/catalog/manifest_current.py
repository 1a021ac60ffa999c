"""Whether a manifest's episodes are still the corpus's (issue 98 item 5): a source re-read under a changed spec
(`eidata ingest --reread`) or taken out of the corpus leaves a manifest made before naming episodes whose files now
hold other frames, or that are no longer there. Used as it is, an export, a latents run or a training run would take
the new episodes under the old selection, or fail half way on the missing ones.

A manifest's entries record what each episode held when it was curated (`schemas.manifest.CONTENT_COLUMNS`: the
catalog's `content_hash` and `reading`); `check_current` compares them with the catalog's rows, by one join over
the columns alone (no episode's meta is read): an entry whose episode sits at another place (dataset, index), is
no longer cataloged or is quarantined is gone; one whose content_hash or reading differs is changed. Any of
either stops the command, naming them and the `eidata curate` that remakes the manifest from the corpus as it is.

No flag proceeds on the unchanged rest: the manifest's weights, splits and mixture were computed over all its
episodes, and a subset of it is a selection nobody made; remaking it is one curate. A manifest made before entries
recorded content cannot be checked for a change, only for gone episodes: said in a warning, and used as before.
"""

from __future__ import annotations

import inspect
import logging
import shlex
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.catalog.census import open_catalog
from jobs.catalog.manifest_arg import corpus_of
from jobs.catalog.manifest_read import entries_file, load_manifest
from jobs.catalog.parts import parquet_files
from schemas.corpus import EPISODES_DIR
from schemas.manifest import CONTENT_COLUMNS, MANIFEST_JSON, check_entries
from schemas.storage import CatalogError, NotACorpus
from schemas.tiers import RoutingTable

log = logging.getLogger(__name__)

SHOWN = 3  # uids an error names of each kind
KEYS = ("episode_uid", "dataset", "episode_index")

# one row per entry that is not as curated: gone (not at its place in the catalog, or quarantined since), else
# changed (its content_hash or reading differs; only where the entry recorded them). `episodes`, `quarantine`: the
# catalog's views (`query.connect`); `entries`: the manifest's
DRIFT_SQL = """SELECT DISTINCT m.episode_uid,
       e.episode_uid IS NULL OR EXISTS (SELECT 1 FROM quarantine AS q WHERE q.episode_uid = m.episode_uid) AS gone
FROM entries AS m
LEFT JOIN (SELECT e.episode_uid, e.dataset, e.episode_index, {content} FROM episodes AS e) AS e
       ON e.episode_uid = m.episode_uid AND e.dataset = m.dataset AND e.episode_index = m.episode_index
WHERE gone OR (m.content_hash IS NOT NULL
               AND (e.content_hash IS DISTINCT FROM m.content_hash OR e.reading IS DISTINCT FROM m.reading))
ORDER BY m.episode_uid"""


class ManifestStaleError(CatalogError):
    """The manifest names episodes the corpus has changed or no longer holds (exit 1, as every catalog refusal)."""


@dataclass(frozen=True)
class Drift:
    """The manifest's entries that are not as curated, by uid (sorted), and how many could not be checked for a
    change (gone ones are found whatever the entries recorded)."""

    entries: int
    changed: list[str]
    gone: list[str]
    unchecked: int  # entries without a record of their content (a manifest made before entries kept one)


def drift(corpus_root: Path, manifest_dir: Path, entries: pa.Table | None = None) -> Drift:
    """The manifest's entries (`entries`, as its reader read and checked them, else read here) compared with the
    catalog of the corpus folder `corpus_root` (a bucket's: its local copy); CatalogError when the corpus has no
    catalog to compare them with."""
    from jobs.catalog.overrule import later_columns  # duckdb: only where a manifest is used
    from jobs.catalog.query import connect

    table = check_entries(pq.read_table(entries_file(manifest_dir)), manifest_dir) if entries is None else entries
    if not parquet_files(corpus_root, EPISODES_DIR):
        raise CatalogError(f"{corpus_root}: no catalog to check the manifest {manifest_dir.name} against")
    con = connect(corpus_root)
    try:
        columns = con.sql("SELECT * FROM episodes LIMIT 0").columns
        con.register("entries", table.select([*KEYS, *CONTENT_COLUMNS]))
        found = con.sql(DRIFT_SQL.format(content=later_columns(columns, CONTENT_COLUMNS))).to_arrow_table()
    finally:
        con.close()
    uids, gone = found["episode_uid"].to_pylist(), found["gone"].to_pylist()
    return Drift(
        entries=table.num_rows,
        changed=[u for u, g in zip(uids, gone, strict=True) if not g],
        gone=[u for u, g in zip(uids, gone, strict=True) if g],
        unchecked=table["content_hash"].null_count,
    )


def check_current(corpus_root: Path, manifest_dir: Path, where: Path | str, entries: pa.Table | None = None) -> None:
    """ManifestStaleError, one line, when the manifest folder `manifest_dir` names episodes that changed or are gone
    since it was made (`drift`) in the corpus folder `corpus_root` (named `where` to the user): a command would use
    it on a mix of old and new. Entries that could not be checked for a change are said in a warning. Every command
    that takes `--manifest` calls it where it reads one: `selection.manifest_episodes` (latents, caption, the gr00t
    and lda exports), the LeRobot exports' `_manifest_dir`, `check_manifest_corpus` (train, eval). `entries`: the
    manifest's entries where the caller read them (`check_entries`): 1.2 CPU-s a read at 1M."""
    found = drift(corpus_root, manifest_dir, entries)
    if found.unchecked:
        log.warning(
            "manifest %s: %d of its %d entries were curated before manifests recorded their episodes' content, so "
            "whether they changed since (a re-read) cannot be checked, only whether they are gone; %s remakes it "
            "with that record",
            manifest_dir.name,
            found.unchecked,
            found.entries,
            curate_command(where, manifest_dir),
        )
    if not (found.changed or found.gone):
        return
    kinds = (
        ("changed", found.changed, "re-read or rewritten"),
        ("gone", found.gone, "no longer in the corpus, moved or quarantined"),
    )
    parts = [
        f"{len(uids)} {what} ({', '.join(uids[:SHOWN])}{', ...' if len(uids) > SHOWN else ''}: {why})"
        for what, uids, why in kinds
        if uids
    ]
    raise ManifestStaleError(
        f"manifest {manifest_dir.name}: {len(found.changed) + len(found.gone)} of its {found.entries} episodes "
        f"changed or gone since this manifest was made: {'; '.join(parts)}. It is not used on a mix of old and new: "
        f"{curate_command(where, manifest_dir)} remakes it from the corpus as it is"
    )


def check_manifest_corpus(manifest: str, reader: str) -> None:
    """The corpus the manifest folder `manifest` lies in (ROOT/manifests/NAME), checked for a reader of the manifest
    that opens no catalog itself (`train`, `eval`): its catalog as `census.open_catalog` checks it (the manifest was
    selected from that catalog, so a catalog that no longer describes the datasets is named before any dataset is
    opened), then the manifest's episodes against it (`check_current`). A manifest folder outside a corpus has
    nothing to check. A bucket's is checked as a folder's: datasets put there as plain objects (DESIGN.md 3.4),
    without the commit records its copy's meta is derived from, are read where they lie (`census.differences`), and
    the manifest from the copy `Corpus.read` makes of `manifests/`."""
    corpus = corpus_of(manifest)
    if corpus is None:
        return
    try:
        with open_catalog(corpus, reader) as opened:
            folder = opened.local(manifest)
            if folder is not None and (folder / MANIFEST_JSON).is_file():  # one not there: its reader names it
                _check_readable(opened.root, folder, corpus)
    except NotACorpus:
        return


def _check_readable(corpus_root: Path, manifest_dir: Path, where: str) -> None:
    """`check_current`, but for a manifest that cannot be read (bad JSON, a wrong entries schema): left to its
    reader, which refuses it naming why, as before this check."""
    try:
        check_current(corpus_root, manifest_dir, where)
    except (OSError, ValueError) as e:  # its refusals are CatalogErrors, neither of these
        log.debug("%s: not checked against its corpus (%s)", manifest_dir, e)


def curate_command(where: Path | str, manifest_dir: Path) -> str:
    """The `eidata curate` that makes the manifest in `manifest_dir` again over the corpus `where`, `--overwrite`:
    its name, where, balance, val fraction and verdict choices as its manifest.json holds them (those at curate's
    default left out); `--where ...` where that file cannot be read."""
    from jobs.catalog.curate import curate  # its defaults

    words = ["eidata", "curate", shlex.quote(str(where)), "--name", shlex.quote(manifest_dir.name)]
    try:
        manifest = load_manifest(manifest_dir)
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return f"`{' '.join([*words, '--where ...', '--overwrite'])}`"
    default = {k: p.default for k, p in inspect.signature(curate).parameters.items()}
    words += ["--where", _quoted(manifest.where)]
    if manifest.balance != default["balance"]:
        words += ["--balance", manifest.balance]
    if manifest.split.val_fraction != default["val_fraction"]:
        words += ["--val-fraction", f"{manifest.split.val_fraction:g}"]
    words += [f"--include-verdict {shlex.quote(code)}" for code in manifest.include_verdicts]
    words += [f"--exclude-verdict {shlex.quote(code)}" for code in manifest.exclude_verdicts]
    routing = "" if manifest.routing == RoutingTable.default() else " (and --routing: the table manifest.json holds)"
    return f"`{' '.join([*words, '--overwrite'])}`{routing}"


def _quoted(text: str) -> str:
    """`text` as one shell word, in double quotes where it holds single ones and nothing a shell expands there
    (`--where "tier = 'high'"`, as the ingest summary writes it), else as `shlex.quote` gives it."""
    if shlex.quote(text) != text and not set(text) & set('"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)
