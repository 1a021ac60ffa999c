"""The job spec's models: the sources to read, the parallelism, and the job that holds them with canonicalization
and codec settings. Validation checks everything that can be checked before work starts (adapters and their options,
roots that exist, unique source names); relative paths resolve against the folder named by the `BASE_DIR` context key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from adapters.hostile.limits import DEFAULT_MIB
from adapters.registry import adapter_class, get_adapter
from adapters.storage.root import Root
from ingest.lerobot.video import VideoCodec
from jobs.runtime.deadline import TaskDeadline
from jobs.runtime.options import Opt
from jobs.runtime.retry import EnvironmentRetry
from jobs.spec_reads import options_problems
from jobs.spec_robots import BASE_DIR, RobotSpec, robot_name_problem
from jobs.spec_validators import Loc, flat_errors, nested_error, no_unknown_keys
from schemas.canonicalize import CanonicalizeSpec
from schemas.frozen import Frozen
from schemas.storage import StorageError, StorageOptions
from schemas.tiers import QualityTier

_SOURCE_NAME = re.compile(r"[a-z0-9_]+")


def _where(v: Any, info: ValidationInfo, problem: Callable[[Any], str | None], field: str, expected: str) -> Any:
    """A folder or URL field: relative to the spec file's folder (or the working directory without one); a value that
    is no path is one error, as the plain `Path` field gave, not one per union arm."""
    if not isinstance(v, str | os.PathLike):
        raise PydanticCustomError("path_type", expected)
    v = Root.parse_where(v, Path((info.context or {}).get(BASE_DIR) or Path.cwd()))
    if (found := problem(v)) is not None:
        raise ValueError(f"{field} {found}")
    return v


class SourceSpec(BaseModel):
    """One raw source to ingest."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="this source's name in the job: episode uids and the output folder datasets/<name>/<subset>/ "
        "use it; lower-case letters, digits and _"
    )
    adapter: str = Field(
        description="adapter registry name (adapters.adapter_names()), or the import path package.module:Class of "
        "an adapter outside the package"
    )
    root: Path | str = Field(
        description="the raw data the adapter reads: a folder, relative to the spec file, that must exist; or an "
        "object-store URL (s3://bucket/prefix, gs://, hf://), its bucket, prefix and credential checked before work. "
        "The folder its layout starts at or one above it, as the adapter's docstring says (lerobot: a dataset's "
        "meta/info.json here or one or two levels below; oxe: <dataset>/<version>/dataset_info.json up to 3 levels "
        "below, so a builder's version folder and its parents both do); a root that cannot be one is refused here, "
        "saying what was expected"
    )
    storage: StorageOptions | None = Field(
        None,
        description="object-store options of a URL root; unset: the AWS environment and config files (s3://),"
        " GOOGLE_APPLICATION_CREDENTIALS or gcloud's default credentials (gs://)",
    )
    tier: QualityTier | None = Field(
        None,
        description="the source's default quality tier, in place of the adapter's (kept as the verdict "
        "`source_default`, which `eidata curate --include-verdict` overrules): a default that the judging step's "
        "verdicts still lower, never raise (missing actions -> actionless; failure, idle, oscillation -> low; each "
        "with its reason in tier_reasons), and the ingest summary says how many episodes kept it. high or low is "
        "refused for an adapter whose episodes never hold an action",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="the adapter's own options (its options_model), validated here"
    )
    # tagged by the value's kind, so a description's problem is reported alone, not beside "should be a string"
    robot: (
        Annotated[
            Annotated[str, Tag("name")] | Annotated[RobotSpec, Tag("description")],
            Discriminator(lambda v: "name" if isinstance(v, str) else "description"),
        ]
        | None
    ) = Field(
        None,
        description="the robot that recorded this source, when eidata ships no description of it: a name in the "
        "spec's `robots:` section, or a description given here (named after the source): its URDF, joints, units, "
        "end-effector links and gripper range (jobs.spec_robots); its episodes get canonical actions by its FK",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SOURCE_NAME.fullmatch(v):
            raise ValueError(f"{v!r} must be lower-case letters, digits and _ (it names folders and episode uids)")
        return v

    @field_validator("adapter")
    @classmethod
    def _adapter(cls, v: str) -> str:
        try:
            adapter_class(v)
        except KeyError as e:
            raise ValueError(e.args[0]) from None
        return v

    @field_validator("root", mode="before")
    @classmethod
    def _root(cls, v: Any, info: ValidationInfo) -> Any:
        return _where(v, info, Root.folder_problem, "root", "Input is not a valid path or URL")

    @model_validator(mode="after")
    def _root_reachable(self) -> SourceSpec:
        # checked now, before any work, naming the root and the first cause: a URL's bucket, prefix and credential,
        # then whether the root holds what the adapter reads
        try:
            Root.preflight(str(self.root), self.storage)
        except StorageError as e:
            raise nested_error([(("root",), "value_error", str(e))]) from None
        location = Root(self.root, self.storage).location()
        problem = adapter_class(self.adapter).root_problem(location)
        if problem is not None:
            raise nested_error([(("root",), "value_error", f"root {self.root}: {problem}")])
        return self  # what the options name against the root's files: `JobSpec._options_match_files`

    @model_validator(mode="after")
    def _tier_can_apply(self) -> SourceSpec:
        # a default no episode of the source can keep is refused, not ignored (newcomer review 6, row 27)
        why = adapter_class(self.adapter).no_actions
        if self.tier in (QualityTier.high, QualityTier.low) and why:
            msg = (
                f"tier {self.tier.value} cannot apply to adapter {self.adapter}: its episodes hold no action ({why}), "
                "so the judging step lowers every one to actionless; the spec's tier is a default the verdicts "
                "lower, never raise: leave it out or set actionless"
            )
            raise nested_error([(("tier",), "value_error", msg)])
        return self

    @field_validator("tier", mode="before")
    @classmethod
    def _tier(cls, v: Any) -> Any:
        # `rejected` is a verdict, never a tier to ingest at
        allowed = [t.value for t in QualityTier if t is not QualityTier.rejected]
        if v is not None and v not in allowed:
            raise ValueError(
                f"tier must be one of {', '.join(allowed)} (or absent for the adapter's default), got {v!r}"
            )
        return v

    @field_validator("options", mode="before")
    @classmethod
    def _options_null(cls, v: Any) -> Any:
        return {} if v is None else v  # `options:` with nothing under it

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("adapter")
        if name is None:
            return v  # the adapter itself is already reported
        try:
            get_adapter(name, v)
        except ValidationError as e:
            raise nested_error(flat_errors(e)) from e
        except Exception as e:  # an adapter's own consistency check
            raise ValueError(f"adapter {name!r} refuses these options: {e}") from e
        return v


class ParallelismSpec(Frozen):
    """How much runs at once on Ray."""

    num_cpus: int | None = Field(None, ge=1, description="CPUs of an embedded Ray cluster (None: all of this machine)")
    max_in_flight: int = Field(
        8, ge=1, description="episodes read/canonicalized/encoded at once: the backpressure bound on memory"
    )
    commit_window: int = Field(
        64,
        ge=1,
        description="finished episodes that may wait for an earlier, slower one to be committed (commits go in"
        " discovery order): a few KiB each in memory, their files in staging; keeps workers busy behind a long episode",
    )
    commit_lag: int = Field(
        8,
        ge=1,
        description="raw episodes handed to the committers and not yet committed; past it the driver waits for"
        " commits before it hands on more (a kill finds at most this many of them uncommitted; each is kept anyway"
        " when its staged files are whole: jobs.ingest.adopt)",
    )
    committers: int = Field(
        4,
        ge=0,
        description="committer actors on the driver's node, each owning some datasets (one actor per dataset up to"
        " this many): datasets commit in parallel, each in discovery order, the same bytes as one committer; 0 commits"
        " in the driver itself",
    )
    object_store_mb: int = Field(512, ge=64, description="object store of an embedded Ray cluster, MiB")
    task_retries: int = Field(3, ge=0, description="Ray retries of a task whose worker died")
    encoder_threads: int | None = Field(
        1,
        ge=1,
        description="video encoder threads per camera inside one episode task when `codec.threads` is unset; 1 keeps"
        " a task within its one-CPU Ray reservation (N tasks on N cores); None lets the encoder use every core",
    )
    pin_tasks: bool = Field(
        True,
        description="hold each episode task to the one CPU it books from Ray (CPU affinity, jobs.runtime.cpu_slots):"
        " a task's encoders run their pipelines in threads of their own, one per camera, which would otherwise keep"
        " more cores busy than Ray booked",
    )
    task_memory_mib: int | None = Field(
        DEFAULT_MIB,
        ge=64,
        le=1 << 20,
        description="memory (MiB) the process that parses a source's raw bytes (a discovery, an episode; `trace`,"
        " `inspect`, `validate`) may use, enforced by the operating system: a cgroup v2 or v1 memory controller, else"
        " RLIMIT_AS on that process alone (adapters.hostile.limits); past it the process is killed (or its allocation"
        " fails), tried once more, then the file's episodes are quarantined naming the file and the limit; null: none",
    )
    deadline: TaskDeadline = Field(
        default_factory=TaskDeadline,
        description="per-episode deadline on decode + encode, from the episode's pixels; past it the worker is"
        " killed, the episode retried, then quarantined (jobs.runtime.deadline)",
    )
    environment: EnvironmentRetry = Field(
        default_factory=EnvironmentRetry,
        description="errors of the environment (disk full, I/O error, a store that does not answer, a worker killed"
        " on every attempt) are waited out with backoff, then end the job with the error, leaving the episode to the"
        " next run; never quarantined (jobs.runtime.retry)",
    )


class JobSpec(BaseModel):
    """An ingestion job: where to write, what to read, and how."""

    model_config = ConfigDict(extra="forbid")

    output: Path | str = Field(
        description="the corpus folder (datasets/, catalog/, manifests/, job/), relative to the spec; or a bucket URL"
        " (s3://bucket/corpus), written exactly once through commit records (DESIGN.md 3.2)"
    )
    output_storage: StorageOptions | None = Field(
        None, description="object-store options of a bucket output; unset: the AWS environment and config files"
    )
    sources: list[SourceSpec] = Field(min_length=1, description="raw sources; names unique")
    canonicalize: Annotated[CanonicalizeSpec, no_unknown_keys(CanonicalizeSpec)] = Field(
        default_factory=CanonicalizeSpec, description="rates, cameras, gaps, validity and quality thresholds"
    )
    codec: Annotated[VideoCodec, no_unknown_keys(VideoCodec)] = Field(
        default_factory=VideoCodec, description="video encoder settings"
    )
    parallelism: ParallelismSpec = Field(default_factory=ParallelismSpec, description="Ray parallelism and retries")
    robots: dict[str, RobotSpec] = Field(
        default_factory=dict,
        description="robot descriptions sources name by `robot:` (jobs.spec_robots), registered for this job only",
    )
    strict: bool = Field(
        False, description="any quarantined episode, or a source that yields no episode, fails the job (exit code 1)"
    )

    @field_validator("output", mode="before")
    @classmethod
    def _output(cls, v: Any, info: ValidationInfo) -> Any:
        return _where(v, info, Root.output_problem, "output", "Input is not a valid path or bucket URL")

    @field_validator("sources", mode="wrap")
    @classmethod
    def _unique_names(cls, v: Any, handler: ValidatorFunctionWrapHandler) -> list[SourceSpec]:
        # Checked on the raw items, so a duplicate is reported in the same pass as the sources' other errors.
        first: dict[str, int] = {}
        issues: list[tuple[Loc, str, str]] = []
        for i, item in enumerate(v if isinstance(v, list) else []):
            name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
            if not isinstance(name, str):
                continue
            if name in first:
                issues.append(
                    ((i, "name"), "duplicate", f"duplicate source name {name!r} (also sources[{first[name]}])")
                )
            first.setdefault(name, i)
        try:
            out = handler(v)
        except ValidationError as e:
            if not issues:
                raise
            raise nested_error(flat_errors(e) + issues) from e
        if issues:
            raise nested_error(issues)
        return out

    @model_validator(mode="after")
    def _robots_named(self) -> JobSpec:
        # each source's robot by name from `robots:`, or given under it (named after the source)
        issues: list[tuple[Loc, str, str]] = [
            (("robots", name), "value_error", why) for name in self.robots if (why := robot_name_problem(name))
        ]
        for i, src in enumerate(self.sources):
            if isinstance(src.robot, str):
                if src.robot not in self.robots:
                    why = f"no robot named {src.robot!r} in the spec's robots: section; robots: {sorted(self.robots)}"
                    issues.append((("sources", i, "robot"), "value_error", why))
                else:
                    src.robot = self.robots[src.robot].model_copy(update={"name": src.robot})
            elif isinstance(src.robot, RobotSpec) and not src.robot.name:
                if why := robot_name_problem(src.name):
                    issues.append((("sources", i, "robot"), "value_error", why))
                src.robot = src.robot.model_copy(update={"name": src.name})
        if issues:
            raise nested_error(issues)
        return self

    @model_validator(mode="after")
    def _options_match_files(self) -> JobSpec:
        # each source's options against its meta files (a camera, a builder one letter off), read behind the parse
        # boundary under the job's own memory bound (`jobs.spec_reads`, issue 97 item 1)
        mib = self.parallelism.task_memory_mib
        issues: list[tuple[Loc, str, str]] = [
            (("sources", i, *loc), "value_error", msg)
            for i, s in enumerate(self.sources)
            for loc, msg in options_problems(s.name, s.adapter, s.options, s.storage, s.root, mib)
        ]
        if issues:
            raise nested_error(issues)
        return self

    @model_validator(mode="after")
    def _image_sources_exist(self) -> JobSpec:
        # a per-source stored size under a name no source has would silently leave that source at the default
        names = [s.name for s in self.sources]
        issues = [
            (("canonicalize", "image", "sources", key), "value_error", f"no source named {key!r}; sources: {names}")
            for key in self.canonicalize.image.sources
            if key not in names
        ]
        if issues:
            raise nested_error(issues)
        return self

    @model_validator(mode="after")
    def _output_outside_roots(self) -> JobSpec:
        # Output inside a raw root would be rediscovered as raw data by adapters that walk their root; a root inside
        # the output (or the output among the raw folders) re-ingests the corpus's own episodes as a new source and
        # overwrites its job/spec.yaml (issue 79): any overlap, either direction, is refused naming both
        for i, src in enumerate(self.sources):
            if Root.lies_in(self.output, src.root):
                raise nested_error([(("output",), "value_error", f"output lies inside sources[{i}].root ({src.root})")])
            if Root.lies_in(src.root, self.output):
                why = f"sources[{i}].root ({src.root}) lies inside output ({self.output}): the corpus read as raw"
                raise nested_error([(("output",), "value_error", why)])
        return self


class PreparedSpec(JobSpec):
    """The spec a run works to once its corpus is open (`jobs.ingest.resume.prepare`): `output` is the corpus's local
    folder, a bucket corpus's scratch included."""

    output: Path


# `eidata ingest --strict`: the spec's own field, also given on the command line (jobs/cli.py: either one fails the job)
STRICT = Opt(JobSpec, "strict")
# `eidata inspect` and `eidata validate`, which parse a dataset's bytes outside a job: the job's own bound, given once
MEMORY_MIB = Opt(ParallelismSpec, "task_memory_mib", flags=("--memory-mib",))


def memory_mib(given: int | None) -> int | None:
    """The parse process's bound from `--memory-mib` (`MEMORY_MIB`), validated as the job spec's field; a value it
    refuses is a ValueError naming the option."""
    try:
        return ParallelismSpec(task_memory_mib=given).task_memory_mib
    except ValidationError as e:
        raise ValueError(f"--memory-mib {given}: {e.errors()[0]['msg']}") from None
