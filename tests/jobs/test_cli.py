"""The `eidata` entry point: `main` runs the command's job and returns its status; a command imports only its own
options; and what `eidata ingest` loads before it knows whether there is work: checking a spec loads none of the
heavy packages (issue 25 item 5). The import checks run the CLI in a fresh interpreter, as a user does, and read its
`sys.modules`. (The frozen option surface: test_cli_surface.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jobs.cli import EXIT_BROKEN_PIPE, main, parse
from schemas.settings import ENV, current
from tests.fixtures.corpus import episode, write_dataset
from tests.fixtures.layouts import load_case, materialize
from tests.fixtures.without_videos import without_videos
from tests.realdata import realdata

LAYOUTS = Path(__file__).parents[1] / "fixtures" / "lerobot_layouts"

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "ray", "av", "scipy")
PROBE = (
    "import json, sys\n"
    "from jobs.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n"
)


def test_checking_a_spec_loads_no_heavy_package(tmp_path: Path) -> None:
    """A spec whose one problem is its adapter's name: the whole spec is validated (codec, deadline, canonicalize,
    parallelism) and the ingest job's module is imported, then the CLI exits 2. No adapter module is loaded (the
    name resolves to none), so what the run imported is the CLI's own path: it must hold none of `HEAVY`."""
    (tmp_path / "raw").mkdir()
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            output: out
            sources:
              - name: s
                adapter: no_such_adapter
                root: raw
            codec: {preset: "12", crf: 30}
            canonicalize: {fps: 10, image: {size: 224x224}}
            parallelism: {num_cpus: 1, deadline: {base_s: 30}}
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "ingest", str(spec)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert "sources[0].adapter" in run.stderr, run.stderr  # the spec was checked and its problem named
    code, loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert code == 2
    assert loaded == [], f"checking a spec imported {loaded}"
    assert not (tmp_path / "out").exists()  # no work started


