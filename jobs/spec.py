"""The job spec: one YAML file, validated completely before any work starts (issue 5, point 1).

`load_spec(path)` parses with PyYAML's composer so every node keeps its line, validates with pydantic (the models:
`jobs/spec_models.py`), and turns every problem (YAML syntax, bad UTF-8, unknown or missing keys, wrong types, unknown
adapters, bad adapter options, missing roots, duplicate source names) into a `SpecIssue` naming the field and its line.
Relative paths resolve against the spec file's folder. `dump_spec` writes the resolved spec the job keeps for lineage.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo

from adapters.registry import adapter_class
from jobs.spec_models import JobSpec, SourceSpec
from jobs.spec_robots import BASE_DIR, SPEC_PATH
from jobs.spec_validators import Loc, as_model, dotted, flat_errors, strip_type
from schemas.frozen import Frozen
from schemas.spelling import unknown


class SpecIssue(Frozen):
    """One problem in a spec file."""

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


def _untagged(node: yaml.Node | None, loc: Loc) -> Loc:
    """`loc` without pydantic's union tags inside it: a part the YAML mapping lacks whose next part it has
    (`sources.0.robot.description.arms` -> `sources.0.robot.arms`), so the issue names the nested key and its line."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        found, _ = _walk(node, (*out, part))
        if found == len(out) + 1:
            out.append(part)
        elif i + 1 < len(loc) and isinstance(part, str) and _walk(node, (*out, loc[i + 1]))[0] == len(out) + 1:
            continue  # a union's tag
        else:
            out += loc[i:]
            break
    return tuple(out)


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
                out.append(SpecIssue(loc=dotted((*loc, key.value)), line=key.start_mark.line + 1, message=msg))
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
        model = as_model(tp)
        if model is SourceSpec and part == "options":
            try:  # the class's model, not an adapter made with no options: one without a default refuses them
                tp = adapter_class(data["adapter"]).options_model if isinstance(data, dict) else None
            except Exception:
                return None
        elif model is not None:
            field = model.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = _the_model(field.annotation)
        else:
            origin, args = get_origin(strip_type(tp)), get_args(strip_type(tp))
            if origin is list and args and isinstance(part, int):
                tp = args[0]
            elif origin is dict and len(args) == 2:
                tp = args[1]
            else:
                return None
        data = _child(data, part)
    return as_model(tp)


def _the_model(tp: Any) -> Any:
    """The one model among a union's members (`robot: str | RobotSpec`: a name or a description), else `tp`."""
    bare = strip_type(tp)
    members = get_args(bare) if get_origin(bare) in (Union, UnionType) else ()
    models = [m for a in members if (m := as_model(a)) is not None]
    return models[0] if len(models) == 1 else tp


def _child(data: Any, part: str | int) -> Any:
    """`data[part]` where `data` holds it (a mapping's key, a list's index), else None."""
    if isinstance(data, dict):
        return data.get(part)
    return data[part] if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data) else None


def _message(kind: str, msg: str, loc: Loc, data: Any) -> str:
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1], data)
        if model is None:
            return f"unknown key {key!r}"
        return unknown("key", key, model.model_fields, listing="allowed")
    if kind == "path_type":
        return "expected a path"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping (key: value lines)"
    if msg.startswith("Input "):  # pydantic's generic words ("Input should be 10"): what the field is, from its model
        found = _field_at(loc, data)
        if found is not None and found[1].description:
            return f"{msg}; {found[0]}: {found[1].description}"
    return msg.removeprefix("Value error, ")


def _field_at(loc: Loc, data: Any) -> tuple[str, FieldInfo] | None:
    """The model field a problem's `loc` names, with its name (the deepest key that is a field of the model
    `_model_at` gives above it: past it, list indices and pydantic's union tags), or None."""
    for end in range(len(loc), 0, -1):
        name = loc[end - 1]
        model = _model_at(loc[: end - 1], data) if isinstance(name, str) else None
        if model is not None and name in model.model_fields:
            return name, model.model_fields[name]
    return None


def _issues(exc: ValidationError, root: yaml.Node | None, data: Any) -> list[SpecIssue]:
    out: list[SpecIssue] = []
    for tagged, kind, msg in flat_errors(exc):
        loc = _untagged(root, tagged)
        found, line = _walk(root, loc)
        # Parts past the deepest existing node are pydantic's union tags ("int", "literal[...]"): drop them. A missing
        # key is the one exception: it is named, and its line is that of the mapping that lacks it.
        shown = loc if kind == "missing" and found == len(loc) - 1 else loc[:found]
        issue = SpecIssue(
            loc=dotted(shown), line=None if line is None else line + 1, message=_message(kind, msg, loc, data)
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
        # every YAML alias (`*name`, `<<: *name`), from the parser's events: nothing is composed or expanded. A spec
        # states each value where it applies; an alias bomb (8 levels of 10 aliases) made validation walk 10^8 leaves
        # (53 s of CPU) before it could report a field.
        if aliases := [
            SpecIssue(
                loc="",
                line=event.start_mark.line + 1,
                message=f"YAML alias *{event.anchor} refused: a spec writes each value out where it applies",
            )
            for event in yaml.parse(text, Loader=yaml.SafeLoader)
            if isinstance(event, yaml.AliasEvent)
        ][:20]:
            raise SpecError(path, aliases)
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
        here = Path(os.path.abspath(path))
        spec = JobSpec.model_validate(data, context={BASE_DIR: here.parent, SPEC_PATH: here})
    except ValidationError as e:
        issues += _issues(e, node, data)
    if issues:
        raise SpecError(path, sorted(issues, key=lambda i: (i.line or 0, i.loc)))
    return spec


def dump_spec(spec: JobSpec) -> str:
    """The resolved spec as YAML: absolute paths and every default, so the corpus records exactly what ran."""
    header = "# eidata job spec, resolved: absolute paths, every default filled in\n"
    return header + yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=120)
