"""The parse boundary as the ingest job meets it (issue 84; `adapters.hostile.sandbox`, whose own tests check each
mechanism): the bombs a library inflates, through the job's own task functions (`discover_source`,
`process_episode`), each parse in its process under the limit: review 6's Zarr GZip / Blosc / Zstd chunks (N1-N3),
the robomimic HDF5 gzip chunk written as all-zero actions (N10; now refused by `h5_inflate` before HDF5 inflates it),
the sparse LeRobot `info.json` / `episodes.jsonl` (N13, N14), a PNG in an image column (N16), and instances no report
named (Zarr LZ4 and bz2 chunks). Each bad file's episodes are quarantined with the limit (or the inflate check) and
the file named, the good stores beside them staged with their own (non-zero) actions, the run under 1 GiB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures import library_bombs as lb

REPO = Path(__file__).resolve().parents[3]
LIMIT_MIB = 128  # the bombs' limit; a good episode's whole parse process (its written files' pages, the pages it
# shares with its parent until it writes them) takes 130-150 MiB under a cgroup, so the tests that stage a good one
# beside a bomb give it `GOOD_MIB`
GOOD_MIB = 384


_CHILD = """
import json, sys, time
from pathlib import Path
import numpy as np, pyarrow.ipc as ipc
from jobs.ingest.discovery import discover_source, read_work
from jobs.ingest.task import EpisodeTask, Rejected, Staged, TaskSettings
from jobs.ingest.worker import process_episode
from jobs.spec_models import JobSpec

spec = JobSpec.model_validate(json.loads(sys.argv[1]))
out = {}
for s in spec.sources:
    work = spec.output / "job/work" / (s.name + ".parquet")
    res = discover_source(s, str(spec.output), str(work), None, spec.parallelism.task_memory_mib)
    out[s.name] = {"discovery": res["error"] and res["error"]["message"], "episodes": {}}
    for item in (read_work(s, work) if res["todo"] else []):
        key = item.ref.raw_id if s.adapter == "arrays" else item.ref.subset + "/" + item.ref.raw_id
        if item.ref.error is not None:
            out[s.name]["episodes"][key] = ["flagged", item.ref.error]
            continue
        t0 = time.time()
        r = process_episode(EpisodeTask(item, TaskSettings.of(spec, spec.output)))
        print(item.ref.raw_id, round(time.time() - t0, 2), file=sys.stderr)
        if isinstance(r, Staged):
            frames = [ipc.open_stream(e.staged.stage_dir / "frames.arrow").read_all() for e in r.episodes]
            actions = [max(float(np.nanmax(np.abs(np.asarray(t.column(c).to_pylist(), float))))
                           for c in t.column_names if c.startswith("action")) for t in frames]
            out[s.name]["episodes"][key] = ["staged", min(actions)]
        else:
            out[s.name]["episodes"][key] = [type(r).__name__, r.error_class, r.message, r.file]
