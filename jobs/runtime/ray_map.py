"""Work that must touch every dataset (a catalog rebuild's parse, `validate`), as Ray tasks over batches of datasets,
the results handed back in the datasets' order (issue 99 item 3).

`in_order(work, items, address=...)` runs `work(batch)` (one result per item of the batch, in its order) on the Ray
cluster at `address`, or on embedded Ray (`jobs.runtime.ray_pool.ray_session`: its start waits, and exit 75 when it
does not start), and yields the results item by item in `items`' order, so a caller writes exactly what the serial
loop wrote. A few items run here: an embedded Ray's start costs more than their work (`SERIAL_BELOW`). Batches of
`PER_TASK` items, at most `IN_FLIGHT_PER_CPU` tasks a CPU submitted ahead: the driver holds a few batches' results
at a time, whatever the corpus's size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ingest.progress import Progress

T = TypeVar("T")
R = TypeVar("R")

# Fewer datasets than this are worked here. Measured on this 2-core machine (benchmarks/COMMAND_SURFACE.md, "Every
# dataset, on Ray"): an embedded Ray's start costs ~15 s of wall, a dataset ~63 ms of CPU to catalog and ~0.2 s to
# validate; two cores win the start back past ~480 datasets (catalog) and ~150 (validate).
SERIAL_BELOW = 400
PER_TASK = 16  # datasets a task: its worker's imports and the task's round trip (~10 ms) are <2 % of its work
IN_FLIGHT_PER_CPU = 2  # tasks submitted ahead per CPU (as `jobs.verdicts.step`): each CPU has its next batch waiting
OBJECT_STORE_MB = 256  # results travel in the store one batch at a time: a few batches' rows


def in_order(
    work: Callable[[list[T]], list[R]],
    items: Sequence[T],
    *,
    address: str | None,
    what: str,
    shared: Path | None = None,
    progress: bool | None = None,
) -> Iterator[R]:
    """`work` over `items` in batches, its results yielded in `items`' order (see the module); `what` names the work
    in the progress line, `shared` a folder every node of a cluster must see (the corpus)."""
    bar = Progress(len(items), what, unit="datasets", enabled=progress)
    batches = [list(items[i : i + PER_TASK]) for i in range(0, len(items), PER_TASK)]
    for results in _here(work, batches) if len(items) < SERIAL_BELOW else _on_ray(work, batches, address, shared):
        yield from results
        bar.update(len(results))
    bar.close()


def _here(work: Callable[[list[T]], list[R]], batches: list[list[T]]) -> Iterator[list[R]]:
    return (work(b) for b in batches)


def _on_ray(
    work: Callable[[list[T]], list[R]], batches: list[list[T]], address: str | None, shared: Path | None
) -> Iterator[list[R]]:
    import ray

    from jobs.runtime.ray_pool import ray_session

    with ray_session(address, None, OBJECT_STORE_MB, shared_output=shared if address else None, preserve_order=None):
        task: Any = ray.remote(num_cpus=1, max_retries=1)(_apply)  # `work` may be a partial: Ray takes functions
        yield from windowed(lambda batch: task.remote(work, batch), batches)


def windowed(submit: Callable[[T], Any], items: Iterable[T]) -> Iterator[Any]:
    """Each item's Ray task (`submit(item)`: its ref), `IN_FLIGHT_PER_CPU` a CPU ahead, results in `items`' order."""
    import ray

    window = max(2, IN_FLIGHT_PER_CPU * int(ray.cluster_resources().get("CPU", 1)))
    refs: deque = deque()
    try:
        for item in items:
            refs.append(submit(item))
            if len(refs) >= window:
                yield _got(refs.popleft())
        while refs:
            yield _got(refs.popleft())
    finally:  # a task failed, or a stop: the running tasks end, not writing into what the caller removes
        for ref in refs:
            ray.cancel(ref, force=True)


def _apply(work: Callable[[list[T]], list[R]], batch: list[T]) -> list[R]:
    return work(batch)


def _got(ref: Any) -> Any:
    """A task's result; what its work raised is raised here as itself (Ray's wrapper adds the worker's traceback to
    its text), so the first failing dataset is said as the serial loop says it."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, Exception):
            raise e.cause from None
        raise
