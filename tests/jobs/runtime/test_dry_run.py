"""A dry run writes nothing, for every command that takes `--dry-run`.

- The net (`jobs.runtime.dry_run.refusing_writes`): under guarded folders, opening a file to write, making a folder,
  renaming, removing or touching one raises `DryRunWriteError` naming the path; reads and writes elsewhere pass.
- Every command whose parser has `--dry-run` (found in `jobs/cli.py`'s table, so that a new one must be added here)
  run the way a user runs it, with each of its forms (every export format, a manifest and a corpus), on a small
  corpus with an earlier export in its output: the corpus's and the output's trees, sizes and file times are what
  they were, the private TMPDIR stays empty, and the printout says what would be written. Before the fix,
  `eidata export --format lerobot-v3 --dry-run` wrote the whole export and printed "written".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.root import Root
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.cli import build_parser, main
from jobs.runtime.dry_run import refusing_writes
from schemas.storage import DryRunWriteError
from tests.fixtures.corpus import episode, write_dataset


def test_the_net_refuses_every_change_under_its_folders(tmp_path: Path) -> None:
    guarded, free = tmp_path / "guarded", tmp_path / "free"
    guarded.mkdir()
    free.mkdir()
    (guarded / "a.txt").write_text("a")
    changes = [
        lambda: open(guarded / "b.txt", "w"),  # noqa: SIM115
        lambda: open(guarded / "a.txt", "a"),  # noqa: SIM115
        lambda: os.open(guarded / "c", os.O_CREAT | os.O_WRONLY),
        lambda: (guarded / "d").mkdir(),
        lambda: os.replace(guarded / "a.txt", guarded / "e.txt"),
        lambda: os.rename(free, guarded / "f"),
        lambda: (guarded / "a.txt").unlink(),
        lambda: shutil.rmtree(guarded),
        lambda: os.utime(guarded / "a.txt"),
    ]
    with refusing_writes([guarded]):
        for change in changes:
            with pytest.raises(DryRunWriteError, match=f"a dry run writes nothing: .* of {guarded}"):
                change()
        assert (guarded / "a.txt").read_text() == "a"  # reading passes
        (free / "g.txt").write_text("g")  # and writing elsewhere
    (guarded / "h.txt").write_text("h")  # the block over: no guard
    assert sorted(p.name for p in guarded.iterdir()) == ["a.txt", "h.txt"]
    assert Root.local_folders(["s3://bucket/corpus", str(free), None]) == [free]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dry") / "corpus"
    bridge = [episode(6 + i, "pick", f"oxe/bridge/e{i}", "franka") for i in range(3)]
    write_dataset(root / "datasets/oxe/bridge", "franka", bridge)
    clip = [episode(5, "pick", "oxe/clips/c0", "franka")]
    write_dataset(root / "datasets/oxe/clips", "franka", clip, camera=(16, 24))  # resized by a manifest export
    rebuild_catalog(Corpus(root))
    curate(root, "all", "true", val_fraction=0.0)
    return root


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folders`: (size, mtime in ns)."""
    out = {}
    for folder in folders:
        for p in [folder, *folder.rglob("*")] if folder.exists() else []:
            st = p.stat()
            out[str(p)] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


# each command taking --dry-run -> its forms: (arguments after the command with ROOT and OUT, what it prints)
FORMS: dict[str, list[tuple[list[str], str]]] = {
    "export": [
        # other options than the earlier export's: a real run would rewrite it
        (["--format", "lerobot-v3", "--out", "OUT", "--manifest", "all", "--caption-as-task"], "to write  4 episodes"),
        (["--format", "lerobot-v3", "--out", "OUT", "--manifest", "all"], "unchanged 4 episodes"),
        (["--format", "lerobot-v3", "--out", "OUT/fresh"], "oxe/clips                                to write"),
        (["--format", "lerobot-v21", "--out", "OUT/v21", "--manifest", "all", "--frame-size", "64x64"], "to write"),
        (["--format", "gr00t"], "to write  datasets/oxe/bridge"),
        (["--format", "gr00t", "--out", "OUT/gr00t"], "to write  datasets/oxe/bridge"),
        (["--format", "lda", "--out", "OUT/lda"], "to write oxe/bridge single_arm, 3 episodes"),
        (["--format", "lingbot-va", "--out", "OUT/lingbot", "--vae", "OUT/none", "--text-encoder", "OUT/none"], ""),
    ],
    "verdicts": [([], "would rewrite")],
    "remove": [(["oxe"], "would remove oxe; manifests selecting their episodes: {'all': 4}")],
    # no model: the rules' plan (a --model needs a Qwen3-VL folder; its dry run is the same plan, no model loaded)
    "caption": [([], "to caption  datasets/oxe/bridge  3 episodes"), (["--text-embeddings"], "")],
    "latents": [(["--random-init", "--manifest", "all"], "would compute 4 episodes")],
}


def dry_run_commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(name for name, p in sub.choices.items() if any("--dry-run" in a.option_strings for a in p._actions))


# commands whose dry run takes no corpus ROOT, checked in their own test (the same snapshot)
ELSEWHERE = {"ingest": "tests/jobs/ingest/test_dry_run.py"}


def test_every_command_with_a_dry_run_is_checked() -> None:
    assert dry_run_commands() == sorted([*FORMS, *ELSEWHERE])


@pytest.mark.parametrize(
    ("command", "form"), [(c, i) for c, forms in FORMS.items() for i in range(len(forms))], ids=str
)
def test_a_dry_run_writes_nothing(
    command: str, form: int, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    root, out, tmp = tmp_path / "corpus", tmp_path / "out", tmp_path / "tmp"
    shutil.copytree(corpus, root)
    tmp.mkdir()
    # an earlier export in the output, and a partial folder a killed run left: both stay as they are
    assert main(["export", str(root), "--format", "lerobot-v3", "--out", str(out), "--manifest", "all"]) == 0
    (out / ".all.partial-killed").mkdir()
    capsys.readouterr()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    args, said = FORMS[command][form]
    argv = [command, str(root), *[a.replace("OUT", str(out)) for a in args], "--dry-run"]
    before = snapshot(root, out)
    status = main(argv)
    printed = capsys.readouterr()
    assert snapshot(root, out) == before, (argv, printed)
    assert not any(tmp.iterdir()), list(tmp.iterdir())
    assert status in (0, 2), (status, printed)  # lingbot-va without model folders: 2, nothing done
    assert said in printed.out, printed