import resource  # its own peak (VmHWM: since its exec) and its parse processes' (the largest it reaped)
hwm = next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:")) * 1024
print("@@" + json.dumps({"out": out, "peak": max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)}))
"""


def run_child(spec: dict, tmp: Path) -> tuple[dict, int]:
    """`_CHILD` on `spec`: what each source's episodes became, and the largest peak resident bytes of the child and
    of each parse process it forked, as the child reads them (never `wait4`'s `ru_maxrss` of the child: Linux keeps
    there the resident set of the process it was spawned from, the test's own, 1.5 GB after the slow tier's modules
    before it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(tmp / "child.out", "wb") as out, open(tmp / "child.err", "wb") as err:
        code = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(spec)], cwd=REPO, env=env, stdout=out, stderr=err
        ).returncode
    assert code == 0, (tmp / "child.err").read_text()[-3000:]
    line = next(ln for ln in (tmp / "child.out").read_text().splitlines() if ln.startswith("@@"))
    got = json.loads(line[2:])
    return got["out"], got["peak"]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, int, Path]:
    tmp = tmp_path_factory.mktemp("library_bombs")
    zroot, hroot, lroot = tmp / "zarr", tmp / "h5", tmp / "lerobot"
    lb.dp_buffer(zroot / "a_good.zarr", "gzip")
    for codec in sorted(lb.CODECS):
        lb.dp_buffer(zroot / f"{codec}_bomb.zarr", codec, bomb="data/state")
    lb.dp_buffer(zroot / "z_good.zarr", "lz4", seed=1)
    lb.robomimic(hroot / "a_good.hdf5")
    lb.robomimic(hroot / "b_bomb.hdf5", bomb=True)
    lb.robomimic(hroot / "c_good.hdf5", seed=1)
    rows = np.linspace(0.1, 1.0, 40 * len(MOTORS)).reshape(40, len(MOTORS))
    for name in ("a_info_bomb", "b_good", "c_episodes_bomb"):
        write_arm_dataset(lroot / name, "so101_follower", list(MOTORS), rows)
    lb.sparse(lroot / "a_info_bomb/meta/info.json", 3 << 30, head="")
    lb.sparse(lroot / "c_episodes_bomb/meta/episodes.jsonl", 3 << 30, head="[" + "0," * 8)
    spec = {
        "output": str(tmp / "out"),
        "parallelism": {"task_memory_mib": LIMIT_MIB},
        "sources": [
            {"name": "zarr", "adapter": "arrays", "root": str(zroot), "options": {"fps": 10}},
            {"name": "h5", "adapter": "arrays", "root": str(hroot)},
            {"name": "lerobot", "adapter": "lerobot", "root": str(lroot)},
        ],
    }
    got, peak = run_child(spec, tmp)
    return got, peak, tmp


def _limit_named(outcome: list, file_part: str) -> None:
    text = " ".join(str(x) for x in outcome)
    assert f"memory limit of {LIMIT_MIB} MiB (" in text, outcome
    assert file_part in text, outcome


@pytest.mark.slow
def test_every_bomb_stays_under_1_gib_in_one_process(bombs: tuple[dict, int, Path]) -> None:
    _, peak, _ = bombs
    assert 0 < peak < 1 << 30, peak


@pytest.mark.slow
def test_zarr_chunk_bombs_are_quarantined_naming_the_chunk(bombs: tuple[dict, int, Path]) -> None:
    """Refused by the parse process's memory limit (no Zarr decode of eidata's own is bounded: issue 84), naming the
    chunk's file; a chunk whose header states more than it holds (Blosc, LZ4, Zstd) is reserved, never filled, and
    refused by its codec, named by the store's read. Every episode of the store is quarantined."""
    eps = bombs[0]["zarr"]["episodes"]
    for codec in lb.CODECS:
        for k in (0, 1):
            outcome = eps[f"{codec}_bomb.zarr/episode_{k}"]
            if outcome[1] == "MemoryLimit":
                _limit_named(outcome, f"{codec}_bomb.zarr/data/state/0.0")
            else:
                store = f"{bombs[2]}/zarr/{codec}_bomb.zarr"
                assert outcome == ["Rejected", "AdapterError", outcome[2], store] and codec in ("blosc", "lz4", "zstd")
                assert f"unreadable store: data/state of {store}: a chunk does not decode" in outcome[2], outcome
    for good in ("a_good.zarr", "z_good.zarr"):
        for k in (0, 1):
            state, smallest_action = eps[f"{good}/episode_{k}"]
            assert state == "staged" and smallest_action > 0  # written with its own actions


@pytest.mark.slow
def test_an_hdf5_gzip_bomb_is_quarantined_not_written_as_zero_actions(bombs: tuple[dict, int, Path]) -> None:
    eps = bombs[0]["h5"]["episodes"]
    bad = next(v for k, v in eps.items() if k.startswith("b_bomb"))
    assert bad[0] == "Rejected" and "b_bomb.hdf5" in bad[2], bad
    assert "inflates past the 1,680 bytes" in bad[2], bad  # refused before HDF5 inflates it (h5_inflate)
    good = [v for k, v in eps.items() if not k.startswith("b_bomb")]
    assert len(good) == 2 and all(v[0] == "staged" and v[1] > 0 for v in good), eps


