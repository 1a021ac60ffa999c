"""The skeleton every stage shares (latents, caption, text-embed, verdicts), written once: a stage states only what
differs.

    eidata <stage> ROOT ...    (jobs/cli.py: options generated from the stage's job model)
      -> build: args -> the typed job (a bad call raises `Usage`)
      -> CorpusStage.run:
           check (bad calls found before the corpus is opened)
           -> Corpus.open (a folder, or a bucket's scratch under the output's lease: adapters.storage.corpus)
           -> JobLock -> plan(corpus) -> rows
           -> Ray Data: rows -> [decode: CPU tasks] -> Model actors (map_batches, concurrency=N)
              -> accept(batch, corpus) on the driver, with progress: counts, publishes what landed
           -> finish(corpus) -> the catalog refreshed once -> the corpus published at the block's clean end
      -> exit status: 0 done, 1 some work failed or the job could not run (`Failed`), 2 a bad call (`Usage`),
         75 the environment failed (a full disk, a stalled store: the same command is worth running again)

One error taxonomy: a stage raises `Usage` or `Failed` for its own conditions, and names the errors of its libraries
that are one or the other (`usage_errors`, `job_errors`); the machinery's own (a placement that cannot work, a held
lock or lease, a store failing, a corpus that is not one) are mapped here for every stage. Errors not named propagate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from adapters.storage.corpus import Corpus
from ingest.progress import Progress
from jobs.runtime.exits import fail
from jobs.runtime.intent import CatalogIntent
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.options import Opt, opts
from jobs.runtime.ray_pool import Device, Placement, PoolError, cluster_resources, place_actors, ray_session
from jobs.runtime.retry import EXIT_ENVIRONMENT, EnvironmentFaultError
from jobs.runtime.shared_fs import SharedFsError
from schemas.corpus import EPISODES_DIR
from schemas.faults import environment_fault
from schemas.frozen import Frozen
from schemas.storage import CatalogError, NotACorpus, OutputLeasedError, StorageError, StorageOptions

log = logging.getLogger(__name__)

J = TypeVar("J", bound=BaseModel)
R = TypeVar("R")
MAX_BLOCKS = 20_000  # input blocks of a few rows each: parallel CPU tasks without one object per row on huge corpora


class RayRun(Frozen):
    """Where a job's Ray runs; not part of the job (the same job runs embedded or on a cluster)."""

    address: str | None = Field(None, description="an existing Ray cluster (default: embedded Ray)")


ADDRESS = Opt(RayRun, "address")


# The fields every stage model declares alike, defined once: a model writes `root: CorpusRoot`, or inherits `RayJob`,
# and the flag's type, default and help come from here (tests/jobs/test_cli_surface.py checks that no two models copy
# a field)
CorpusRoot = Annotated[
    Path | str,
    BeforeValidator(Corpus.where_value),
    Field(description="corpus folder (holding datasets/) or its bucket URL (s3://bucket/corpus)"),
]


class RayJob(Frozen):
    """The placement of a job whose model runs on Ray actors (`placement_options` gives its flags)."""

    device: Device = Field("auto", description="auto: cuda when Ray has GPUs")
    actors: int | None = Field(None, gt=0, description="model actors (default: one per GPU, or 1 on CPU)")
    num_cpus: int | None = Field(None, gt=0, description="embedded Ray's CPUs (default: all)")
    object_store_mb: int = Field(1024, gt=0, description="embedded Ray's object store")


def placement_options(model: type[BaseModel]) -> tuple[Opt, ...]:
    """--device, --actors, --num-cpus of a stage whose model has those fields (`jobs.runtime.ray_pool.place_actors`)."""
    return opts(model, "device", "actors", "num_cpus")


class Usage(Exception):
    """A bad call, found before any work: the message is printed as it is and the exit status is 2."""


class Failed(Exception):
    """The job could not do its work: the message is printed as it is and the exit status is 1."""


