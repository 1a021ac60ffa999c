"""OXE adapter options (`adapters/oxe/options.py`): the defaults read everything and check every CRC; a control rate
must be positive, duplicates take one of three modes, and an unknown option is refused.

A typo in an OXE source fails at the spec check with "did you mean" (issue 86, item 4): a builder folder one letter
off the subset table (it was read as an unknown subset: natives, tier low, 10 Hz) and a camera no builder declares.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.oxe.options import OXEOptions
from adapters.synthetic.rlds import write_rlds
from jobs.spec import SpecError, load_spec
from schemas.tiers import QualityTier


def test_defaults_read_every_split_and_check_every_crc() -> None:
    o = OXEOptions()
    assert (o.splits, o.version, o.verify_crc, o.duplicates, o.detect_blank_cameras) == (
        None,
        None,
        True,
        "report",
        True,
    )
    assert o.bgr_cameras is None  # the subset table's rule, not "none"


def test_overrides_are_validated() -> None:
    assert OXEOptions(control_hz=5, tier="low").tier is QualityTier.low
    with pytest.raises(ValidationError, match="control_hz"):
        OXEOptions(control_hz=0)
    with pytest.raises(ValidationError, match="duplicates"):
        OXEOptions(duplicates="drop")
    with pytest.raises(ValidationError):
        OXEOptions(no_such_option=1)


def _spec(tmp_path: Path, options: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"output: corpus\nsources:\n  - name: bridge\n    adapter: oxe\n    root: raw\n{options}", encoding="utf-8"
    )
    return path


def _issues(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [issue.format(path) for issue in info.value.errors]


def test_a_builder_one_letter_off_the_table_is_refused(tmp_path: Path) -> None:
    write_rlds(tmp_path / "raw", "bridge", dataset_name="bridge_datset", episodes=1)
    [said] = _issues(_spec(tmp_path))
    assert "sources[0].root: builder 'bridge_datset'" in said and "did you mean 'bridge_dataset'?" in said
    assert "set option control_hz" in said


@pytest.mark.parametrize("options", ["    options: {control_hz: 5}\n", "    options: {subset: bridge_datset}\n"])
def test_a_dataset_of_its_own_under_a_near_name_is_read_once_the_spec_says_so(tmp_path: Path, options: str) -> None:
    write_rlds(tmp_path / "raw", "bridge", dataset_name="bridge_datset", episodes=1)
    assert load_spec(_spec(tmp_path, options)).sources[0].root == tmp_path / "raw"


def test_a_name_near_no_subset_is_an_unknown_subset_as_before(tmp_path: Path) -> None:
    write_rlds(tmp_path / "raw", "bridge", dataset_name="mylab_kitchen", episodes=1)
    assert load_spec(_spec(tmp_path)).sources[0].adapter == "oxe"


def test_a_camera_no_builder_declares_is_refused(tmp_path: Path) -> None:
    write_rlds(tmp_path / "raw", "bridge", episodes=1)
    [said] = _issues(_spec(tmp_path, "    options: {cameras: [image_00]}\n"))
    assert "sources[0].options.cameras: camera 'image_00' is declared by no builder" in said
    assert "did you mean 'image_0'?" in said
    spec = load_spec(_spec(tmp_path, "    options: {cameras: [image_0]}\n"))
    assert spec.sources[0].options["cameras"] == ["image_0"]
