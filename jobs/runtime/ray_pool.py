"""Ray plumbing shared by the jobs: start or join Ray (every job, ingest included), and size an actor pool.

Placement: on CUDA one actor per GPU (`num_gpus=1`), on CPU one actor (by default) that takes all CPUs but one (the
CPU tasks feeding it keep a slot), at most one node's CPUs (an actor runs on one node), and runs torch on every CPU of
its share, that slot included (the tasks feeding it are ~1 % of the work on CPU).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from adapters.hostile import watcher
from jobs.runtime.shared_fs import check_shared_output
from jobs.runtime.stops import Stopped, rearm
from jobs.runtime.voice import VoiceRelay

log = logging.getLogger(__name__)
Device = Literal["auto", "cuda", "cpu"]  # the CLI shows the choices in this order


# Ray's notices at every start that say nothing about the job: a new local Ray turns token authentication on and
# logs a WARNING that it did, on every command (ray/_private/authentication/authentication_token_setup.py
# `_warn_token_auth_enabled`, ray 2.5x). Token authentication itself stays on (setting RAY_AUTH_MODE=token
# ourselves made the embedded start fail with InvalidAuthToken); only the notice is kept for `-v`.
RAY_START_NOISE = ("ray._private.authentication",)


# Ray's own waits for an embedded start, set where the caller set none. Ray 2.60 waits 30 s for the GCS to publish its
# port and its client tries 20 times, about a second each, to reach it (node.py: `RAY_gcs_server_port_wait_time_s`
# sets both), and 30 s for the node to register (the driver's GetNode, `RAY_raylet_start_wait_time_s`; node.py's own
# 30 s loop gives up only once a call returns). A `make test` at load 15-60 on 2 cores passed the second ("The current
# node timed out during startup. This could happen because some of the raylet failed to startup or the GCS has become
# overloaded": newcomer review 10). 120 s each (tests/jobs/runtime/test_ray_pool.py: a GCS stopped 40 s is waited
# for); a start that fails even so is tried once more, what it started ended first (`START_TRIES`).
START_WAITS = {"RAY_gcs_server_port_wait_time_s": "120", "RAY_raylet_start_wait_time_s": "120"}
START_TRIES = 2


class PoolError(RuntimeError):
    """The pool cannot be placed as asked (e.g. --device cuda on a cluster without GPUs)."""


class RayStartError(RuntimeError):
    """Ray could not be started or joined (an overloaded host's node past its start timeout, a cluster that does not
    answer): the environment's by its class name (`schemas/faults.toml`), so every command ends on it with one
    line and exit 75, never a traceback (reliability review 6, N53)."""


def init_ray(
    address: str | None, num_cpus: int | None, object_store_mb: int, *, env: dict[str, str] | None = None
) -> bool:
    """Join `address`, or start embedded Ray, unless this process already runs Ray; True when it started one.

    `env` is set in this process where unset and forced on every worker of this job (`runtime_env`), embedded or on
    a cluster (whose workers otherwise get the environment their node's `ray start` had)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # `eidata -v` shows Ray's own start-up notices
        for name in RAY_START_NOISE:
            logging.getLogger(name).setLevel(logging.ERROR)
    for key, value in (env or {}).items():
        os.environ.setdefault(key, value)
    runtime_env = {"env_vars": dict(env)} if env else None
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False, "runtime_env": runtime_env}
    try:
        _start(address, num_cpus, object_store_mb, quiet)
    except SystemExit as e:  # Ray's own SIGTERM handler, in place from its core worker's start: `sys.exit(signum)`
        if e.code not in (signal.SIGTERM, signal.SIGINT):
            raise
        raise Stopped(int(e.code)) from None  # the stop, said as any other (it left exit 15 and no line)
    except Exception as e:  # no data was read yet: whatever stops Ray from starting is the machine's or the cluster's
        where = f"the Ray cluster at {address}" if address else f"embedded Ray (started {START_TRIES} times)"
        raise RayStartError(f"{where} did not start: {_first_line(e)}") from e
    finally:
        rearm()  # Ray's core worker put its own SIGTERM handler in place of ours (jobs.runtime.stops)
    return True


