"""The catalog's views: what `eidata query` opens (`VIEWS`: each view's folder of parquet parts and the row model they
are written from), and their reference: what one row of each is, and each column's type, unit and meaning, read from
that row model, so it cannot drift from the files. `eidata query --describe [VIEW]` prints it (`describe`);
`jobs/catalog/VIEWS.md` is the same as a document (`python -m jobs.catalog.views` rewrites it, and
tests/jobs/catalog/test_views.py fails while it is stale).

A unit comes from the column's description where it ends in one, "(s)", "(m/s^2)", "(deg)" (the QA records write
them so), else from the name's convention (`_s` seconds, `_fraction` a share of 0..1, `_frame` a frame index), else
from `UNITS` below; text, flags and ids have none.
"""

from __future__ import annotations

import re
import sys
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from schemas.arrow import arrow_schema
from schemas.catalog import CatalogRow
from schemas.corpus import EPISODES_DIR, QUARANTINE_DIR, QuarantineRow
from schemas.dataset_qa import DATASET_QA_DIR, DatasetQARow
from schemas.findings import SOURCE_FINDINGS_DIR, SourceFinding
from schemas.qa import FINDINGS_DIR, DatasetFindingRow
from schemas.verdicts import VERDICTS_DIR, VerdictRow


@dataclass(frozen=True)
class View:
    """A view of the catalog: the folder of its parquet parts and the row model they are written from."""

    folder: str
    model: type[BaseModel]
    grain: str  # what one row is, for `--describe`

    @property
    def schema(self) -> pa.Schema:
        return arrow_schema(self.model)


VIEWS = {
    "episodes": View(
        EPISODES_DIR, CatalogRow, "one row per episode written to the corpus, whatever its tier (its meta, QA values)"
    ),
    "quarantine": View(
        QUARANTINE_DIR,
        QuarantineRow,
        "one row per raw episode (or raw item) that was never written, with the step and the reason",
    ),
    "findings": View(
        FINDINGS_DIR,
        DatasetFindingRow,
        "one row per dataset-level behaviour finding (task imbalance, short episodes); informative, it lowers no tier",
    ),
    "verdicts": View(
        VERDICTS_DIR,
        VerdictRow,
        "one row per finding behind an episode's tier (ingest's and `eidata verdicts`'), with value and threshold",
    ),
    "dataset_qa": View(
        DATASET_QA_DIR,
        DatasetQARow,
        "one row per dataset with episodes: its geometry QA pooled over its episodes and its behaviour findings in "
        "words, as the report shows them",
    ),
    "source_findings": View(
        SOURCE_FINDINGS_DIR,
        SourceFinding,
        "one row per thing a source as a whole could not give (declared files missing, folders skipped, no episode)",
    ),
}

REFERENCE_MD = Path(__file__).with_name("VIEWS.md")
FRAME = "frame index (10 Hz)"
SHARE = "share 0..1"
# units a description does not end in and a name does not say
UNITS = {
    "episode_index": "index",
    "num_frames": "frames (10 Hz)",
    "behaviour_episodes": "episodes",
    "raw_fps": "Hz",
    "qa_frames": "frames (10 Hz)",
    "qa_approach_hist": "frames per 10 deg bin",
    "qa_bone_length_cv": "ratio (std / mean)",
    "qa_gripper_min": "opening 0..1",
    "qa_gripper_p5": "opening 0..1",
    "qa_gripper_p95": "opening 0..1",
    "qa_gripper_max": "opening 0..1",
    "qa_cam_repeat_period": "frames",
    "qa_dead_dims": "canonical dim indices",
    "qa_saturated_dims": "canonical dim indices",
    "qa_native_dead_dims": "native state column indices",
    "qa_native_saturated_dims": "native state column indices",
    "qa_jump_sigma": "robust sigmas",
    "qa_glitch_sigma": "robust sigmas",
    "qa_glitch_value": "qa_glitch_unit",
    "qa_plateau_value": "rad or m",
    "qa_clamp_value": "rad or m",
    "qa_explained_values": "s or share 0..1",
    "qa_nonfinite": "values",
    "qa_trim_start": FRAME,
    "qa_trim_stop": FRAME,
    "qa_tracking_corr": "correlation -1..1",
    "qa_fingerprint": "uint32 hashes",
    "qa_duplicate_residual": "normalised difference",
    "value": "the code's column",
    "threshold": "the code's column",
}
_UNIT_AT_END = re.compile(r"\((m/s\^2|m/s|rad/s|m|s|deg)[;)]")
_SHARE_FIRST = re.compile(r"(\w+: )?(fraction|share|largest share) of")  # "egocentric: fraction of tracked wrists"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    unit: str
    meaning: str


