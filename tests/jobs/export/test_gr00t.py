"""`eidata export --format gr00t`: modality.json round-trips against our features and data, a robot without a
description gives its recorded command (`native`), a dataset that cannot be described is refused (exit 1), `--out`
writes a copy (links, modality, GR00T's stats) and leaves the corpus as it was; the real GR00T sample's own
modality.json parses losslessly and validates against its info.json; broken slices are caught."""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_info, load_modality
from jobs.cli import main
from jobs.export.gr00t import (
    CAPTION_ANNOTATION,
    NATIVE_KEY,
    TASK_ANNOTATION,
    build_modality,
    export_gr00t,
    is_canonical,
)
from schemas.canonical import ACTION, ACTION_NATIVE, STATE, STATE_NATIVE, hand_block
from schemas.lerobot import MODALITY_PATH
from schemas.lerobot_features import FeatureSpec
from schemas.modality import ModalityJson, check_modality
from tests.fixtures.corpus import NATIVE_COMMAND, NATIVE_JOINTS, episode, native_episode, write_dataset
from tests.realdata import realdata

GR00T = "gr00t_robot_sim_picknplace"
FRANKA = ["right_eef_position", "right_eef_rotation", "right_gripper"]
HUMAN = [f"{h}_{p}" for h in ("left", "right") for p in ("eef_position", "eef_rotation", "fingertips")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_dataset(
        root / "datasets/oxe/bridge",
        "franka",
        [
            episode(6, "pick the cube", "oxe/bridge/e0", "franka"),
            episode(5, "open the drawer", "oxe/bridge/e1", "franka", caption={"text": "a gripper opens a drawer"}),
        ],
    )
    right_only = [0] * 25 + default_human_mask()[25:]
    write_dataset(
        root / "datasets/egodex/basic",
        "human",
        [
            episode(7, "fold", "egodex/basic/a", "human", hands=True),
            episode(5, "fold", "egodex/basic/b", "human", hands=True, mask=right_only),
        ],
    )
    right = [episode(5, "wave", "egodex/right/a", "human", mask=right_only)]
    write_dataset(root / "datasets/egodex/right", "human", right)
    nothing = [0] * 50
    clip = episode(5, "cooking", "ego4d/clips/v0", "human_video", mask=nothing, tier="actionless")
    write_dataset(root / "datasets/ego4d/clips", "human_video", [clip], mask=nothing)
    natives = [native_episode(6, "lab/cr5/a", 0), native_episode(4, "lab/cr5/b", 1)]
    names = {"native_state_names": NATIVE_JOINTS, "native_action_names": NATIVE_COMMAND}
    write_dataset(root / "datasets/lab/cr5", "unknown", natives, mask=nothing, **names)
    shutil.copytree(realdata(GR00T), root / "datasets/gr00t/picknplace")  # foreign layout: refused, left alone
    return root


def default_human_mask() -> list[int]:
    from schemas.robots.registry import default_registry

    return default_registry().get("human").mask().astype(int).tolist()


@pytest.fixture(scope="module")
def exported(corpus: Path) -> dict[str, object]:
    return {r.dataset: r for r in export_gr00t(corpus, progress=False)}


def _state_table(root: Path) -> tuple[np.ndarray, np.ndarray]:
    t = pq.read_table(root / "data/chunk-000/episode_000000.parquet", columns=[STATE, ACTION])
    return np.asarray(t[STATE].to_pylist(), np.float32), np.asarray(t[ACTION].to_pylist(), np.float32)


@pytest.mark.parametrize(
    ("dataset", "keys"),
    [("oxe/bridge", FRANKA), ("egodex/basic", HUMAN), ("egodex/right", HUMAN[3:]), ("ego4d/clips", [])],
)
def test_modality_round_trips_against_features_and_data(
    corpus: Path, exported: dict, dataset: str, keys: list[str]
) -> None:
    root = corpus / "datasets" / dataset
    result = exported[f"datasets/{dataset}"]
    assert result.status == "written" and result.state == keys == result.action
    info = load_info(root / "meta/info.json")
    m = load_modality(root / MODALITY_PATH)
    assert check_modality(m, info) == []
    assert list(m.state) == keys and list(m.action) == keys
    assert m.video["head"].original_key == "observation.images.head" and m.video_column("head") in info.features
    assert m.annotation_column(TASK_ANNOTATION) == "task_index"
    # the declared slices, concatenated, are exactly the dims the episodes fill, in canonical order
    state, action = _state_table(root)
    lineages = [json.loads(line)["eidata"]["mask"] for line in (root / "meta/episodes.jsonl").read_text().splitlines()]
    used = np.flatnonzero(np.any(np.asarray(lineages, bool), axis=0))
    dims = [i for s in m.state.values() for i in range(s.start, s.end)]
    assert dims == used.tolist()
    np.testing.assert_array_equal(
        np.concatenate([state[:, s.start : s.end] for s in m.state.values()] or [state[:, :0]], axis=1), state[:, used]
    )
    for key, s in m.state.items():
        hand, part = key.split("_", 1)
        names = info.features[STATE].flat_names()[s.start : s.end]
        assert all(n.startswith(f"{hand}.") for n in names), (key, names)
        assert s.rotation_type == ("rotation_6d" if part == "eef_rotation" else None)
        assert m.action[key].absolute is (part in ("gripper", "fingertips"))
        assert (s.start, s.end) == (m.action[key].start, m.action[key].end)
        block = hand_block(0 if hand == "left" else 1)
        assert block.start <= s.start < s.end <= block.stop
    del action


def test_caption_in_lineage_only_is_reported_not_declared(exported: dict) -> None:
    bridge = exported["datasets/oxe/bridge"]
    assert bridge.annotation == [TASK_ANNOTATION]
    assert any("1 captioned episode(s)" in n for n in bridge.notes)
    assert "no command" in " ".join(exported["datasets/ego4d/clips"].notes)


def test_caption_column_is_declared_when_the_dataset_has_one(corpus: Path) -> None:
    info = load_info(corpus / "datasets/oxe/bridge/meta/info.json")
    info.features[f"annotation.{CAPTION_ANNOTATION}"] = FeatureSpec(dtype="int64", shape=(1,))
    m, expected = build_modality(info, np.ones(50, bool))
    assert m.annotation_column(CAPTION_ANNOTATION) == "annotation.eidata.caption"
    assert check_modality(m, info, expected) == []
    info.features[f"annotation.{CAPTION_ANNOTATION}"] = FeatureSpec(dtype="float32", shape=(1,))
    assert [q.code for q in check_modality(m, info)] == ["modality_annotation_not_index"]


def test_a_robot_without_a_description_gives_its_recorded_command(corpus: Path, exported: dict) -> None:
    root = corpus / "datasets/lab/cr5"
    result = exported["datasets/lab/cr5"]
    assert result.status == "written" and result.kind == "native"
    assert result.state == result.action == [NATIVE_KEY]
    info = load_info(root / "meta/info.json")
    m = load_modality(root / MODALITY_PATH)
    assert check_modality(m, info) == []
    assert m.column("state", NATIVE_KEY) == STATE_NATIVE and m.column("action", NATIVE_KEY) == ACTION_NATIVE
    assert m.action[NATIVE_KEY].absolute is True and m.state[NATIVE_KEY].absolute is None  # GR00T's default: true
    names = {g: info.features[m.column(g, NATIVE_KEY)].flat_names() for g in ("state", "action")}
    assert names == {"state": NATIVE_JOINTS, "action": NATIVE_COMMAND}
    # the slices read back the recorded command and joints, every value, of every episode
    for k, n in enumerate((6, 4)):
        t = pq.read_table(root / f"data/chunk-000/episode_{k:06d}.parquet")
        expected = native_episode(n, "lab/cr5/x", k)
        for group, key in (("state", "native"), ("action", "native_action")):
            s = getattr(m, group)[NATIVE_KEY]
            got = np.asarray(t[m.column(group, NATIVE_KEY)].to_pylist())[:, s.start : s.end]
            np.testing.assert_allclose(got, np.asarray(expected[key], np.float32))
    assert any("action.native (7 dims)" in n for n in result.notes)


def test_a_native_command_without_names_is_refused(corpus: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(corpus / "datasets/lab", broken / "datasets/lab")
    shutil.copytree(corpus / "datasets/oxe", broken / "datasets/oxe")
    info_path = broken / "datasets/lab/cr5/meta/info.json"
    raw = json.loads(info_path.read_text())
    raw["features"][ACTION_NATIVE]["names"] = None
    info_path.write_text(json.dumps(raw))
    out = tmp_path / "out"
    assert main(["export", str(broken), "--format", "gr00t", "--out", str(out)]) == 1
    said = capsys.readouterr().out
    assert "refused   datasets/lab/cr5" in said and "'action.native'" in said and "not a named vector" in said
    assert not (out / "lab").exists() and (out / "oxe/bridge" / MODALITY_PATH).is_file()  # the others written


def test_foreign_dataset_is_refused_and_untouched(corpus: Path, exported: dict) -> None:
    result = exported["datasets/gr00t/picknplace"]
    assert result.status == "refused" and "not a canonical" in result.notes[0]
    assert "datasets/gr00t/picknplace" in result.notes[0]
    ours = corpus / "datasets/gr00t/picknplace" / MODALITY_PATH
    assert ours.read_bytes() == (realdata(GR00T) / MODALITY_PATH).read_bytes()
    assert not is_canonical(load_info(ours.parent / "info.json"))


def test_rerun_is_unchanged_and_repairs_a_tampered_file(corpus: Path, exported: dict) -> None:
    path = corpus / "datasets/oxe/bridge" / MODALITY_PATH
    before = path.read_bytes()
    again = {r.dataset: r.status for r in export_gr00t(corpus, progress=False)}
    assert again["datasets/oxe/bridge"] == "unchanged" and again["datasets/gr00t/picknplace"] == "refused"
    path.write_text("{}")
    assert {r.dataset: r.status for r in export_gr00t(corpus, dry_run=True, progress=False)}[
        "datasets/oxe/bridge"
    ] == "to write"  # said as planned, not done
    assert path.read_text() == "{}"  # dry run writes nothing
    export_gr00t(corpus, progress=False)
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file left behind


def test_cli_exit_codes(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(corpus), "--format", "gr00t"]) == 1  # the foreign dataset is refused
    assert "gr00t: 0 written, 5 unchanged, 1 refused, 0 error" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "nope"), "--format", "gr00t"]) == 2
    assert main(["export", str(corpus), "--format", "nope"]) == 2
    broken = tmp_path / "broken"
    shutil.copytree(corpus / "datasets/oxe", broken / "datasets/oxe")
    shutil.copytree(corpus / "datasets/ego4d", broken / "datasets/ego4d")
    (broken / "datasets/oxe/bridge/meta/info.json").write_text("{not json")
    from jobs.export import cli_export

    assert cli_export(argparse.Namespace(root=str(broken), format="gr00t", out=None, dry_run=False)) == 1
    out = capsys.readouterr().out
    assert "error     datasets/oxe/bridge" in out and "info.json" in out and "unchanged datasets/ego4d/clips" in out


