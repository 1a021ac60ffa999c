"""The job spec: one YAML file, validated completely before any work starts (issue 5, point 1).

`load_spec(path)` parses with PyYAML's composer so every node keeps its line, validates with pydantic, and turns
every problem (YAML syntax, bad UTF-8, unknown or missing keys, wrong types, unknown adapters, bad adapter options,
roots that do not exist, duplicate source names) into a `SpecIssue` naming the field and its line. Relative paths
resolve against the spec file's folder. `dump_spec` writes the resolved spec (absolute paths, every default filled
in) that the job copies into the corpus for lineage.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

import adapters  # noqa: F401 - importing the package registers every adapter
from adapters.registry import adapter_class, get_adapter
from ingest.canonical.canonicalize import CanonicalizeSpec
from ingest.lerobot.video import VideoCodec
from schemas.tiers import QualityTier

Loc = tuple[str | int, ...]

_NESTED = "spec_nested"  # a custom error carrying several located issues; `load_spec` expands it
_SOURCE_NAME = re.compile(r"[a-z0-9_]+")
_BASE_DIR = "base_dir"  # validation-context key: the folder relative paths resolve against


# --- located errors raised from inside validators --------------------------------------------------------------


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nested(issues: list[tuple[Loc, str, str]]) -> PydanticCustomError:
    """One pydantic error that carries `(loc relative to the field, error type, message)` issues.

    Pydantic reports whatever a validator raises at the validator's own location; this keeps each issue's own place
    (e.g. `options.verify_crc`), so `load_spec` can give each its field and line.
    """
    summary = "; ".join(f"{_dotted(loc)}: {msg}" if loc else msg for loc, _, msg in issues)
    return PydanticCustomError(_NESTED, "{summary}", {"summary": summary, "issues": issues})


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Absolute and normalized, relative to the spec file's folder (or the working directory without one)."""
    base = Path((info.context or {}).get(_BASE_DIR) or Path.cwd())
    return Path(os.path.normpath(base / value.expanduser()))


# --- unknown keys in models that do not forbid them themselves ---------------------------------------------------