def _type_name(annotation: Any) -> str:
    """A column's type as a reader of the SQL sees it: text, integer, float, bool, timestamp, list of ..."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _type_name(args[0])
    if typing.get_origin(annotation) in (list, tuple):
        return f"list of {_type_name(args[0])}"
    if typing.get_origin(annotation) is typing.Literal:
        return "text: " + " | ".join(map(str, typing.get_args(annotation)))
    names = {bool: "bool", int: "integer", float: "float", str: "text"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, str):  # a str enum: its values
        return "text: " + " | ".join(str(v.value) for v in annotation)  # type: ignore[attr-defined]
    return "timestamp (UTC)" if getattr(annotation, "__name__", "") == "datetime" else str(annotation)


def unit_of(name: str, description: str) -> str:
    """The column's unit (see the module's doc); "" for text, flags and ids."""
    if name in UNITS:
        return UNITS[name]
    if found := _UNIT_AT_END.search(description):
        return found.group(1)
    if name.endswith("_fraction") or _SHARE_FIRST.match(description):
        return SHARE
    if name.endswith("_s"):
        return "s"
    if name.endswith("_frame"):
        return FRAME
    return ""


def columns(view: str) -> list[Column]:
    """The columns of `view`, in the order `SELECT *` gives them."""
    fields: dict[str, FieldInfo] = VIEWS[view].model.model_fields
    return [
        Column(name, _type_name(f.annotation), unit_of(name, f.description or ""), f.description or "")
        for name, f in fields.items()
    ]


def describe(view: str | None = None, width: int = 118) -> str:
    """The reference as text: every view (or one), a line per column, its meaning wrapped under it."""
    names = list(VIEWS) if view is None else [view]
    out: list[str] = []
    for name in names:
        out.append(f"{name}: {VIEWS[name].grain}")
        cols = columns(name)
        w = max(len(c.name) for c in cols)
        for c in cols:
            out.append(f"  {c.name:<{w}}  {c.type}" + (f", {c.unit}" if c.unit else ""))
            out += textwrap.wrap(c.meaning, width, initial_indent=" " * (w + 4), subsequent_indent=" " * (w + 4))
        out.append("")
    return "\n".join(out)


def reference_markdown() -> str:
    """`VIEWS.md`: a table per view."""
    out = [
        "# The catalog's views",
        "",
        'What `eidata query ROOT "SQL"` can read, generated from the row models by `python -m jobs.catalog.views`'
        " (do not edit by hand; `eidata query --describe [VIEW]` prints the same). A unit is the stored value's;"
        " `frames` and frame indices are at the canonical 10 Hz.",
        "",
    ]
    for name, v in VIEWS.items():
        out += [f"## `{name}`", "", f"{v.grain[0].upper()}{v.grain[1:]}.", ""]
        out += ["| column | type | unit | meaning |", "| --- | --- | --- | --- |"]
        for c in columns(name):
            meaning = c.meaning.replace("|", "\\|")
            out.append(f"| `{c.name}` | {c.type.replace('|', 'or')} | {c.unit} | {meaning} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # rewrite VIEWS.md
    REFERENCE_MD.write_text(reference_markdown(), encoding="utf-8")
    print(f"wrote {REFERENCE_MD}", file=sys.stderr)
