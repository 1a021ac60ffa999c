"""The skeleton every stage job shares (latents, caption, text-embed, the exports), written once.

    parse (jobs/cli.py, options generated from the job model)
      -> build: args -> the typed job; a bad call raises `Usage`
      -> run: corpus lock -> plan -> `ray_session` (start or join Ray, shared-output check, quiet Ray Data)
              -> `drain` the Ray Data stream with progress -> `refresh_catalog` once
      -> exit status, decided here: 0 done, 1 some work failed or the job could not run, 2 a bad call

A stage declares its model, its `build`, its `run` and which of its errors are a bad call (2) or a failed job (1);
`Stage.__call__(args)` is the subcommand. Errors not declared propagate, as they always did.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ingest.progress import Progress
from jobs.runtime.options import Arg, Opt, job_values
from jobs.runtime.ray_pool import Device, init_ray, quiet_ray_data
from schemas.corpus import EPISODES_DIR

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")


class RayRun(BaseModel):
    """Where a job's Ray runs; not part of the job (the same job runs embedded or on a cluster)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str | None = Field(None, description="an existing Ray cluster (default: embedded Ray)")


ADDRESS = Opt(RayRun, "address")


# The fields every stage model declares alike, defined once: a model writes `device: DeviceChoice` and the flag's
# type, default and help come from here (tests/jobs/test_cli_surface.py checks that no two models copy a field)
CorpusRoot = Annotated[Path, Field(description="corpus folder (holding datasets/)")]
DeviceChoice = Annotated[Device, Field("auto", description="auto: cuda when Ray has GPUs")]
ModelActors = Annotated[int | None, Field(None, gt=0, description="model actors (default: one per GPU, or 1 on CPU)")]
RayCpus = Annotated[int | None, Field(None, gt=0, description="embedded Ray's CPUs (default: all)")]


def placement_options(model: type[BaseModel]) -> tuple[Opt, ...]:
    """--device, --actors, --num-cpus of a stage whose model has those fields (`jobs.runtime.ray_pool.place_actors`)."""
    return (Opt(model, "device"), Opt(model, "actors"), Opt(model, "num_cpus"))


class Usage(Exception):
    """A bad call, found before any work: the message is printed as it is and the exit status is 2."""


class Failed(Exception):
    """The job could not do its work: the message is printed as it is and the exit status is 1."""


def corpus_job_values(command: str, args: Any, options: Sequence[Opt | Arg], model: type[BaseModel]) -> dict[str, Any]:
    """The model's values from the parsed flags (`job_values`), for a stage run on a corpus: a folder without
    datasets/ is a bad call."""
    values = job_values(args, options, model)
    root = Path(values["root"])
    if not (root / "datasets").is_dir():
        raise Usage(f"eidata {command}: {root}: no datasets/ folder; not a corpus")
    return values


Errors = tuple[type[BaseException], ...] | Callable[[], tuple[type[BaseException], ...]]


def _named(errors: Errors) -> tuple[type[BaseException], ...]:
    return errors() if callable(errors) else errors


@dataclass(frozen=True)
class Stage(Generic[J, R]):
    """A subcommand: `build` the job from the parsed flags, `run` it, report, and map the outcome to 0/1/2."""

    command: str  # the name its messages start with: "eidata <command>: ..."
    build: Callable[[Any], J]
    run: Callable[[J, Any], R]
    summary: Callable[[R], str]
    failed: Callable[[R], bool]
    # exit 2, printed as "eidata <command>: <error>"; a function when naming them imports a heavy module (it is
    # called only once an error is raised)
    usage_errors: Errors = ()
    job_errors: Errors = ()  # exit 1, likewise

    def __call__(self, args: Any) -> int:
        try:
            report = self.run(self.build(args), args)
        except Usage as e:
            print(str(e), file=sys.stderr)
            return 2
        except Failed as e:
            print(str(e), file=sys.stderr)
            return 1
        except _named(self.usage_errors) as e:
            print(f"eidata {self.command}: {e}", file=sys.stderr)
            return 2
        except _named(self.job_errors) as e:
            print(f"eidata {self.command}: {e}", file=sys.stderr)
            return 1
        text = self.summary(report)
        if text:  # nothing done, nothing to say (an export of a corpus without datasets)
            print(text)
        return 1 if self.failed(report) else 0


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
    silence Ray Data's own progress (`preserve_order=None`: leave its settings to the caller)."""
    import ray

    from jobs.runtime.shared_fs import check_shared_output

    started = init_ray(address, num_cpus, object_store_mb)
    try:
        if shared_output is not None:
            check_shared_output(shared_output)
        if preserve_order is not None:
            quiet_ray_data(preserve_order=preserve_order)
        yield
    finally:
        if started:
            ray.shutdown()


def drain(
    batches: Iterable[R], total: int, label: str, unit: str, progress: bool | None, take: Callable[[R], tuple[int, int]]
) -> None:
    """Consume a job's result stream; `take(batch)` records a batch and says (items, frames) for the progress bar."""
    bar = Progress(total, label, unit=unit, enabled=progress)
    for batch in batches:
        items, frames = take(batch)
        bar.update(items, frames=frames)
    bar.close()


def refresh_catalog(root: Path, changed: bool, what: str, logger: logging.Logger = log) -> int | None:
    """Rebuild the catalog once after a stage wrote `what`, or when there is none yet; a failure is a warning (the
    stage's files are written) naming the command that redoes it."""
    from ingest.storage.digests import CatalogError
    from jobs.catalog.build import rebuild_catalog
    from jobs.runtime.bucket_stage import scratch_digests

    if not (changed or not (root / EPISODES_DIR).exists()):
        return None
    try:
        return rebuild_catalog(root, digests_for=scratch_digests(root))  # a bucket's scratch: from its records
    except CatalogError as e:
        logger.warning("%s written, but the catalog was not updated (%s); run `eidata catalog %s`", what, e, root)
        return None