# -- the real GR00T sample ---------------------------------------------------------------------------------------


def test_real_sample_modality_parses_losslessly_and_validates() -> None:
    root = realdata(GR00T)
    raw = json.loads((root / MODALITY_PATH).read_text())
    m = load_modality(root / MODALITY_PATH)
    assert m.to_json() == raw and json.loads(m.dumps()) == raw
    info = load_info(root / "meta/info.json")
    assert check_modality(m, info) == []
    spans = sorted((s.start, s.end) for s in m.state.values())
    assert spans[0][0] == 0 and spans[-1][1] == 44 and all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert m.video_column("ego_view") == "observation.images.ego_view"
    assert m.annotation_column("human.validity") == "annotation.human.validity"
    assert m.annotation_column("human.coarse_action") == "annotation.human.action.task_description"


def test_check_modality_catches_what_a_loader_trips_on() -> None:
    root = realdata(GR00T)
    info = load_info(root / "meta/info.json")
    raw = json.loads((root / MODALITY_PATH).read_text())
    raw["state"]["waist"]["end"] = 45  # past the 44-dim vector
    raw["state"]["neck"]["rotation_type"] = "rotation_6d"  # 3 values
    raw["action"]["left_arm"]["original_key"] = "action.missing"
    raw["action"]["right_arm"]["start"] = 20  # overlaps neck [19, 22)
    raw["action"]["left_leg"]["dtype"] = "float32"  # stored as float64
    raw["video"]["ghost"] = {"original_key": "observation.images.nowhere"}
    raw["annotation"]["reward"] = {"original_key": "next.reward"}  # a float, not a task index
    problems = {(q.code, q.severity) for q in check_modality(ModalityJson.parse(raw), info)}
    assert problems == {
        ("modality_slice_out_of_range", "error"),
        ("modality_rotation_type", "error"),
        ("modality_unknown_column", "error"),
        ("modality_slices_overlap", "warning"),
        ("modality_dtype_mismatch", "warning"),
        ("modality_video_not_video", "error"),
        ("modality_annotation_not_index", "error"),
    }
    m = load_modality(root / MODALITY_PATH)
    wrong = {("state", "neck"): ["motor_0", "motor_1", "motor_2"]}
    assert [q.code for q in check_modality(m, info, wrong)] == ["modality_names_mismatch"]
    with pytest.raises(ValueError, match=r"state\.neck\.start"):
        ModalityJson.parse({"state": {"neck": {"end": 3}}})


