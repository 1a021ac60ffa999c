"""GR00T's `meta/modality.json` (schemas/modality.py) on the real robot_sim.PickNPlace sample (NVIDIA/Isaac-GR00T
demo_data, a real sample): read and written back it is the maker's file, the checks find nothing wrong with it, and
each kind of broken slice is reported by its key and cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.lerobot_format.files import load_info, load_modality
from schemas.lerobot import InfoJson
from schemas.modality import ModalityJson, check_modality
from tests.realdata import realdata

SAMPLE = "gr00t_robot_sim_picknplace/meta"


@pytest.fixture(scope="module")
def real() -> tuple[str, ModalityJson, InfoJson]:
    path = realdata(SAMPLE) / "modality.json"
    return path.read_text(encoding="utf-8"), load_modality(path), load_info(realdata(SAMPLE) / "info.json")


def test_the_real_file_reads_and_writes_back_as_the_maker_wrote_it(real: tuple[str, ModalityJson, InfoJson]) -> None:
    text, modality, _ = real
    assert modality.dumps() == text + "\n"  # GR00T's json.dump(indent=4) has no final newline; ours adds one
    assert list(modality.state) == list(json.loads(text)["state"])  # key order kept: GR00T concatenates in it
    assert modality.column("state", "left_arm") == "observation.state"
    assert modality.video_column("ego_view") == "observation.images.ego_view"
    assert modality.annotation_column("human.validity") == "annotation.human.validity"


def test_the_real_file_passes_every_check(real: tuple[str, ModalityJson, InfoJson]) -> None:
    _, modality, info = real
    assert check_modality(modality, info) == []
    # the slices tile the state vector: GR00T's 44 state values, each in exactly one slice
    covered = sorted(i for s in modality.state.values() for i in range(s.start, s.end))
    assert covered == list(range(info.features["observation.state"].shape[0]))


def _broken(modality: ModalityJson, group: str, key: str, **change: object) -> ModalityJson:
    raw = modality.to_json()
    raw[group][key] = {**raw[group][key], **change}
    return ModalityJson.parse(raw)


@pytest.mark.parametrize(
    ("group", "key", "change", "code", "says"),
    [
        ("state", "left_arm", {"end": 99}, "modality_slice_out_of_range", "state.left_arm: [0, 99)"),
        ("state", "left_arm", {"end": 9}, "modality_slices_overlap", "state.left_arm and state.left_hand overlap"),
        ("action", "left_arm", {"rotation_type": "quaternion"}, "modality_rotation_type", "needs 4 values"),
        ("state", "neck", {"original_key": "observation.nothing"}, "modality_unknown_column", "'observation.nothing'"),
        ("video", "ego_view", {"original_key": "observation.state"}, "modality_video_not_video", "not a video"),
        (
            "annotation",
            "human.validity",
            {"original_key": "timestamp"},
            "modality_annotation_not_index",
            "is float64[1]",
        ),
    ],
)
def test_each_broken_slice_is_named_with_its_cause(
    real: tuple[str, ModalityJson, InfoJson], group: str, key: str, change: dict, code: str, says: str
) -> None:
    _, modality, info = real
    quirks = check_modality(_broken(modality, group, key, **change), info)
    assert [q.code for q in quirks] == [code], quirks
    assert says in quirks[0].message and quirks[0].path == "meta/modality.json"


def test_expected_names_are_checked_against_the_feature_names(real: tuple[str, ModalityJson, InfoJson]) -> None:
    _, modality, info = real
    names = info.features["observation.state"].flat_names()
    assert check_modality(modality, info, {("state", "neck"): names[19:22]}) == []
    quirks = check_modality(modality, info, {("state", "neck"): ["a", "b", "c"]})
    assert [q.code for q in quirks] == ["modality_names_mismatch"] and "state.neck" in quirks[0].message


def test_unknown_keys_survive_and_bad_files_name_the_cause(tmp_path: Path) -> None:
    raw = {"state": {"x": {"start": 0, "end": 2, "custom": 1}}, "video": {}, "extra_top": [1]}
    modality = ModalityJson.parse(raw)
    assert json.loads(modality.dumps()) == {**raw, "action": {}, "annotation": {}}
    with pytest.raises(ValueError, match=r"not a GR00T modality.json \(state.x.start: "):
        ModalityJson.parse({"state": {"x": {"start": "zero", "end": 2}}})
    bad = tmp_path / "modality.json"
    bad.write_text('{\n  "state": ,\n}')
    with pytest.raises(ValueError, match=r"modality.json: not valid JSON \(.*line 2\)"):
        load_modality(bad)
