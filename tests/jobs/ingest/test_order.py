"""The ingest job's commit order (`jobs.ingest.order.in_order`) on a scripted task system: tasks finish in an order the
test chooses, so the commit window and the backpressure bound are checked event by event, with no clock and no Ray."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ray.exceptions import WorkerCrashedError

from adapters.base import EpisodeRef
from jobs.ingest.order import in_order
from jobs.ingest.task import Deferred, EpisodeResult, EpisodeTask, Rejected, Staged, WorkItem
from jobs.runtime.retry import forget_worker_deaths
from jobs.spec_models import JobSpec, ParallelismSpec, SourceSpec

N = 8


@dataclass
class ScriptedTasks:
    """Tasks that finish in `finish_order` (uids): `wait` returns the first still-running one in that order.

    Every submit, finish and (by the test) commit is appended to `log`, so the test reads back what ran when."""

    finish_order: list[str]
    died: frozenset[str] = frozenset()
    crashed: frozenset[str] = frozenset()
    log: list[tuple[str, str]] = field(default_factory=list)

    def submit(self, task: EpisodeTask) -> str:
        self.log.append(("submit", task.uid))
        return task.uid

    def wait(self, handles: list[str]) -> list[str]:
        uid = next(u for u in self.finish_order if u in handles)
        self.log.append(("finish", uid))
        return [uid]

    def get(self, handle: str) -> EpisodeResult:
        if handle in self.crashed:  # what ray.get raises for a task whose worker died on each attempt
            raise WorkerCrashedError()
        if handle in self.died:
            raise RuntimeError(f"worker of {handle} died past its retries")
        return Staged(handle, ())


def _job(tmp_path: Path, max_in_flight: int, window: int) -> tuple[JobSpec, list[WorkItem]]:
    (tmp_path / "raw").mkdir(exist_ok=True)
    source = SourceSpec(name="s", adapter="oxe", root=tmp_path / "raw")
    par = ParallelismSpec(max_in_flight=max_in_flight, commit_window=window)
    spec = JobSpec(output=tmp_path / "out", sources=[source], parallelism=par)
    refs = [EpisodeRef(adapter="oxe", source="s", subset="x", raw_id=f"{i:03d}", paths=()) for i in range(N)]
    return spec, [WorkItem(i, source, ref) for i, ref in enumerate(refs)]


def _run(tasks: ScriptedTasks, spec: JobSpec, todo: list[WorkItem]) -> list[tuple[WorkItem, EpisodeResult]]:
    out = []
    for item, result in in_order(todo, tasks, spec):
        tasks.log.append(("commit", item.uid))
        out.append((item, result))
    return out


def _check_bounds(log: list[tuple[str, str]], max_in_flight: int, window: int) -> None:
    """At every event: at most `max_in_flight` running, at most `window` submitted and not yet committed."""
    running = uncommitted = 0
    for event, _ in log:
        running += {"submit": 1, "finish": -1}.get(event, 0)
        uncommitted += {"submit": 1, "commit": -1}.get(event, 0)
        assert running <= max_in_flight and uncommitted <= window, log


def _submitted_before_head_finished(log: list[tuple[str, str]], head: str) -> list[str]:
    return [uid for event, uid in log[: log.index(("finish", head))] if event == "submit" and uid != head]


@pytest.mark.parametrize("window", [64, 2])
def test_finished_episodes_wait_for_a_slow_head_without_idling_workers(tmp_path: Path, window: int) -> None:
    """Commits go in discovery order, but workers keep taking episodes while a slow one holds the head of the line
    (up to `commit_window`); with a window of 2 they must wait for it."""
    spec, todo = _job(tmp_path, max_in_flight=2, window=window)
    uids = [it.uid for it in todo]
    tasks = ScriptedTasks(finish_order=uids[1:] + uids[:1])  # the head finishes after every other running task
    out = _run(tasks, spec, todo)
    assert [it.uid for it, _ in out] == uids  # still committed in discovery order
    assert [r.uid for _, r in out] == uids  # each with its own result
    _check_bounds(tasks.log, max_in_flight=2, window=window)
    early = _submitted_before_head_finished(tasks.log, uids[0])
    if window == 64:
        assert early == uids[1:]  # the other worker took every other episode meanwhile
        assert tasks.log[-N - 1 :] == [("finish", uids[0])] + [("commit", u) for u in uids]
    else:
        assert early == uids[1:2]  # only the one submitted beside the head
        assert tasks.log[:4] == [("submit", uids[0]), ("submit", uids[1]), ("finish", uids[1]), ("finish", uids[0])]


def test_in_order_finishing_tasks_commit_as_they_finish(tmp_path: Path) -> None:
    spec, todo = _job(tmp_path, max_in_flight=3, window=3)
    uids = [it.uid for it in todo]
    tasks = ScriptedTasks(finish_order=uids)
    _run(tasks, spec, todo)
    _check_bounds(tasks.log, max_in_flight=3, window=3)
    for uid in uids:  # nothing waits: each commit follows its own finish
        assert tasks.log.index(("commit", uid)) == tasks.log.index(("finish", uid)) + 1


def test_a_task_that_died_past_its_retries_quarantines_its_episode_only(tmp_path: Path) -> None:
    spec, todo = _job(tmp_path, max_in_flight=2, window=4)
    uids = [it.uid for it in todo]
    tasks = ScriptedTasks(finish_order=list(reversed(uids)), died=frozenset({uids[3]}))
    out = _run(tasks, spec, todo)
    assert [it.uid for it, _ in out] == uids
    kinds = [type(r) for _, r in out]
    assert kinds == [Staged] * 3 + [Rejected] + [Staged] * (N - 4)
    died = out[3][1]
    assert isinstance(died, Rejected) and died.stage == "worker" and "died past its retries" in died.message
    _check_bounds(tasks.log, max_in_flight=2, window=4)


def test_tasks_are_handed_the_job_settings(tmp_path: Path) -> None:
    spec, todo = _job(tmp_path, max_in_flight=1, window=1)
    seen: list[EpisodeTask] = []

    class Recording(ScriptedTasks):
        def submit(self, task: EpisodeTask) -> str:
            seen.append(task)
            return super().submit(task)

    _run(Recording(finish_order=[it.uid for it in todo]), spec, todo)
    assert [s.uid for s in seen] == [it.uid for it in todo]
    assert {s.settings.output for s in seen} == {spec.output}
    assert seen[0].settings.codec.threads == spec.parallelism.encoder_threads  # encoder threads fill an unset codec
    assert seen[5].ref == todo[5].ref and seen[5].item is todo[5]


def test_a_slow_episode_holds_back_only_its_own_dataset(tmp_path: Path) -> None:
    """Two subsets of one source are two datasets: the slow head of one does not hold back the other's commits,
    and each still commits in its own order."""
    spec, _ = _job(tmp_path, max_in_flight=2, window=8)
    source = spec.sources[0]
    refs = [
        EpisodeRef(adapter="oxe", source="s", subset=sub, raw_id=f"{i:03d}", paths=())
        for i in range(3)
        for sub in ("a", "b")
    ]
    todo = [WorkItem(i, source, ref) for i, ref in enumerate(refs)]
    uids = [it.uid for it in todo]  # a/000, b/000, a/001, b/001, a/002, b/002
    slow = uids[0]
    tasks = ScriptedTasks(finish_order=[u for u in uids if u != slow] + [slow])
    out = _run(tasks, spec, todo)
    committed = [it.uid for it, _ in out]
    assert sorted(committed) == sorted(uids)
    for sub in ("a", "b"):
        assert [u for u in committed if f"/{sub}/" in u] == [u for u in uids if f"/{sub}/" in u]
    b_commits = [tasks.log.index(("commit", u)) for u in uids if "/b/" in u]
    assert max(b_commits) < tasks.log.index(("finish", slow))  # all of b committed while a's head still ran
    _check_bounds(tasks.log, max_in_flight=2, window=8)


def test_a_task_ray_gave_up_on_after_deadline_kills_is_an_encoder_timeout(tmp_path: Path) -> None:
    """With fewer Ray retries than deadline attempts, Ray gives up before an attempt can quarantine the episode: the
    driver names the timeout from the attempts' markers (a quarantine of the environment's kind, which
    `--retry-quarantined` tries again); a worker that crashed on each attempt is deferred (the job ends, its rerun
    does the episode: issue 38), and quarantined (environment) when it crashes so again in the next run; a task that
    failed otherwise stays a `worker` quarantine."""
    from jobs.runtime.deadline import TIMEOUT_CLASS, watchdog

    spec, todo = _job(tmp_path, max_in_flight=2, window=8)
    hung, died, crashed = todo[1].uid, todo[2].uid, todo[3].uid
    with watchdog(0, spec.output, hung):  # outside Ray the watchdog only leaves its marker
        threading.Event().wait(0.5)
    tasks = ScriptedTasks([it.uid for it in todo], frozenset({hung, died}), frozenset({crashed}))
    results = {item.uid: r for item, r in _run(tasks, spec, todo)}
    assert results[hung] == Rejected(
        hung,
        "write",
        TIMEOUT_CLASS,
        "encoder did not finish in 0 s (1 attempt, each attempt's parse process killed)",
        fault="environment",
    )
    r = results[died]
    assert isinstance(r, Rejected) and (r.stage, r.error_class, r.fault) == ("worker", "RuntimeError", "data")
    d = results[crashed]
    assert isinstance(d, Deferred) and d.stage == "worker" and "WorkerCrashedError" in d.cause, d

    # the next run: the same episode kills its worker again, so it is likelier its own: quarantined, the job goes on
    again = {item.uid: r for item, r in _run(tasks, spec, todo)}[crashed]
    assert isinstance(again, Rejected) and (again.stage, again.fault) == ("worker", "environment"), again
    assert "in this run and the one before" in again.message
    forget_worker_deaths(spec.output)  # a run that finished: the slate is clean
    assert isinstance({item.uid: r for item, r in _run(tasks, spec, todo)}[crashed], Deferred)
