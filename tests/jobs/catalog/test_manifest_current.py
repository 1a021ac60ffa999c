"""`jobs.catalog.manifest_current`: a manifest made before a re-read or a removal is refused by every command that
uses it (export, latents, train, eval), naming how many of its episodes changed or are gone, a few of them, and the
`eidata curate` that remakes it; remade, it is used. A manifest made before entries recorded content is said to be
uncheckable for a change and used as before. At e7043c41 each command used the old manifest on the new corpus: the
re-read UR5e log's export planned the re-read episode under the old selection (exit 0); on the rewritten fixture the
export planned 2 episodes, bridge's index 1 (now e2) under e1's uid and the moved c1 left out unsaid ('skipped: none',
exit 0), latents stopped on c1's index as a bad call (exit 2), train indexed until it met it (exit 1)."""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

import jobs.cli
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.catalog.manifest_current import drift
from jobs.catalog.manifest_read import entries_file
from jobs.catalog.parts import write_quarantine_part
from jobs.catalog.query import run_query
from schemas.manifest import CONTENT_COLUMNS, ENTRIES_PARQUET, MANIFEST_JSON
from tests.fixtures.corpus import episode, quarantine_row, write_dataset
from tests.fixtures.table_logs import NOTTS
from tests.jobs.catalog.test_selection import BRIDGE, CLIPS, two_datasets
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray  # the ingests and stages run on one Ray (tests/ray_scope.py)

SOME = "episode_uid IN ('oxe/bridge/e0', 'oxe/bridge/e1', 'oxe/clips/c1')"  # the manifest `some` of `two_datasets`


def _uses(root: Path, name: str, tmp_path: Path) -> dict[str, list[str]]:
    """Every command that takes `--manifest`, each through its own door: a LeRobot export's, the stages' selection
    (latents; the gr00t and lda exports and caption share it), train's and eval's catalog check."""
    folder = str(root / "manifests" / name)
    return {
        "export": ["export", str(root), "--format", "lerobot-v3", "--out", str(tmp_path / "out"), "--manifest", name],
        "lda": ["export", str(root), "--format", "lda", "--out", str(tmp_path / "lda"), "--manifest", name],
        "latents": ["latents", str(root), "--random-init", "--manifest", name],
        "train": ["train", "--manifest", folder, "--out", str(tmp_path / "run")],
        "eval": ["eval", "--checkpoint", str(tmp_path / "none.pt"), "--manifest", folder],
    }


def _dry(command: list[str]) -> list[str]:
    return [*command, "--dry-run"] if command[0] in ("export", "latents") else command


def _refused(root: Path, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], said: str) -> str:
    """Each use of the manifest exits 1 saying `said`; the curate command the message names."""
    commands = set()
    for what, command in _uses(root, name, tmp_path).items():
        capsys.readouterr()
        assert jobs.cli.main(_dry(command)) == 1, what
        err = capsys.readouterr().err
        assert said in err and "It is not used on a mix of old and new: `eidata curate" in err, (what, err)
        commands.add(err.split("`")[1])
    (command,) = commands  # every door names the same one
    return command


def _rewrite(root: Path) -> None:
    """The corpus after a team's second pass: oxe/bridge/e0 written again, longer (changed), oxe/bridge/e1 left out
    (gone), oxe/clips/c1 now the clips' first episode (moved: gone from where the manifest has it); the catalog
    rebuilt, so it describes the corpus as it is."""
    for ds in (BRIDGE, CLIPS):
        shutil.rmtree(root / ds)
    write_dataset(
        root / BRIDGE, "franka", [episode(n, "pick", f"oxe/bridge/e{i}", "franka") for i, n in [(0, 9), (2, 8)]]
    )
    write_dataset(root / CLIPS, "franka", [episode(6, "push", "oxe/clips/c1", "franka")])
    rebuild_catalog(Corpus(root))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_datasets(tmp_path_factory.mktemp("current") / "corpus")


@pytest.fixture
def corpus(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "corpus"))


def test_a_manifest_records_what_each_episode_held(corpus: Path) -> None:
    entries = pq.read_table(entries_file(corpus / "manifests/some")).select(["episode_uid", *CONTENT_COLUMNS])
    sql = f"SELECT episode_uid, content_hash, reading FROM episodes WHERE {SOME} ORDER BY 1"
    assert entries.to_pylist() == run_query(corpus, sql).to_pylist()
    assert drift(corpus, corpus / "manifests/some").changed == []