def _strip(tp: Any) -> Any:
    """`Annotated[X, ...]` -> X; `X | None` -> X. Other unions stay as they are."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _as_model(tp: Any) -> type[BaseModel] | None:
    tp = _strip(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unknown_keys(tp: Any, value: Any, loc: Loc = ()) -> list[tuple[Loc, str, str]]:
    """Keys the models under `tp` would silently ignore (those without `extra="forbid"`: a typo in a threshold
    must not pass unnoticed). Models that forbid extras report their own keys; their children are still walked."""
    model = _as_model(tp)
    if model is not None:
        if not isinstance(value, dict):
            return []
        forbid = model.model_config.get("extra") == "forbid"
        out: list[tuple[Loc, str, str]] = []
        for key, sub in value.items():
            field = model.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                if not forbid:
                    out.append(((*loc, key), "extra_forbidden", "Extra inputs are not permitted"))
                continue
            out += _unknown_keys(field.annotation, sub, (*loc, key))
        return out
    tp = _strip(tp)
    origin, args = get_origin(tp), get_args(tp)
    if origin is list and args and isinstance(value, list):
        return [issue for i, v in enumerate(value) for issue in _unknown_keys(args[0], v, (*loc, i))]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return [issue for k, v in value.items() for issue in _unknown_keys(args[1], v, (*loc, k))]
    return []


def _flat(exc: ValidationError) -> list[tuple[Loc, str, str]]:
    """`(loc, type, message)` of every error, nested issues expanded under the location that raised them."""
    out: list[tuple[Loc, str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == _NESTED:
            out += [((*loc, *inner), kind, msg) for inner, kind, msg in err["ctx"]["issues"]]
        else:
            out.append((loc, err["type"], err["msg"]))
    return out


def _no_unknown_keys(model: type[BaseModel]) -> BeforeValidator:
    def check(value: Any) -> Any:
        if issues := _unknown_keys(model, value):
            try:  # report the model's other errors in the same pass
                model.model_validate(value)
            except ValidationError as e:
                issues += [i for i in _flat(e) if i[1] != "extra_forbidden"]
            raise _nested(issues)
        return value

    return BeforeValidator(check)


# --- the spec ---------------------------------------------------------------------------------------------------


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
    root: Path = Field(description="the raw data folder the adapter reads; relative to the spec file; must exist")
    tier: QualityTier | None = Field(
        None, description="override of the adapter's default quality tier (canonicalization may still demote)"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="the adapter's own options (its options_model), validated here"
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

    @field_validator("root")
    @classmethod
    def _root(cls, v: Path, info: ValidationInfo) -> Path:
        v = _resolve(v, info)
        if not v.exists():
            raise ValueError(f"root does not exist: {v}")
        return v

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
            raise _nested(_flat(e)) from e
        except Exception as e:  # an adapter's own consistency check
            raise ValueError(f"adapter {name!r} refuses these options: {e}") from e
        return v


class ParallelismSpec(BaseModel):
    """How much runs at once on Ray."""

    model_config = ConfigDict(extra="forbid")

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


class JobSpec(BaseModel):
    """An ingestion job: where to write, what to read, and how."""

    model_config = ConfigDict(extra="forbid")

    output: Path = Field(description="the corpus folder (datasets/, catalog/, manifests/, job/); relative to the spec")
    sources: list[SourceSpec] = Field(min_length=1, description="raw sources; names unique")
    canonicalize: Annotated[CanonicalizeSpec, _no_unknown_keys(CanonicalizeSpec)] = Field(
        default_factory=CanonicalizeSpec, description="rates, cameras, gaps, validity and quality thresholds"
    )
    codec: Annotated[VideoCodec, _no_unknown_keys(VideoCodec)] = Field(
        default_factory=VideoCodec, description="video encoder settings"
    )
    parallelism: ParallelismSpec = Field(default_factory=ParallelismSpec, description="Ray parallelism and retries")
    strict: bool = Field(False, description="any quarantined episode fails the job (exit code 1)")

    @field_validator("output")
    @classmethod
    def _output(cls, v: Path, info: ValidationInfo) -> Path:
        v = _resolve(v, info)
        if v.exists() and not v.is_dir():
            raise ValueError(f"output exists and is not a folder: {v}")
        return v

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
            raise _nested(_flat(e) + issues) from e
        if issues:
            raise _nested(issues)
        return out

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
            raise _nested(issues)
        return self

    @model_validator(mode="after")
    def _output_outside_roots(self) -> JobSpec:
        # Output inside a raw root would be rediscovered as raw data by adapters that walk their root.
        for i, src in enumerate(self.sources):
            if self.output.is_relative_to(src.root):
                raise _nested([(("output",), "value_error", f"output lies inside sources[{i}].root ({src.root})")])
        return self


# --- errors with lines --------------------------------------------------------------------------------------------


class SpecIssue(BaseModel):
    """One problem in a spec file."""

    model_config = ConfigDict(frozen=True)

    loc: str = Field(description='dotted field path, e.g. "sources[0].adapter"; "" for the whole file')
    line: int | None = Field(description="1-based line in the YAML file, None when no line applies")
    message: str

    def format(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else str(path)
        return f"{where}: {self.loc}: {self.message}" if self.loc else f"{where}: {self.message}"


class SpecError(Exception):
    """A spec that cannot run: every issue found, each with its field and line."""

    def __init__(self, path: Path, errors: list[SpecIssue]) -> None:
        self.path, self.errors = Path(path), list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(issue.format(self.path) for issue in self.errors)


def _walk(node: yaml.Node | None, loc: Loc) -> tuple[int, int | None]:
    """How many leading parts of `loc` exist in the YAML tree, and the line (0-based) of the deepest one: the key's
    line for a mapping entry, the item's for a sequence item."""
    if node is None:
        return 0, None
    line = node.start_mark.line
    for depth, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            hit = next(
                (kv for kv in node.value if isinstance(kv[0], yaml.ScalarNode) and kv[0].value == str(part)), None
            )
            if hit is None:
                return depth, line
            line, node = hit[0].start_mark.line, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        else:
            return depth, line
    return len(loc), line


