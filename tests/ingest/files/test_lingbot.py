"""LingBot-VA latent files on disk: a record LingBot-VA can load with `weights_only=True`, and whether an existing file
is the one a plan asks for."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ingest.files.lingbot import read_record, record_matches, write_record
from schemas.lingbot import LATENT_KEYS
from tests.fixtures.lingbot import latent_plan, latent_tensors


def test_record_round_trips_through_torch_load_weights_only(tmp_path: Path) -> None:
    plan = latent_plan()
    rec = plan.record(*latent_tensors(plan))
    write_record(tmp_path / "a.pth", rec)
    raw = torch.load(tmp_path / "a.pth", weights_only=True)
    assert list(raw) == list(LATENT_KEYS)
    assert type(raw["frame_ids"]) is list and type(raw["fps"]) is int and type(raw["text"]) is str
    assert torch.equal(raw["latent"], rec.latent) and raw["latent"].dtype == torch.bfloat16
    assert read_record(tmp_path / "a.pth").frame_ids == plan.frame_ids
    assert record_matches(tmp_path / "a.pth", plan)
    assert not record_matches(tmp_path / "a.pth", latent_plan(text="place the cube"))
    assert not record_matches(tmp_path / "missing.pth", plan)
    (tmp_path / "bad.pth").write_bytes(b"not a zip")
    assert not record_matches(tmp_path / "bad.pth", plan)


def test_an_invalid_record_on_disk_is_refused_naming_the_file(tmp_path: Path) -> None:
    plan = latent_plan()
    raw = plan.record(*latent_tensors(plan)).to_dict()
    torch.save({**raw, "frame_ids": [10, 12, 14, 15, 17]}, tmp_path / "odd.pth")  # not evenly spaced
    with pytest.raises(ValueError, match=r"odd\.pth"):
        read_record(tmp_path / "odd.pth")
    assert not record_matches(tmp_path / "odd.pth", plan)