def test_every_use_of_a_manifest_made_before_a_rewrite_refuses_it_and_the_command_named_remakes_it(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _rewrite(corpus)
    said = (
        "manifest some: 3 of its 3 episodes changed or gone since this manifest was made: 1 changed "
        "(oxe/bridge/e0: re-read or rewritten); 2 gone (oxe/bridge/e1, oxe/clips/c1: no longer in the corpus, moved "
        "or quarantined)"
    )
    command = _refused(corpus, "some", tmp_path, capsys, said)
    assert command == f'eidata curate {corpus} --name some --where "{SOME}" --val-fraction 0 --overwrite'

    assert jobs.cli.main(shlex.split(command)[1:]) == 0  # the command as said: the manifest of the corpus as it is
    for what, used in _uses(corpus, "some", tmp_path).items():
        capsys.readouterr()
        status = jobs.cli.main(_dry(used))
        err = capsys.readouterr().err
        assert "changed or gone" not in err, (what, err)
        assert status == 0 or what in ("train", "eval", "lda"), (what, err)  # no latents, no checkpoint, no LDA space


def test_an_episode_quarantined_since_is_gone(corpus: Path) -> None:
    write_quarantine_part(corpus, [quarantine_row(episode_uid="oxe/clips/c1", source="oxe", subset="clips")], "job-9")
    found = drift(corpus, corpus / "manifests/some")
    assert (found.changed, found.gone, found.entries, found.unchecked) == ([], ["oxe/clips/c1"], 3, 0)


def _as_before(folder: Path) -> None:
    """The manifest as an eidata before entries recorded content wrote it: `entries.parquet` of the six columns."""
    table = pq.read_table(entries_file(folder)).drop_columns(list(CONTENT_COLUMNS))
    entries_file(folder).unlink()
    pq.write_table(table, folder / ENTRIES_PARQUET)
    doc = json.loads((folder / MANIFEST_JSON).read_text())
    (folder / MANIFEST_JSON).write_text(json.dumps({**doc, "entries": ENTRIES_PARQUET}))


def test_a_manifest_made_before_entries_recorded_content_says_so_and_is_used(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    _as_before(corpus / "manifests/some")
    with caplog.at_level(logging.WARNING, logger="jobs.catalog.manifest_current"):
        assert jobs.cli.main(_dry(_uses(corpus, "some", tmp_path)["latents"])) == 0
    assert "manifest some: 3 of its 3 entries were curated before manifests recorded their episodes' content" in (
        caplog.text
    )
    assert "3 episodes selected (manifest some)" in capsys.readouterr().out
    _rewrite(corpus)  # what it cannot see is a change; a gone episode it still finds
    said = "manifest some: 2 of its 3 episodes changed or gone since this manifest was made: 2 gone (oxe/bridge/e1,"
    _refused(corpus, "some", tmp_path, capsys, said)


def _spec(tmp_path: Path, robot: str) -> Path:
    """The real UR5e log read as `robot` (tests/jobs/ingest/test_reread.py's case)."""
    raw = tmp_path / "raw"
    if not raw.exists():
        raw.mkdir()
        shutil.copy(realdata("table_log_ur5e_notts/UR5e_motion_full.csv"), raw)
    options = {"fps": 125, "columns": NOTTS, "robot": robot}
    source = {"name": "ur5e_logs", "adapter": "table_log", "root": str(raw), "options": options}
    path = tmp_path / f"spec-{robot}.yaml"
    path.write_text(yaml.safe_dump({"output": str(tmp_path / "corpus"), "sources": [source]}), encoding="utf-8")
    return path


def test_a_manifest_made_before_a_re_read_is_refused_and_one_made_after_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    assert jobs.cli.main(["ingest", str(_spec(tmp_path, "ur5e"))]) == 0
    curate(corpus, "before", "TRUE", val_fraction=0.0)
    (uid,) = run_query(corpus, "SELECT episode_uid FROM episodes").column(0).to_pylist()
    assert jobs.cli.main(["ingest", str(_spec(tmp_path, "ur3e")), "--reread", "ur5e_logs"]) == 0
    curate(corpus, "after", "TRUE", val_fraction=0.0)

    said = f"manifest before: 1 of its 1 episodes changed or gone since this manifest was made: 1 changed ({uid}:"
    command = _refused(corpus, "before", tmp_path, capsys, said)
    assert command == f"eidata curate {corpus} --name before --where TRUE --val-fraction 0 --overwrite"
    for what in ("export", "latents"):
        assert jobs.cli.main(_dry(_uses(corpus, "after", tmp_path)[what])) == 0, capsys.readouterr().err
    assert jobs.cli.main(_uses(corpus, "after", tmp_path)["train"]) == 1  # no image latents: but used
    assert "changed or gone" not in capsys.readouterr().err
