"""A file that kills what parses it in a real ingest job (embedded Ray, real writer; issue 67 item 5, issue 84): the
parse runs behind the boundary (`adapters.hostile.sandbox`), which names the file it was reading, so when its parse dies
on each try that file's episode alone is quarantined in this run, naming it, and the job ends 0 with the others
written; a worker that dies itself (before any read) names no file and stays the environment's fault: the job ends
(exit 75) and its rerun tries again. The deaths are put in by `crash_hooks.file_killed_process_episode`, never by
timing."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.runtime.retry import EnvironmentFaultError
from jobs.spec_models import JobSpec
from tests.fixtures import library_bombs as lb
from tests.jobs.ingest import crash_hooks

RETRIES = 1  # Ray's retries of a task whose worker died: 2 attempts


def _spec(tmp_path: Path, names: list[str]) -> JobSpec:
    for seed, name in enumerate(names):
        lb.robomimic(tmp_path / "raw" / name, seed=seed)
    return JobSpec.model_validate(
        {
            "output": str(tmp_path / "corpus"),
            "sources": [{"name": "rm", "adapter": "arrays", "root": str(tmp_path / "raw")}],
            "parallelism": {"num_cpus": 2, "task_retries": RETRIES},
        }
    )


# slow: 69 s on the loaded 2-core host (300 s at a load of 200)
@pytest.mark.slow
@pytest.mark.shared_ray  # tests/ray_scope.py: the hook reads nothing from the workers' environment
def test_a_file_that_kills_its_parse_costs_its_episode_only(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ["a_good.hdf5", f"b_{crash_hooks.KILLER}.hdf5", "c_good.hdf5", "d_nested.hdf5"])
    with h5py.File(tmp_path / "raw/d_nested.hdf5", "a") as f:  # a parse shape of the same class, found at discovery
        group = f["data/demo_0/obs"]
        for _ in range(100):
            group = group.create_group("g")
    report = run_ingest(spec, progress=False, worker=crash_hooks.file_killed_process_episode)

    assert (report.tallies["rm"].written, report.tallies["rm"].quarantined) == (2, 2)
    sql = "SELECT raw_path, stage, error_class, file, fault, message FROM quarantine ORDER BY raw_path"
    killed, nested = run_query(spec.output, sql).to_pylist()
    killer = str(tmp_path / "raw" / f"b_{crash_hooks.KILLER}.hdf5")
    assert (killed["stage"], killed["file"], killed["fault"]) == ("read", killer, "data"), killed
    assert f"its parse process was ended by SIGKILL reading {killer}" in killed["message"], killed
    assert killed["error_class"] == "ParseProcessDied", killed  # the worker lives: its parse process died
    assert "d_nested.hdf5" in nested["message"] and "nested past" in nested["message"], nested
    written = run_query(spec.output, "SELECT raw_path FROM episodes ORDER BY 1").column("raw_path").to_pylist()
    assert [Path(p).name for p in written] == ["a_good.hdf5", "c_good.hdf5"]
    again = run_ingest(spec, progress=False)  # the killed episode is done (its file is not read again)
    assert again.skipped == 3 and again.tallies["rm"].written == 0, again  # the nested file: flagged again


@pytest.mark.slow
@pytest.mark.shared_ray
def test_a_worker_killed_before_any_read_ends_the_job(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ["a_good.hdf5", f"b_{crash_hooks.DIES_EARLY}.hdf5", "c_good.hdf5"])
    with pytest.raises(EnvironmentFaultError, match=r"its worker died on each of its attempts \(.*Worker"):
        run_ingest(spec, progress=False, worker=crash_hooks.file_killed_process_episode)
    assert not list(spec.output.glob("catalog/quarantine/*.parquet")), "no evidence: nothing quarantined"
