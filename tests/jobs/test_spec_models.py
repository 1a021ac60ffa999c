"""The job spec's models built in code (no YAML file): relative paths resolve against the given folder, and every
refusal is a field-level error at the field's own path: source name, adapter, tier, adapter options, duplicate
names, an output inside a root or on a store without conditional writes, a root the Hub cannot answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from jobs.spec_models import JobSpec, ParallelismSpec, SourceSpec
from jobs.spec_robots import BASE_DIR
from jobs.spec_validators import flat_errors
from schemas.tiers import QualityTier


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "raw" / "bridge").mkdir(parents=True)
    return tmp_path


def _spec(base: Path, **top: Any) -> dict[str, Any]:
    source = {"name": "bridge", "adapter": "oxe", "root": "raw/bridge", **top.pop("source", {})}
    return {"output": "corpus", "sources": [source], **top}


def _errors(base: Path, data: dict[str, Any]) -> dict[tuple, str]:
    with pytest.raises(ValidationError) as info:
        JobSpec.model_validate(data, context={BASE_DIR: base})
    return {loc: msg for loc, _, msg in flat_errors(info.value)}


def test_relative_paths_resolve_against_the_given_folder(base: Path) -> None:
    spec = JobSpec.model_validate(_spec(base, source={"tier": "low"}), context={BASE_DIR: base})
    assert spec.output == base / "corpus" and spec.sources[0].root == base / "raw" / "bridge"
    assert spec.sources[0].tier is QualityTier.low and spec.parallelism == ParallelismSpec()
    absolute = JobSpec.model_validate(
        {**_spec(base), "output": str(base / "elsewhere" / ".." / "out")}, context={BASE_DIR: base}
    )
    assert absolute.output == base / "out"  # an absolute path is kept, normalized


@pytest.mark.parametrize(
    ("source", "loc", "needle"),
    [
        ({"name": "Bridge-V2"}, ("sources", 0, "name"), "must be lower-case letters, digits and _"),
        ({"adapter": "no_such_adapter"}, ("sources", 0, "adapter"), "no_such_adapter"),
        ({"tier": "rejected"}, ("sources", 0, "tier"), "tier must be one of high, low"),
        ({"root": "raw/missing"}, ("sources", 0, "root"), "root does not exist"),
        ({"options": {"verify_crc": "maybe"}}, ("sources", 0, "options", "verify_crc"), "boolean"),
    ],
)
def test_each_refusal_names_its_field(base: Path, source: dict[str, Any], loc: tuple, needle: str) -> None:
    errors = _errors(base, _spec(base, source=source))
    assert list(errors) == [loc] and needle in errors[loc]


def test_duplicates_and_other_source_errors_come_in_one_pass(base: Path) -> None:
    data = _spec(base)
    data["sources"] += [{"name": "bridge", "adapter": "oxe", "root": "raw/bridge", "tier": "rejected"}]
    errors = _errors(base, data)
    assert set(errors) == {("sources", 1, "name"), ("sources", 1, "tier")}
    assert "duplicate source name 'bridge' (also sources[0])" in errors[("sources", 1, "name")]


def test_outputs_that_would_break_the_job_are_refused(base: Path) -> None:
    inside = _errors(base, {**_spec(base), "output": "raw/bridge/corpus"})
    assert inside == {("output",): f"output lies inside sources[0].root ({base / 'raw' / 'bridge'})"}
    # issue 79: the other direction too, a root inside the output (a corpus re-ingesting its own episodes) or the
    # output holding the raw folders, refused naming both
    for output in ("raw", "."):
        around = _errors(base, {**_spec(base), "output": output})[("output",)]
        assert f"sources[0].root ({base / 'raw' / 'bridge'}) lies inside output ({(base / output).resolve()}" in around
    (base / "file").write_text("x")
    assert "output exists and is not a folder" in _errors(base, {**_spec(base), "output": "file"})[("output",)]
    gcs = _errors(base, {**_spec(base), "output": "gs://bucket/corpus"})[("output",)]
    # why (the commit protocol's conditional put) and what to do (a local or s3:// output, then a copy)
    assert "a bucket output must be s3://" in gcs and "conditional put (If-None-Match)" in gcs
    assert "write to a local folder or an s3:// bucket and copy" in gcs
    assert ("sources",) in _errors(base, {**_spec(base), "sources": []})


def test_parallelism_bounds_are_field_errors() -> None:
    with pytest.raises(ValidationError) as info:
        ParallelismSpec(max_in_flight=0, object_store_mb=10)
    assert {loc for loc, _, _ in flat_errors(info.value)} == {("max_in_flight",), ("object_store_mb",)}


def test_a_source_round_trips_through_its_dump(base: Path) -> None:
    """As `dump_spec` writes it and `load_spec` reads it back: JSON-mode values, validated as python objects."""
    src = SourceSpec.model_validate(_spec(base, source={"tier": "low"})["sources"][0], context={BASE_DIR: base})
    dumped = src.model_dump(mode="json")
    assert dumped["root"] == str(base / "raw" / "bridge") and dumped["tier"] == "low"
    assert SourceSpec.model_validate(dumped, context={BASE_DIR: Path("/elsewhere")}) == src


def test_a_file_url_root_is_the_folder(base: Path) -> None:
    # (an object-store root is checked against a real server: tests/s3/test_spec_roots.py)
    url = f"file://{base / 'raw' / 'bridge'}"
    spec = JobSpec.model_validate(_spec(base, source={"root": url}), context={BASE_DIR: base})
    assert spec.sources[0].root == base / "raw" / "bridge" and spec.sources[0].storage is None


def test_an_hf_root_without_the_hub_is_an_error_at_the_root(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no Hub can be served here; offline, the root's check names the root and why (adapters/storage/urls.preflight)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    errors = _errors(base, _spec(base, source={"root": "hf://datasets/lerobot/pusht"}))
    assert list(errors) == [("sources", 0, "root")]
    assert errors[("sources", 0, "root")].startswith("hf://datasets/lerobot/pusht: ")
    assert "offline mode is enabled" in errors[("sources", 0, "root")]