# the machinery's errors, alike for every job: a bad call (2), or a job that could not run (1)
USAGE_ERRORS: tuple[type[BaseException], ...] = (PoolError,)
JOB_ERRORS: tuple[type[BaseException], ...] = (
    JobLockedError,
    OutputLeasedError,
    SharedFsError,
    StorageError,
    CatalogError,
)
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
            report = self.run(self._build(args), args)
        except (Usage, Failed) as e:
            return fail(2 if isinstance(e, Usage) else 1, str(e))
        except Exception as e:
            status = self._status(e)
            if status is None:
                raise
            return fail(status, self._message(e, status))
        text = self.summary(report)
        if text:  # nothing done, nothing to say (an export of a corpus without datasets)
            print(text)
        return 1 if self.failed(report) else 0

    def _status(self, e: Exception) -> int | None:
        """The exit status of an error the command or the machinery names (its own first), None for others. A bad
        call is 2; then an error of the environment (a full disk, a store that stalls: `schemas.faults`)
        is 75 whoever raised it, as for `eidata ingest` (the machinery's own errors keep theirs)."""
        if isinstance(e, _named(self.usage_errors)):
            return 2
        if not isinstance(e, JOB_ERRORS + USAGE_ERRORS) and environment_fault(e) is not None:
            return EXIT_ENVIRONMENT
        named = ((self.job_errors, 1), (USAGE_ERRORS, 2), (JOB_ERRORS, 1))
        return next((status for errors, status in named if isinstance(e, _named(errors))), None)

    def _message(self, e: Exception, status: int) -> str:
        if status == EXIT_ENVIRONMENT and not isinstance(e, EnvironmentFaultError):
            e = EnvironmentFaultError(self.command, environment_fault(e) or str(e))
        return f"eidata {self.command}: {e}"

    def _build(self, args: Any) -> J:
        try:
            return self.build(args)
        except ValidationError as e:  # a value the job model refuses
            raise Usage(f"eidata {self.command}: {e}") from None


@dataclass
class StageReport:
    """What every stage reports: its corpus as named, what failed, the catalog's rows after it, its time."""

    root: Path | str = ""
    failed: list[str] = field(default_factory=list)
    catalog_rows: int | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        raise NotImplementedError  # each stage's report words its own

    def failures(self, shown: int = 20) -> list[str]:
        more = [f"  ... and {len(self.failed) - shown} more"] if len(self.failed) > shown else []
        return [f"  failed: {m}" for m in self.failed[:shown]] + more

    def any_failed(self) -> bool:
        return bool(self.failed)


RR = TypeVar("RR", bound=StageReport)