def test_a_position_only_wrist_is_given_its_position_and_no_rotation(corpus: Path) -> None:
    """A human hand with a wrist position and nothing else in the mask (Aria MPS's first wrist-and-palm file): GR00T
    is given `right_eef_position` alone, never a rotation or fingertips slice over dims the dataset does not fill."""
    info = load_info(corpus / "datasets/egodex/basic/meta/info.json")
    used = np.zeros(50, bool)
    used[hand_block(1)][:3] = True
    m, expected = build_modality(info, used)
    assert list(m.state) == list(m.action) == ["right_eef_position"]
    assert check_modality(m, info, expected) == []


def test_copies_of_a_dataset_are_described_from_one_info_and_lineage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corpus of copies (30,000 datasets of a few, the 1M benchmark's) validates each distinct info.json once
    (`load_info(shared=True)`) and each distinct catalog text's lineage once, not each dataset's info and each
    episode's lineage (issue 99); what it says of each copy is what it says of the first."""
    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog
    from jobs.export import gr00t
    from jobs.export.gr00t import export_gr00t, planned_lines
    from schemas.corpus import EpisodeLineage
    from schemas.lerobot import InfoJson

    root = tmp_path / "corpus"
    for k in range(3):  # alike but for their episodes' uids and subset, as `benchmarks._replicate` copies them
        write_dataset(
            root / f"datasets/oxe/a{k}", "franka", [episode(4, "pick", f"oxe/a{k}/e{i}", "franka") for i in range(4)]
        )
    rebuild_catalog(Corpus(root))
    counted: dict[str, int] = {"info": 0, "lineage": 0}
    for model, name in ((InfoJson, "info"), (EpisodeLineage, "lineage")):
        real = model.model_validate.__func__  # type: ignore[attr-defined]

        def count(cls: type, obj: object, *a: object, _real: object = real, _name: str = name, **k: object) -> object:
            counted[_name] += 1
            return _real(cls, obj, *a, **k)  # type: ignore[operator]

        monkeypatch.setattr(model, "model_validate", classmethod(count))
    canonical = gr00t.is_canonical  # its names flattened: a quarter of a description's CPU before
    monkeypatch.setattr(
        gr00t, "is_canonical", lambda info: counted.update(canonical=counted.get("canonical", 0) + 1) or canonical(info)
    )
    with Corpus.read(root, None, meta=True) as opened:
        found = export_gr00t(opened.root, dry_run=True, progress=False, lines=planned_lines(opened))
    assert [r.status for r in found] == ["to write"] * 3
    assert len({r.model_dump_json(exclude={"dataset"}) for r in found}) == 1  # the copies described alike
    assert counted == {"info": 1, "lineage": 3, "canonical": 1}  # one info, asked once; a lineage per copy's text
