"""How each source of a corpus was read, kept in the corpus with its history (issue 98; `schemas.reading`).

- `job/readings.jsonl`: one line each time a source's reading is first applied (a first run, a re-read), in order:
  `{"run": n, "source": ..., "fingerprint": ..., "reading": {...}}`. The last line of a source is the reading its
  episodes and quarantine rows were written under; each of them also carries the fingerprint (`reading` in its
  lineage and its quarantine row, a catalog column), so the corpus alone tells how every episode was read.
- `job/specs/NNNN.yaml`: every spec the corpus was built with, in order, each kept once (an unchanged rerun adds none);
  `job/spec.yaml` stays the last run's.

`changed` compares each source of a spec with the reading its episodes were written under, before any work, and says
what changed setting by setting and how many episodes and quarantine rows it concerns (`jobs.ingest.job` stops there
unless the user asked to re-read: `jobs.ingest.reread`). A corpus written before readings were recorded has none: its
sources' current readings are recorded as they stand, and said.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from adapters.registry import adapter_class
from ingest.episode import PIPELINE_VERSION
from ingest.lerobot.video import VideoCodec
from jobs.ingest.report import quarantined_held
from jobs.spec import dump_spec
from jobs.spec_models import JobSpec, SourceSpec
from jobs.spec_robots import RobotSpec
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import DATASETS_DIR, JOB_DIR
from schemas.lerobot import EPISODES_PATH
from schemas.reading import ReadingChange, SourceReading, changes

log = logging.getLogger(__name__)

READINGS = f"{JOB_DIR}/readings.jsonl"
SPECS_DIR = f"{JOB_DIR}/specs"


def reading_of(source: SourceSpec, canonicalize: CanonicalizeSpec, codec: VideoCodec) -> SourceReading:
    """`source`'s effective reading under a job's `canonicalize` and `codec` settings (the worker computes the same
    from its task's settings: the fingerprint written in each lineage is the one recorded here)."""
    model = adapter_class(source.adapter).options_model
    options = model.model_validate(source.options).model_dump(mode="json", exclude=set(model.unread))
    settings = canonicalize.model_dump(mode="json")
    own = settings["image"]["sources"].get(source.name)  # the per-source sizes: this source's entry only
    settings["image"]["sources"] = {source.name: own} if own is not None else {}
    robot = source.robot.model_dump(mode="json") if isinstance(source.robot, RobotSpec) else source.robot
    return SourceReading(
        source=source.name,
        adapter=source.adapter,
        options=options,
        robot=robot,
        tier=source.tier.value if source.tier is not None else None,
        settings=settings,
        codec=codec.model_dump(mode="json", exclude={"threads"}),  # threads: the same bytes, faster
        code=PIPELINE_VERSION,
    )


def readings_of(spec: JobSpec) -> dict[str, SourceReading]:
    return {s.name: reading_of(s, spec.canonicalize, spec.codec) for s in spec.sources}


def recorded(output: Path) -> dict[str, SourceReading]:
    """Each source's last recorded reading (`job/readings.jsonl`); none for a corpus older than the record."""
    path = output / READINGS
    out: dict[str, SourceReading] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                if entry.get("removed"):  # `eidata remove`: the source's record ends there
                    out.pop(entry["source"], None)
                    continue
                out[entry["source"]] = SourceReading.model_validate({**entry["reading"], "source": entry["source"]})
    return out


def keep(output: Path, spec: JobSpec, readings: dict[str, SourceReading]) -> list[str]:
    """`spec` kept as `job/spec.yaml` and in `job/specs/` when it is not the last kept there, and the readings of
    `readings` that differ from the last recorded of their source appended to the history; returns the sources
    whose reading was recorded."""
    (output / JOB_DIR).mkdir(parents=True, exist_ok=True)
    (output / JOB_DIR / "spec.yaml").write_text(dump_spec(spec))
    before = recorded(output)
    new = [r for name, r in readings.items() if name not in before or before[name] != r]
    path = output / READINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = sorted((output / SPECS_DIR).glob("*.yaml"))
    text = dump_spec(spec)
    if not runs or runs[-1].read_text(encoding="utf-8") != text:
        runs.append(output / SPECS_DIR / f"{len(runs) + 1:04d}.yaml")
        runs[-1].parent.mkdir(parents=True, exist_ok=True)
        runs[-1].write_text(text, encoding="utf-8")
    if new:
        lines = [
            json.dumps({"run": len(runs), "source": r.source, "fingerprint": r.fingerprint, "reading": r.recipe()})
            for r in new
        ]
        with path.open("a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
    return [r.source for r in new]


def held_counts(output: Path, sources: list[str]) -> dict[str, tuple[int, int]]:
    """Each source's episodes (the lines of its datasets' `episodes.jsonl`) and quarantine rows in the corpus."""
    rows = quarantined_held(output, sources)
    out = {}
    for name in sources:
        lines = sum(
            p.read_bytes().count(b"\n") for p in sorted((output / DATASETS_DIR / name).glob(f"**/{EPISODES_PATH}"))
        )
        out[name] = (lines, rows.get(name, 0))
    return out


def changed(output: Path, readings: dict[str, SourceReading], held: dict[str, tuple[int, int]]) -> list[ReadingChange]:
    """Each source of `readings` whose recorded reading differs, with what changed and how many of its episodes
    and quarantine rows (`held`: source -> (episodes, rows)) that concerns; a source with nothing held is not
    changed (nothing was read under the old reading), nor one never recorded."""
    before = recorded(output)
    out = []
    for name, now in readings.items():
        old = before.get(name)
        episodes, rows = held.get(name, (0, 0))
        if old is None or old == now or not (episodes or rows):
            continue
        out.append(
            ReadingChange(
                source=name,
                before=old.fingerprint,
                after=now.fingerprint,
                changes=changes(old, now),
                episodes=episodes,
                quarantined=rows,
            )
        )
    return out
