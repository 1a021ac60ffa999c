"""Every command runs under the per-task memory limit set at the command line's dispatch (issue 67 item 3), unless
`commands.toml` says why not: a read that grows past it stops the command with one line naming the limit and the
file, exit 1, never a traceback or a 3 GB process. A memory bomb (a LeRobot `info.json` whose parse takes 700 MB, a
36 MB file) is given to each command that reads a corpus or a dataset in its own process, every export format
included, and each refuses it naming the limit and the file; the Ray a bounded command starts is not bounded by it."""

from __future__ import annotations

import shutil
import zoneinfo
from pathlib import Path

import numpy as np
import pytest

from jobs import cli

# the commands that run under no limit of this process, each saying where its reads are bounded or why not
UNBOUNDED = {"demo", "ingest", "latents", "caption", "text-embed", "verdicts", "query", "curate", "train", "eval"}


def test_every_command_is_bounded_unless_it_says_why() -> None:
    assert cli.Command(help="", run="m:f").unbounded == ""  # a new command is bounded
    assert {n for n, c in cli.COMMANDS.items() if c.unbounded} == UNBOUNDED
    assert all(len(cli.COMMANDS[n].unbounded) > 20 for n in UNBOUNDED)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real GR00T PickNPlace episodes written as ingest writes them, cataloged."""
    from schemas.canonicalize import CanonicalizeSpec
    from schemas.corpus import dataset_dir
    from schemas.image_size import ImageSpec
    from tests.ingest.qa.planted_raw import gr00t_raws, ingest

    root = tmp_path_factory.mktemp("bounded") / "corpus"
    for raw in gr00t_raws()[:2]:
        ingest(raw, CanonicalizeSpec(image=ImageSpec(size="64x64")), root / dataset_dir("lerobot", raw.ref.subset))
    assert cli.main(["catalog", str(root)]) == 0
    return root


BOMB_ITEMS = 12_000_000  # `{}` each: 36 MB of JSON, 770 MB of Python objects once parsed
# each command given a corpus (ROOT) or a dataset (DS) whose meta/info.json is the bomb
BOMBED = {
    **{
        f"export {f}": ["export", "ROOT", "--format", f, "--out", "OUT"]
        for f in ("lerobot-v3", "lerobot-v21", "gr00t", "lda")
    },
    "report --exports": ["report", "ROOT", "--exports", "DS", "--out", "OUT"],
    "catalog": ["catalog", "ROOT"],
    "validate": ["validate", "DS"],
    "inspect": ["inspect", "DS"],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(BOMBED))
def test_a_bomb_given_to_each_command_is_refused_naming_the_limit(
    corpus: Path, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    (info,) = root.glob("datasets/*/*/meta/info.json")
    info.write_text('{"bomb": [' + "{}," * BOMB_ITEMS + "{}], " + info.read_text().lstrip()[1:])
    ds = str(info.parent.parent)
    argv = [{"ROOT": str(root), "DS": ds, "OUT": str(tmp_path / "out")}.get(a, a) for a in BOMBED[command]]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"eidata {argv[0]}: memory limit of 640 MiB per task"), err
    assert f"reading {info}" in err[-1], err


def test_ray_started_by_a_bounded_command_is_not_bounded_by_it() -> None:
    """`lifted`: the soft limit the outermost task found, inside any number of tasks; the task's put back after."""
    import resource

    from adapters.hostile.memory_limit import lifted, task_memory

    before = resource.getrlimit(resource.RLIMIT_DATA)[0]
    with task_memory(640), task_memory(320):
        inside = resource.getrlimit(resource.RLIMIT_DATA)[0]
        assert inside != before
        with lifted():
            assert resource.getrlimit(resource.RLIMIT_DATA)[0] == before
        assert resource.getrlimit(resource.RLIMIT_DATA)[0] == inside


def test_inspect_of_a_read_past_the_limit_says_it_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from adapters.lerobot.adapter import LeRobotSource

    big = tmp_path / "ds" / "data" / "episode_000001.parquet"
    big.parent.mkdir(parents=True)
    big.write_bytes(b"PAR1")

    def dataset(self: object, root: Path) -> object:  # a parse that materialises 3 GiB, as 4e8 rows would
        open(big, "rb").close()
        zoneinfo.ZoneInfo.clear_cache()
        zoneinfo.ZoneInfo("UTC")  # as pyarrow's timestamps do: the system's file read last is no input
        return np.ones(3 << 30, dtype=np.uint8)

    monkeypatch.setattr(LeRobotSource, "dataset", dataset)
    assert cli.main(["inspect", str(tmp_path / "ds")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("eidata inspect: memory limit of 640 MiB per task (EIDATA_TASK_MEMORY_MIB)")
    assert f"reading {big}" in err[0]


def test_a_command_limit_is_raised_by_its_variable_and_a_bad_value_refused(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corpus of 100,000 real episodes took `catalog` to 711 MiB (benchmarks/COMMAND_SURFACE.md): the user raises
    the command's limit with EIDATA_TASK_MEMORY_MIB, which the refusal names; a value that is not one is refused."""
    from adapters.hostile.memory_limit import active
    from jobs.runtime.bounded import ENV, bounded, command_mib

    assert command_mib({}) == 640 and command_mib({ENV: "2048"}) == 2048
    with bounded(96) as limit:
        assert limit is not None and active() is limit and limit.knob == ENV
        assert f"per task ({ENV}) reached" in limit.explain(MemoryError(), "x.json")
    monkeypatch.setenv(ENV, "lots")
    assert cli.main(["catalog", str(corpus)]) == 2
    assert f"eidata catalog: {ENV}='lots': a whole number of MiB, at least 64" in capsys.readouterr().err
    monkeypatch.setenv(ENV, "1024")
    assert cli.main(["catalog", str(corpus)]) == 0
