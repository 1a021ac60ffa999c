"""Episode tasks submitted from a stream under a bound, results handed back in each source's discovery order.

Commits must be deterministic per dataset, and a raw episode's canonical episodes all go to the dataset of its
source and subset (`datasets/<source>/<subset>`), so the results of each (source, subset) are yielded in submission
order, and one slow episode holds back only its own dataset's later ones (up to `commit_window` episodes in all).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from jobs.ingest.task import Deferred, EpisodeResult, EpisodeTask, Rejected, TaskSettings, WorkItem
from jobs.runtime.deadline import TIMEOUT_CLASS, hung_attempts, timeout_message
from jobs.runtime.retry import worker_died
from jobs.spec_models import PreparedSpec
from schemas.faults import environment_fault


class Tasks(Protocol):
    """What `in_order` needs of a task system: Ray in a job (`RayTasks`), a scripted one in tests."""

    def submit(self, task: EpisodeTask) -> Any: ...  # starts a task; returns its handle

    def wait(self, handles: list[Any]) -> list[Any]: ...  # blocks until some of `handles` finish; returns those

    def get(self, handle: Any) -> EpisodeResult: ...  # a finished task's result; raises if the task died


@dataclass(frozen=True)
class RayTasks:
    task: Any  # the worker (`jobs.ingest.task.Worker`) as a `ray.remote` function
    idle: Callable[[], None] | None = None  # called about every `idle_s` while waiting (the committers' bookkeeping)
    idle_s: float = 0.5

    def submit(self, task: EpisodeTask) -> Any:
        return self.task.remote(task)

    def wait(self, handles: list[Any]) -> list[Any]:
        import ray

        ready, _ = ray.wait(handles, num_returns=len(handles), timeout=0)  # everything already done, in one call
        while not ready:
            ready, _ = ray.wait(handles, num_returns=1, timeout=self.idle_s if self.idle else None)
            if not ready and self.idle:
                self.idle()
        return ready

    def get(self, handle: Any) -> EpisodeResult:
        import ray

        return ray.get(handle)


def in_order(todo: Iterable[WorkItem], tasks: Tasks, spec: PreparedSpec) -> Iterator[tuple[WorkItem, EpisodeResult]]:
    """Submit with at most `max_in_flight` running; yield each dataset's results in its submission order.

    Finished results wait for the head of their source's line (at most `commit_window` episodes submitted and not
    yet yielded), so one long episode does not leave the other workers idle; only running episodes hold frames in
    memory, and the stream `todo` is read only as far as the window reaches."""
    settings = TaskSettings.of(spec, spec.output)
    stream = iter(todo)
    running, window = spec.parallelism.max_in_flight, spec.parallelism.commit_window
    pending: dict[Any, int] = {}  # task handle -> submission number
    items: dict[int, WorkItem] = {}  # submitted, not yet yielded
    results: dict[int, EpisodeResult] = {}
    lines: dict[tuple[str, str], deque[int]] = {}  # per dataset: submission numbers not yet yielded, in order
    submitted, exhausted = 0, False
    while True:
        while not exhausted and len(pending) < running and len(items) < window:
            it = next(stream, None)
            if it is None:
                exhausted = True
                break
            pending[tasks.submit(EpisodeTask(it, settings))] = submitted
            items[submitted] = it
            lines.setdefault((it.source.name, it.ref.subset), deque()).append(submitted)
            submitted += 1
        yielded = False
        for line in lines.values():
            while line and line[0] in results:
                n = line.popleft()
                yield items.pop(n), results.pop(n)
                yielded = True
        if yielded:
            continue
        if not pending:
            if exhausted:
                return
            continue
        for handle in tasks.wait(list(pending)):
            n = pending.pop(handle)
            try:
                results[n] = tasks.get(handle)
            except Exception as e:  # the task itself died past its retries
                uid = items[n].uid
                hung = hung_attempts(spec.output, uid)
                if hung:  # its attempts were killed by their deadline before one could quarantine the episode
                    results[n] = Rejected(uid, "write", TIMEOUT_CLASS, timeout_message(hung), fault="environment")
                elif (cause := environment_fault(e)) is not None and worker_died(spec.output, uid):
                    why = f"its worker died on each of its attempts in this run and the one before ({cause})"
                    results[n] = Rejected(uid, "worker", type(e).__name__, why, fault="environment")
                elif cause is not None:  # a killed worker, a lost node: the job ends (jobs.runtime.retry)
                    results[n] = Deferred(uid, "worker", f"its worker died on each of its attempts ({cause})")
                else:
                    results[n] = Rejected(uid, "worker", type(e).__name__, str(e)[:2000])