@pytest.mark.slow
def test_sparse_meta_files_cost_their_dataset_only(bombs: tuple[dict, int, Path]) -> None:
    source = bombs[0]["lerobot"]
    assert source["discovery"] is None
    eps = source["episodes"]
    assert [v[0] for k, v in eps.items() if "b_good" in k] == ["staged"], eps
    _limit_named(next(v for k, v in eps.items() if "a_info_bomb" in k), "a_info_bomb/meta/info.json")
    _limit_named(next(v for k, v in eps.items() if "c_episodes_bomb" in k), "c_episodes_bomb/meta/episodes.jsonl")


def _bad_then_good(tmp_path: Path, adapter: str) -> tuple:
    """`process_episode`'s answers under the test's limit for the two episodes under `tmp_path/raw` (sorted: the bad
    one first), discovery having flagged none."""
    from jobs.ingest.task import EpisodeTask, TaskSettings
    from jobs.ingest.worker import process_episode
    from jobs.spec_models import JobSpec
    from tests.fixtures.discovery import discover

    spec = JobSpec.model_validate(
        {
            "output": str(tmp_path / "out"),
            "parallelism": {"task_memory_mib": GOOD_MIB},
            "sources": [{"name": "src", "adapter": adapter, "root": str(tmp_path / "raw")}],
        }
    )
    items, flagged = discover(spec)
    assert not flagged and len(items) == 2, (flagged, items)
    return tuple(process_episode(EpisodeTask(it, TaskSettings.of(spec, spec.output))) for it in items)


def test_the_worker_quarantines_an_hdf5_bomb_and_stages_its_neighbour(tmp_path: Path) -> None:
    """Through `process_episode` (the fast check; the child above measures): the 384 MiB chunk is
    refused from its inflate past the declared 1,680 bytes, before HDF5 inflates it; never zeros."""
    from jobs.ingest.task import Rejected, Staged
    from jobs.ingest.worker import MEMORY_LIMIT

    lb.robomimic(tmp_path / "raw/a_bomb.hdf5", bomb=True)
    lb.robomimic(tmp_path / "raw/b_good.hdf5")
    bad, good = _bad_then_good(tmp_path, "arrays")
    assert isinstance(bad, Rejected) and bad.fault == "data" and bad.error_class in (MEMORY_LIMIT, "AdapterError")
    # stopped before HDF5 inflates it (`adapters.hostile.h5_inflate`), else by the limit
    assert "inflates past the 1,680 bytes" in bad.message and "a_bomb.hdf5" in bad.message
    assert isinstance(good, Staged) and good.frames > 0


def test_a_png_bomb_in_an_image_column_costs_its_episode_only(tmp_path: Path) -> None:
    """Review 6 N16: row 0 of a LeRobot `dtype: image` column a 196 KB PNG decoding to 192 MiB, decoded in the write
    stage (OpenCV, not Python): the episode is quarantined naming the limit and its parquet, its neighbour staged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.ingest.task import Rejected, Staged
    from jobs.ingest.worker import MEMORY_LIMIT
    from tests.fixtures.layouts import load_case, materialize

    case = load_case(REPO / "tests/fixtures/lerobot_layouts/libero_panda_images_v21")
    written = materialize(case, tmp_path / "raw/libero", episodes=2, seconds=1.1)
    path = written.root / "data/chunk-000/episode_000000.parquet"
    table = pq.read_table(path)
    column = table.column("observation.images.image").combine_chunks()
    pngs = column.field("bytes").to_pylist()
    pngs[0] = lb.png_bomb(16384)  # 768 MiB decoded
    assert len(pngs[0]) < 1 << 20
    bombed = pa.StructArray.from_arrays([pa.array(pngs, pa.binary()), column.field("path")], ["bytes", "path"])
    at = table.column_names.index("observation.images.image")
    pq.write_table(table.set_column(at, "observation.images.image", bombed), path)
    bad, good = _bad_then_good(tmp_path, "lerobot")
    assert isinstance(bad, Rejected) and bad.fault == "data", bad
    assert bad.error_class == MEMORY_LIMIT and f"memory limit of {GOOD_MIB} MiB (" in bad.message, bad
    assert bad.retried == 1  # killed twice: tried once more before it was quarantined
    assert isinstance(good, Staged) and good.frames > 0
