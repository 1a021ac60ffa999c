"""`jobs.ingest.readings`: each source's effective reading from a spec (every option's default filled in, the
settings that apply to it, the options that only change a run's cost left out), and the corpus's record of them: the
history kept in order, a spec kept once, a removal ending a source's record (issue 98 item 1)."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.lerobot.video import VideoCodec
from jobs.ingest.readings import READINGS, SPECS_DIR, changed, keep, reading_of, readings_of, recorded
from jobs.spec import load_spec
from jobs.spec_models import SourceSpec
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.revisions import NOTTS, spec_of


def test_a_reading_fills_every_default_and_only_this_sources_settings(tmp_path: Path) -> None:
    spec = load_spec(spec_of(tmp_path, {"columns": NOTTS, "robot": "ur5e"}))
    (reading,) = readings_of(spec).values()
    assert reading.options["robot"] == "ur5e" and reading.options["max_episodes"] is None  # a default, stated
    assert reading.settings["min_episode_s"] == 1.0 and "threads" not in reading.codec
    other = CanonicalizeSpec.model_validate({"image": {"sources": {"elsewhere": {"size": "224x224"}}}})
    assert reading_of(spec.sources[0], other, spec.codec).settings["image"]["sources"] == {}
    assert reading_of(spec.sources[0], other, spec.codec).fingerprint == reading.fingerprint


def test_an_option_that_changes_only_the_cost_is_no_part_of_the_reading() -> None:
    egodex = {"name": "ego", "adapter": "egodex", "root": "/raw", "robot": None, "tier": None, "storage": None}
    on = SourceSpec.model_construct(**egodex, options={"check_on_discover": True})
    off = SourceSpec.model_construct(**egodex, options={"check_on_discover": False})
    kept = SourceSpec.model_construct(**egodex, options={"keep_without_video": True})
    args = (CanonicalizeSpec(), VideoCodec())
    assert reading_of(on, *args) == reading_of(off, *args) and "check_on_discover" not in reading_of(on, *args).options
    assert reading_of(kept, *args).fingerprint != reading_of(on, *args).fingerprint


def test_the_history_keeps_each_reading_once_in_order(tmp_path: Path) -> None:
    output = tmp_path / "corpus"
    first = load_spec(spec_of(tmp_path, {"columns": NOTTS, "robot": "ur5e"}))
    assert keep(output, first, readings_of(first)) == ["ur5e_logs"]
    assert keep(output, first, readings_of(first)) == []  # unchanged: nothing added
    second = load_spec(spec_of(tmp_path, {"columns": NOTTS, "robot": "ur3e"}))
    held = {"ur5e_logs": (1, 0)}
    (change,) = changed(output, readings_of(second), held)
    assert change.changes == ["options.robot: 'ur5e' -> 'ur3e'"] and change.episodes == 1
    assert changed(output, readings_of(second), {}) == []  # nothing held under the old reading: nothing to re-read
    assert keep(output, second, readings_of(second)) == ["ur5e_logs"]
    lines = [json.loads(x) for x in (output / READINGS).read_text().splitlines()]
    assert [(x["run"], x["reading"]["options"]["robot"]) for x in lines] == [(1, "ur5e"), (2, "ur3e")]
    assert sorted(p.name for p in (output / SPECS_DIR).iterdir()) == ["0001.yaml", "0002.yaml"]
    with (output / READINGS).open("a") as f:  # `eidata remove`'s line ends the source's record
        f.write(json.dumps({"source": "ur5e_logs", "removed": True}) + "\n")
    assert recorded(output) == {}