class CorpusStage(Generic[J, RR]):
    """A stage on a corpus: what differs from one stage to the next (the module's docstring). With a `Model` (a
    callable class mapped over batches) and maybe `decode` (a function of one row, in CPU tasks) its job is a
    `RayJob`."""

    command: ClassVar[str]  # `eidata <command>`; the job lock's kind and the name derived files are published under
    unit: ClassVar[str] = "ep"  # what a row is, on the progress bar
    Model: ClassVar[type | None] = None
    decode: ClassVar[Callable[..., dict[str, Any]] | None] = None  # a module-level function (staticmethod)
    decode_resources: ClassVar[dict[str, Any]] = {"num_cpus": 1}
    preserve_order: ClassVar[bool] = False  # batches in input order (`quiet_ray_data`)
    locks: bool = True  # take the corpus's job lock of this kind
    catalog: str | None = None  # what the stage writes, when the catalog indexes it (refreshed after)
    usage_errors: ClassVar[Errors] = ()  # its libraries' errors that are a bad call (exit 2)
    job_errors: ClassVar[Errors] = ()  # and those that stop the job (exit 1)

    def __init__(self, job: J, report: RR) -> None:
        self.job, self.report = job, report

    # -- what a stage states --------------------------------------------------------------------------------------
    def check(self) -> None:
        """Bad calls found before the corpus is opened (raise `Usage`, or an error in `usage_errors`)."""

    def plan(self, corpus: Corpus) -> list[dict[str, Any]]:
        """The rows for Ray (plain values: they travel as Arrow), after counting what is done in the report."""
        raise NotImplementedError

    def decode_args(self, corpus: Corpus) -> dict[str, Any]:
        return {}

    def model_args(self, place: Placement) -> dict[str, Any]:
        """The Model's constructor keywords on `place`."""
        return {}

    def batch_size(self, rows: list[dict[str, Any]], place: Placement) -> int:
        """Rows per Model call."""
        return int(self.job.batch_size)  # type: ignore[attr-defined]

    def accept(self, batch: dict[str, Any], corpus: Corpus) -> tuple[int, int]:
        """Record a batch of the Model's results on the driver (publish what it wrote); (rows, frames) for progress."""
        raise NotImplementedError

    def finish(self, corpus: Corpus, *, address: str | None, progress: bool | None) -> bool:
        """After the Ray work (in its Ray session, when there was one): what is left to do on the driver. True when
        the catalog's view of the corpus changed."""
        return False

    @classmethod
    def printout(cls, report: RR) -> str:
        return report.summary()

    # -- the run, the same for every stage ------------------------------------------------------------------------
    def run(
        self,
        *,
        address: str | None = None,
        progress: bool | None = None,
        storage: StorageOptions | None = None,
        corpus: Corpus | None = None,
    ) -> RR:
        """The whole run on `job.root` (its `storage` options, else the AWS environment), or on `corpus` when the
        caller holds it open already (caption hands its corpus to text-embed). Returns the report."""
        t0 = time.perf_counter()
        self.check()
        with ExitStack() as stack:
            if corpus is None:
                try:
                    opened = Corpus.open(self.job.root, storage, self.command, existing=True)  # type: ignore[attr-defined]
                    corpus = stack.enter_context(opened)
                except (NotACorpus, StorageError) as e:  # the corpus named is not one, or cannot be reached
                    raise Usage(f"eidata {self.command}: {e}") from None
            if self.locks and not getattr(self.job, "dry_run", False):  # a dry run writes nothing, not even a lock
                stack.enter_context(JobLock(corpus.root, self.command))
            rows = self.plan(corpus)
            # recorded before anything is written (`plan` writes nothing): a rerun after a kill or a full disk
            # finishes the catalog (jobs.runtime.intent)
            intent = None if self.catalog is None else CatalogIntent.begin(corpus.root, self.command)
            if rows and self.Model is not None:
                job: Any = self.job
                # every node reads the corpus's files or writes into it (a bucket's scratch: the driver publishes)
                session = ray_session(
                    address,
                    job.num_cpus,
                    job.object_store_mb,
                    shared_output=corpus.root,
                    preserve_order=self.preserve_order,
                )
                stack.enter_context(session)
                take = partial(self.accept, corpus=corpus)
                drain(self._stream(rows, corpus), len(rows), self.command, self.unit, progress, take)
            changed = self.finish(corpus, address=address, progress=progress)
            if self.catalog is not None:
                self.report.catalog_rows = refresh_catalog(corpus, changed, self.catalog, intent=intent)
        self.report.root = self.job.root  # type: ignore[attr-defined]
        self.report.seconds = time.perf_counter() - t0
        return self.report

    def _stream(self, rows: list[dict[str, Any]], corpus: Corpus) -> Iterator[dict[str, Any]]:
        """rows -> [decode] -> Model; the Model's result batches as they finish."""
        import pyarrow as pa
        import ray

        job: Any = self.job
        place = place_actors(job.device, job.actors, cluster_resources())
        per_call = self.batch_size(rows, place)
        log.info(
            "%s: %d %s on %s, %d actor(s), %d per call",
            self.command,
            len(rows),
            self.unit,
            place.device,
            place.actors,
            per_call,
        )
        table, per_block = pa.Table.from_pylist(rows), max(1, math.ceil(len(rows) / MAX_BLOCKS))
        ds: ray.data.Dataset = ray.data.from_arrow([table.slice(i, per_block) for i in range(0, len(rows), per_block)])
        if (decode := type(self).decode) is not None:
            ds = ds.map(decode, fn_kwargs=self.decode_args(corpus), **self.decode_resources)
        assert self.Model is not None, "a stage streams through its Model"
        ds = ds.map_batches(
            self.Model,
            batch_size=per_call,
            batch_format="numpy",
            concurrency=place.actors,
            fn_constructor_kwargs=self.model_args(place),
            **place.resources,
        )
        yield from ds.iter_batches(batch_size=None, batch_format="numpy")

    @classmethod
    def cli(cls, build: Callable[[Any], J]) -> Stage[J, RR]:
        """`eidata <command>`: `build` the job from the parsed flags, run it, print, exit 0/1/2."""
        return Stage(
            cls.command,
            build,
            lambda job, args: cls(job).run(address=getattr(args, "address", None)),  # type: ignore[call-arg]
            cls.printout,
            lambda report: report.any_failed(),
            usage_errors=cls.usage_errors,
            job_errors=cls.job_errors,
        )


def drain(
    batches: Iterable[R], total: int, label: str, unit: str, progress: bool | None, take: Callable[[R], tuple[int, int]]
) -> None:
    """Consume a job's result stream; `take(batch)` records a batch and says (items, frames) for the progress bar."""
    bar = Progress(total, label, unit=unit, enabled=progress)
    for batch in batches:
        items, frames = take(batch)
        bar.update(items, frames=frames)
    bar.close()


def refresh_catalog(
    corpus: Corpus, changed: bool, what: str, logger: logging.Logger = log, *, intent: CatalogIntent | None = None
) -> int | None:
    """Rebuild the catalog once after a stage wrote `what`, or when there is none yet, or when an earlier run left
    its intent (`intent.inherited`: it was stopped before its rebuild); then the intent is done. A failure is a
    warning (the stage's files are written) naming the command that redoes it, and the intent stays."""
    from jobs.catalog.build import rebuild_catalog

    if not (changed or (intent is not None and intent.inherited) or not (corpus.root / EPISODES_DIR).exists()):
        if intent is not None:
            intent.done()
        return None
    try:
        rows = rebuild_catalog(corpus)
    except CatalogError as e:
        redo = f"eidata catalog {corpus.where}"
        logger.warning("%s written, but the catalog was not updated (%s); run `%s`", what, e, redo)
        return None
    if intent is not None:
        intent.done()
    return rows