@contextmanager
def ray_session(
    address: str | None,
    num_cpus: int | None,
    object_store_mb: int,
    *,
    shared_output: Path | None = None,
    preserve_order: bool | None = False,
) -> Iterator[None]:
    """Start or join Ray (shut down on exit only when started here); check that every node sees `shared_output`;
    silence Ray Data's own progress (`preserve_order=None`: leave its settings to the caller); the workers' lines
    about the environment printed (`jobs.runtime.voice`)."""
    import ray

    relay = VoiceRelay.start(shared_output if address else None)  # the workers' store lines, printed
    try:
        started = init_ray(address, num_cpus, object_store_mb)
    except BaseException:
        relay.stop()
        raise
    try:
        if shared_output is not None:
            check_shared_output(shared_output)
        if preserve_order is not None:
            quiet_ray_data(preserve_order=preserve_order)
        yield
    finally:
        if started:
            ray.shutdown()
        relay.stop()


def _start(address: str | None, num_cpus: int | None, object_store_mb: int, quiet: dict[str, Any]) -> None:
    import ray

    if address:
        ray.init(address=address, **quiet)
        return
    watcher.start(stops=False)  # a kill -9 of this process ends the Ray it starts here too (adapters.hostile.watcher)
    for key, value in START_WAITS.items():  # read by Ray's start (its C++ config too, on its first use: ray.init)
        os.environ.setdefault(key, value)
    memory = object_store_mb * 1024**2
    for left in reversed(range(START_TRIES)):
        before = watcher.descendants(os.getpid())
        try:  # "local": a new embedded Ray, never a cluster found through RAY_ADDRESS or the last `ray start`'s file
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, object_store_memory=memory, **quiet)
            return
        except Exception as e:
            if not left:
                raise
            _end_ray_started(before, os.path.dirname(ray.__file__))
            ray.shutdown()
            log.warning("embedded Ray failed to start (%s); starting it once more", _first_line(e))


def _end_ray_started(before: dict[int, int], ray_dir: str) -> None:
    """End what a failed start left running: this process's descendants started since `before` that run Ray's own
    programs (its GCS, raylet, agents and reaper, all under `ray_dir`), SIGTERM, then SIGKILL after 2 s. Another
    child of this process (a test's subprocess) is left alone."""
    started = {}
    for pid, at in watcher.descendants(os.getpid()).items():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if pid not in before and any(a.decode(errors="replace").startswith(ray_dir) for a in argv):
            started[pid] = at
    watcher.end(started, signal.SIGTERM, grace_s=2.0)


def _first_line(e: BaseException) -> str:
    """The first line of `e`'s text (a Ray error carries a whole traceback), cut at 300 characters."""
    return next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)[:300]


def quiet_ray_data(*, preserve_order: bool = False) -> None:
    """No per-operator progress bars or INFO lines: the job reports progress itself. `preserve_order` keeps batches
    in input order, so a rerun groups the same rows (greedy decoding in bf16 can depend on what shares a batch), at
    some cost in throughput (a slow block holds back those behind it)."""
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = preserve_order


@dataclass(frozen=True)
class Placement:
    device: Literal["cpu", "cuda"]
    actors: int
    resources: dict[str, Any]  # ray remote args of one actor
    threads: int | None  # torch threads of a CPU actor (None on CUDA)


NODE_CPUS = "node_CPU_max"  # the largest alive node's CPUs, as `cluster_resources` adds it


def cluster_resources() -> dict[str, float]:
    """`ray.cluster_resources()` plus `NODE_CPUS`: on a cluster of several nodes no actor can take more CPUs than
    the largest node has."""
    import ray

    res = dict(ray.cluster_resources())
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    res[NODE_CPUS] = max((float(r.get("CPU", 0)) for r in nodes), default=float(res.get("CPU", 1)))
    return res


def place_actors(device: Device, actors: int | None, resources: dict[str, float]) -> Placement:
    """Where the model actors run, given `cluster_resources()` (or `ray.cluster_resources()` for one node)."""
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    chosen: Literal["cpu", "cuda"] = ("cuda" if gpus else "cpu") if device == "auto" else device
    if chosen == "cuda":
        if not gpus:
            raise PoolError("--device cuda, but the Ray cluster has no GPU")
        return Placement("cuda", actors or gpus, {"num_gpus": 1, "num_cpus": 1}, None)
    n = actors or 1
    node = int(resources.get(NODE_CPUS, cpus))
    per_actor = min(max((cpus - 1) // n, 0), node)  # all CPUs but one booked, shared by the actors, each on one node
    # its torch threads: every CPU of its share, the one kept for the CPU tasks included. Decoding and resizing a
    # latent frame takes ~1/90 of its encoding on CPU (269 frames/s per core vs ~3 images per CPU-s, BENCHMARKS.md
    # "Latents"), so that core idled; on 2 cores one thread ran the stage at half the bare model's rate
    threads = max(1, min(cpus // n, node))
    return Placement("cpu", n, {"num_cpus": per_actor}, threads)