def _duplicate_keys(node: yaml.Node | None, loc: Loc = ()) -> list[SpecIssue]:
    """YAML lets a mapping repeat a key and keeps the last value silently; a spec must not."""
    out: list[SpecIssue] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in seen:
                msg = f"duplicate key {key.value!r} (first at line {seen[key.value]}); YAML would keep only the last"
                out.append(SpecIssue(loc=_dotted((*loc, key.value)), line=key.start_mark.line + 1, message=msg))
            seen.setdefault(key.value, key.start_mark.line + 1)
            out += _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicate_keys(item, (*loc, i))
    return out


def _model_at(loc: Loc, data: Any) -> type[BaseModel] | None:
    """The model whose keys are valid at `loc` (for "did you mean"); adapter options resolve through the adapter."""
    tp: Any = JobSpec
    for part in loc:
        model = _as_model(tp)
        if model is SourceSpec and part == "options":
            try:
                return get_adapter(data["adapter"]).options_model if isinstance(data, dict) else None
            except Exception:
                return None
        if model is not None:
            field = model.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        else:
            origin, args = get_origin(_strip(tp)), get_args(_strip(tp))
            if origin is list and args and isinstance(part, int):
                tp = args[0]
            elif origin is dict and len(args) == 2:
                tp = args[1]
            else:
                return None
        data = data[part] if isinstance(data, dict | list) and _has(data, part) else None
    return _as_model(tp)


def _has(data: dict | list, part: str | int) -> bool:
    return part in data if isinstance(data, dict) else isinstance(part, int) and 0 <= part < len(data)


def _message(kind: str, msg: str, loc: Loc, data: Any) -> str:
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1], data)
        if model is None:
            return f"unknown key {key!r}"
        allowed = list(model.model_fields)
        close = difflib.get_close_matches(key, allowed, n=1)
        return f"unknown key {key!r}; " + (f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}")
    if kind == "path_type":
        return "expected a path"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping (key: value lines)"
    return msg.removeprefix("Value error, ")


def _issues(exc: ValidationError, root: yaml.Node | None, data: Any) -> list[SpecIssue]:
    raw = _flat(exc)
    out: list[SpecIssue] = []
    for loc, kind, msg in raw:
        found, line = _walk(root, loc)
        # Parts past the deepest existing node are pydantic's union tags ("int", "literal[...]"): drop them. A missing
        # key is the one exception: it is named, and its line is that of the mapping that lacks it.
        shown = loc if kind == "missing" and found == len(loc) - 1 else loc[:found]
        issue = SpecIssue(
            loc=_dotted(shown), line=None if line is None else line + 1, message=_message(kind, msg, loc, data)
        )
        if issue not in out:
            out.append(issue)
    return out


def _fail(path: Path, message: str, line: int | None = None) -> SpecError:
    return SpecError(path, [SpecIssue(loc="", line=line, message=message)])


def load_spec(path: Path) -> JobSpec:
    """Read, parse and validate a job spec; raise `SpecError` naming the field and line of every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _fail(path, f"cannot read the spec: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, f"not UTF-8: {e.reason} at byte {e.start}", raw[: e.start].count(b"\n") + 1) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        if e.problem and e.context and e.context_mark:  # where the unclosed construct began
            problem += f" ({e.context} at line {e.context_mark.line + 1})"
        raise _fail(path, f"YAML syntax error: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise _fail(path, f"YAML error: {e}") from None
    finally:
        loader.dispose()
    if data is None:
        raise _fail(path, "the spec is empty: expected a mapping with at least 'output' and 'sources'")
    if not isinstance(data, dict):
        raise _fail(path, f"expected a mapping at the top level, got {type(data).__name__}", node.start_mark.line + 1)
    issues = _duplicate_keys(node)
    try:
        # the folder the file appears in (a symlinked spec resolves against its link's folder, not the target's)
        spec = JobSpec.model_validate(data, context={_BASE_DIR: Path(os.path.abspath(path)).parent})
    except ValidationError as e:
        issues += _issues(e, node, data)
    if issues:
        raise SpecError(path, sorted(issues, key=lambda i: (i.line or 0, i.loc)))
    return spec


def dump_spec(spec: JobSpec) -> str:
    """The resolved spec as YAML: absolute paths and every default, so the corpus records exactly what ran."""
    header = "# eidata job spec, resolved: absolute paths, every default filled in\n"
    return header + yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=120)
