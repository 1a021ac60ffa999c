"""Issue 86 item 1: every folder a command writes is locked as ingest's corpus is (`jobs.output_lock`): a train run
folder, an export's output (every format), a manifest. While another process holds it the command is refused (exit
1) naming that pid, before any work; a holder killed without releasing leaves its pid, and the next taker takes the
lock over saying so; a holder that ends cleanly leaves none. On 00f20645 two `eidata train` runs into one run folder
both ran (metrics.jsonl got every step twice)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.export import EXPORT_FORMATS
from jobs.output_lock import OutputLock
from schemas.corpus import JOB_DIR
from tests.training.corpus import build_corpus

REPO = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys, time; from jobs.output_lock import OutputLock; "
    "OutputLock(sys.argv[1], sys.argv[2]); print('held', flush=True); time.sleep(600)"
)
TRAIN = ["--preset", "tiny", "--num-workers", "0", "--device", "cpu", "--lara", "off", "--steps", "1"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@contextmanager
def held_by_another(folder: Path, kind: str) -> Iterator[int]:
    """Another process holding `kind`'s lock on `folder`, killed (SIGKILL: no release) when the block ends."""
    argv = [sys.executable, "-c", HOLD, str(folder), kind]
    child = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("locks") / "corpus")


def test_a_clean_end_leaves_no_pid_and_a_dead_holder_is_taken_over_saying_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jobs.output_lock")
    with OutputLock(tmp_path / "run", "train"):
        pass
    assert not (tmp_path / "run").exists()  # nothing written (a bad call): the folders it made are gone
    run = tmp_path / "run2"
    with OutputLock(run, "train"):
        (run / "metrics.jsonl").touch()
    assert (run / JOB_DIR / "train.lock").read_text() == ""  # released: nobody to call dead
    with OutputLock(run, "train") as lock:
        assert lock.took_over is None
    assert not caplog.records
    with held_by_another(run, "train") as pid:
        pass  # killed holding it
    with OutputLock(run, "train") as lock:
        assert lock.took_over == str(pid)
    assert f"took over the train lock of pid {pid}, which ended without releasing it" in caplog.text


def test_a_second_train_into_one_run_folder_is_refused_naming_the_first(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    with held_by_another(run, "train") as pid:
        assert main(["train", "--manifest", str(manifest), "--out", str(run), *TRAIN]) == 1
        assert f"another train job (pid {pid}) is writing this output" in capsys.readouterr().err
        assert not (run / "metrics.jsonl").exists()  # refused before any work
    caplog.set_level(logging.WARNING, logger="jobs.output_lock")
    assert main(["train", "--manifest", str(manifest), "--out", str(run), *TRAIN]) == 0  # the dead one's taken over
    assert f"took over the train lock of pid {pid}" in caplog.text
    assert (run / JOB_DIR / "train.lock").read_text() == ""


@pytest.mark.parametrize("fmt", sorted(EXPORT_FORMATS))
def test_a_second_export_into_one_output_is_refused_naming_the_first(
    fmt: str, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out = manifest.parents[1], tmp_path / "out"
    with held_by_another(out, "export") as pid:  # whichever format holds it: one output, one export
        assert main(["export", str(root), "--format", fmt, "--out", str(out)]) == 1
    assert f"another export job (pid {pid}) is writing this output" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [JOB_DIR]  # nothing written


def test_a_second_curate_of_one_manifest_is_refused_naming_the_first(
    manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = manifest.parents[1]
    with held_by_another(root, "curate-locked") as pid:
        assert main(["curate", str(root), "--name", "locked", "--where", "true"]) == 1
    assert f"another curate-locked job (pid {pid}) is writing this output" in capsys.readouterr().err
    assert not (root / "manifests" / "locked").exists()