def test_main_runs_the_command_and_returns_its_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_dataset(tmp_path / "franka", "franka", [episode(3, "pick", "franka/pick/e0", "franka")])
    assert main(["inspect", str(root)]) == 0
    assert "franka" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown command 'no-such-command'; known: " in err and " caption," in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["curat", "x"], "eidata: error: unknown command 'curat'; did you mean 'curate'?"),
        # the typo is named, not the required --where it hides
        (["curate", "x", "--name", "n", "--whre", "a"], "unrecognized arguments: --whre (did you mean '--where'?)"),
        (["export", "x", "--formt=lda"], "unrecognized arguments: --formt (did you mean '--format'?)"),
    ],
)
def test_a_misspelt_command_or_option_is_refused_with_the_closest(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and said in capsys.readouterr().err


def test_an_abbreviated_option_is_still_read() -> None:
    assert parse(["curate", "x", "--wh", "a", "--name", "b"]).where == "a"


def test_settings_are_refused_naming_the_field_before_the_command_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "{}")  # the command's settings are left to the processes it starts: restored after
    root, toml = (
        write_dataset(tmp_path / "franka", "franka", [episode(3, "pick", "franka/pick/e0", "franka")]),
        tmp_path / "s.toml",
    )
    toml.write_text("max_columns = 0\n")
    assert main(["inspect", str(root), "--settings", str(toml)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"eidata inspect: {toml}: max_columns: Input should be greater than 0 (got 0)"
    )
    assert main(["inspect", str(root), "--settings", str(tmp_path / "none.toml")]) == 2  # a file not there: named
    assert capsys.readouterr().err.startswith(f"eidata inspect: {tmp_path / 'none.toml'}: [Errno 2] No such file")
    toml.write_text("max_columns = 7\n")
    assert main(["inspect", str(root), "--settings", str(toml)]) == 0 and current().max_columns == 7


def test_inspect_reads_what_ingest_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 59: `inspect` called a LeRobot v3.0 dataset unreadable ("episodes 0 (info 50) ... convert it to v2.1
    first") that ingest reads. It reads through the LeRobot adapter now: the real two-hand v3.0 layout whose mp4s lie
    under video/ (`tests/fixtures/lerobot_layouts/lingzu_open50_v30`) gives its episodes, frames and tasks, the
    relocated videos as a warning, exit 0; a folder without info.json one line and exit 1."""
    root = tmp_path / "lingzu"
    materialize(load_case(LAYOUTS / "lingzu_open50_v30"), root)
    assert main(["inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "episodes 2 (info 2), frames 72 (info 72), tasks 2" in out, out
    assert "[warning] video_path_relocated" in out and "[info] v3_layout" in out and "0 error" in out
    assert main(["inspect", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith("eidata inspect: ")


def test_a_command_imports_only_its_own_options() -> None:
    probe = (
        "import sys; from jobs.cli import build_parser; build_parser('inspect').parse_args(['inspect', '.']); "
        "print(sorted(m for m in sys.modules if m.startswith(('jobs.stages', 'jobs.export', 'jobs.ingest', 'torch'))))"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


def test_an_export_other_than_lingbot_imports_no_torch() -> None:
    """Issue 99: the `export` parser reads the lingbot-va group's options for every format; they lived beside its
    Wan2.2 encoders, so every export, a dry run of gr00t, LeRobot or LDA included, imported torch (~3.4 CPU-s)."""
    probe = (
        "import importlib, sys; from jobs.cli import build_parser; from jobs.export import EXPORT_FORMATS; "
        "build_parser('export').parse_args(['export', '.', '--format', 'lerobot-v3', '--out', 'o', '--dry-run']); "
        "[importlib.import_module(m) for f, m in EXPORT_FORMATS.items() if f != 'lingbot-va']; "
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


def test_a_reader_gone_ends_the_command_quietly() -> None:
    """Issue 50 item 10: `eidata validate ... | head` ended in a BrokenPipeError traceback. Here stdout is a pipe whose
    reading end is closed before the CLI starts, so its first write fails as it does once `head` has exited."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        cmd = [sys.executable, "-m", "jobs.cli", "validate", str(realdata("gr00t_robot_sim_picknplace")), "--no-data"]
        run = subprocess.run(cmd, cwd=REPO, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert run.returncode == EXIT_BROKEN_PIPE, run.stderr
    assert "Traceback" not in run.stderr and "BrokenPipeError" not in run.stderr, run.stderr


def test_version_and_positionals_after_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review 6 (newcomer): no `--version`, and `eidata query ROOT --unrestricted "SQL"` was "unrecognized arguments"
    (argparse fills both optional positionals at the first); a flag that does not exist is still refused by name."""
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"eidata {version('eidata')}"
    root = tmp_path / "corpus"
    write_dataset(root / "datasets/src/ds", "franka", [episode(5, "pick", "src/ds/e0", "franka")])
    assert main(["catalog", str(root)]) == 0
    capsys.readouterr()
    for argv in (
        ["query", str(root), "--format", "csv", "SELECT count(*) AS n FROM episodes"],
        ["query", "--format", "csv", str(root), "SELECT count(*) AS n FROM episodes"],
        ["query", str(root), "SELECT count(*) AS n FROM episodes", "--format", "csv"],
    ):
        assert main(argv) == 0, argv
        assert capsys.readouterr().out == "n\n1\n", argv
    with pytest.raises(SystemExit) as done:
        main(["query", str(root), "--bogus", "SELECT 1"])
    assert done.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err


@pytest.mark.slow  # 20 runs of a fresh interpreter: about 40 s on two cores
def test_a_finished_command_exits_0_every_time(tmp_path: Path) -> None:
    """Issue 86 item 3: `eidata inspect` printed its whole output, then aborted at exit now and then ("terminate called
    without an active exception": a library's thread alive at the interpreter's C++ teardown; 1 run in 26 for the
    newcomer). A finished command's process ends after its exit hooks, before that teardown
    (`exits.finish_process`). The real SO-101 recording, its mp4s (not in the sample) undeclared so it has no error."""
    root = without_videos(realdata("lerobot_so101_record_test"), tmp_path / "so101")
    cmd = [sys.executable, "-m", "jobs.cli", "inspect", str(root)]
    runs = [subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120) for _ in range(20)]
    assert [r.returncode for r in runs] == [0] * 20, [r.stderr[-500:] for r in runs if r.returncode]
    assert all(r.stdout == runs[0].stdout and "quirks: 0 error" in r.stdout for r in runs), runs[0].stdout
    assert all(r.stderr == "" for r in runs), {r.stderr for r in runs}
