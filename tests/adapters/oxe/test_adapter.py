"""The `oxe` adapter on synthetic TFDS builder directories of every subset in the table, good and bad."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, EpisodeRef
from adapters.cameras import decode_image
from adapters.oxe.adapter import OXEAdapter
from adapters.oxe.subsets import SUBSETS
from adapters.oxe.tfrecord import build_example, frame_record, parse_example, read_record, scan_records
from adapters.registry import get_adapter
from adapters.storage.location import locate
from adapters.synthetic.rlds import WrittenBuilder, write_rlds
from schemas.canonical import Camera
from schemas.robots.registry import default_registry
from schemas.tiers import SOURCE_DEFAULT, QualityTier, tier_of
from tests.fixtures.rlds import add_mirror_split, break_framing


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _adapter(**options) -> OXEAdapter:
    a = get_adapter("oxe", options)
    assert isinstance(a, OXEAdapter)
    return a


def _native(ep, key: str) -> np.ndarray:
    """Reassemble a native tensor from its stream or its per-part streams (in order)."""
    streams = {**ep.states, **ep.actions}
    if key in streams:
        return streams[key].values
    layout = ep.metadata["layouts"][key]
    return np.concatenate([streams[p["stream"]].values for p in layout], axis=1)


def _check_episode(a: OXEAdapter, ref: EpisodeRef, wb: WrittenBuilder, frames_checked: int = 2) -> None:
    w = wb.episode(ref.raw_id)
    cfg = wb.subset
    ep = a.read(ref)
    t = np.arange(w.num_steps) / cfg.control_hz
    assert (
        ep.native_fps == cfg.control_hz
        and ep.embodiment == cfg.embodiment
        and tier_of(ep.tier, ep.verdicts) == cfg.tier
    )
    assert ep.robot_type == cfg.robot_type and ep.embodiment in default_registry()
    for key, arr in w.tensors.items():
        if key in ("reward", "discount"):
            sig = ep.outcomes[key]  # the RLDS step's reward and discount: outcomes, beside the state
            assert np.array_equal(sig.values, arr) and np.array_equal(sig.timestamps, t)
        elif key in ep.metadata["skipped"]:
            assert any(key == s.key for s in cfg.skipped)
        else:
            got = _native(ep, key)
            assert got.dtype == arr.dtype, key
            assert np.array_equal(got.reshape(arr.shape), arr), key
    for s in (*ep.states.values(), *ep.actions.values()):
        assert s.timestamps.dtype == np.float64 and np.allclose(s.timestamps, t)
    # units and frames from the table
    for spec in (*cfg.states, *cfg.actions):
        for part in spec.parts:
            stream = {**ep.states, **ep.actions}[f"{spec.key}:{part.name}"]
            assert (stream.unit, stream.frame, stream.names) == (part.unit, part.frame, part.names)
    # language
    texts = {(lang.text, lang.kind) for lang in ep.language}
    for spec in cfg.language:
        phrase = w.language[spec.key][0]
        assert ((phrase, spec.kind) in texts) == bool(phrase)
    assert all(lang.start_s is None and lang.end_s is None for lang in ep.language)  # constant over the episode
    # cameras: present, canonical from the table, frames match what was encoded
    for cam in cfg.cameras:
        name = cam.key.rsplit("/", 1)[-1]
        if cam.key in wb.blank_cameras:
            assert name not in ep.cameras and cam.key in ep.metadata["absent_cameras"]
            continue
        source = ep.cameras[name]
        assert source.canonical == cam.canonical and len(source) == w.num_steps
        assert np.allclose(source.timestamps, t)
        picks = sorted({0, w.num_steps - 1})[:frames_checked]
        for i, frame in source.frames(picks):
            assert frame.shape == w.images[cam.key][i].shape and frame.dtype == np.uint8
            assert _psnr(frame, w.images[cam.key][i]) > 30, (cam.key, i)
    for key, value in w.episode_metadata.items():
        assert ep.metadata["episode_metadata"][key] == value


@pytest.mark.parametrize("subset", sorted(n for n, s in SUBSETS.items() if s.has_wrist or s.fk_wrist))
def test_each_subset_round_trip(tmp_path: Path, subset: str) -> None:
    wb = write_rlds(tmp_path, subset, episodes={"train": 3, "test": 1}, seed=1)
    a = _adapter()
    refs = list(a.discover(tmp_path))
    again = [r.raw_id for r in _adapter().discover(tmp_path)]
    assert [r.raw_id for r in refs] == again  # stable ids
    assert [r.sort_key for r in refs] == sorted(r.sort_key for r in refs)  # sorted order
    assert [r.raw_id for r in refs] == [
        "test/00000/000000",
        "train/00000/000000",
        "train/00000/000001",
        "train/00000/000002",
    ]
    assert all(r.error is None and r.subset == wb.dataset and r.source == "oxe" for r in refs)
    assert len({r.locator["content_hash"] for r in refs}) == 4
    for ref in refs:
        _check_episode(a, ref, wb)


def _ur5_wrist(tmp_path: Path, size: tuple[int, int], **options) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """(frame the adapter yields, frame the writer encoded, the stored bytes decoded as RGB, episode notes)."""
    wb = write_rlds(tmp_path, "berkeley_autolab_ur5", episodes=1, steps=2, vary_steps=False, image_size=size)
    a = _adapter(**options)
    ref = next(a.discover(tmp_path))
    ep = a.read(ref)
    _, frame = next(ep.cameras["hand_image"].frames([0]))
    payload = read_record(locate(Path(ref.paths[0])), ref.locator["offset"], index=0)
    stored = decode_image(parse_example(payload)["steps/observation/hand_image"][0])
    return frame, wb.episode(ref.raw_id).images["observation/hand_image"][0], stored, ep.metadata["notes"]


def test_ur5_raw_copy_wrist_camera_is_bgr_and_flipped(tmp_path: Path) -> None:
    """The raw OXE copy (hand_image declared 480x640) stores BGR (lerobot#435): the adapter flips it back."""
    frame, truth, stored, notes = _ur5_wrist(tmp_path, (480, 640))
    assert _psnr(stored[..., ::-1], truth) > 30 and _psnr(stored, truth) < 20  # the fixture really stores BGR
    assert _psnr(frame, truth) > 30
    assert any("hand_image: BGR, channels flipped" in n and "[480, 640, 3]" in n for n in notes)


def test_ur5_reencoded_copy_wrist_camera_is_rgb_and_kept(tmp_path: Path) -> None:
    """rlds_dataset_mod's copy (same name and version, resized to 256x256, wrist channels already flipped) is RGB:
    flipping it again would swap red and blue."""
    frame, truth, stored, notes = _ur5_wrist(tmp_path, (256, 256))
    assert _psnr(stored, truth) > 30  # the fixture stores RGB
    assert _psnr(frame, truth) > 30 and _psnr(frame[..., ::-1], truth) < 20
    assert any("hand_image: RGB, not flipped" in n for n in notes)


def test_bgr_cameras_option_overrides_the_shape_rule(tmp_path: Path) -> None:
    frame, truth, _, notes = _ur5_wrist(tmp_path / "a", (256, 256), bgr_cameras=["hand_image"])
    assert _psnr(frame[..., ::-1], truth) > 30 and any("option bgr_cameras" in n for n in notes)
    frame, truth, _, _ = _ur5_wrist(tmp_path / "b", (480, 640), bgr_cameras=[])
    assert _psnr(frame[..., ::-1], truth) > 30  # told the raw copy is RGB: left as stored


def test_kuka_zlib_success_and_low_tier(tmp_path: Path) -> None:
    write_rlds(tmp_path, "kuka", episodes=3)
    a = _adapter()
    eps = [a.read(r) for r in a.discover(tmp_path)]
    assert [e.success for e in eps] == [True, True, False]  # writer: index % 3 != 2
    assert all(tier_of(e.tier, e.verdicts) is QualityTier.low and "QT-Opt" in e.verdicts[0].reason for e in eps)
    assert all(e.tier is QualityTier.high and e.verdicts[0].code == SOURCE_DEFAULT for e in eps)  # overrulable
    features = json.loads((tmp_path / "kuka/1.0.0/features.json").read_text())
    obs = features["featuresDict"]["features"]["steps"]["sequence"]["feature"]["featuresDict"]["features"]
    pose = obs["observation"]["featuresDict"]["features"]["clip_function_input/base_pose_tool_reached"]
    assert pose["tensor"]["encoding"] == "zlib"
    quat = eps[0].states["observation/clip_function_input/base_pose_tool_reached:eef_quat"].values
    assert np.allclose(np.linalg.norm(quat, axis=1), 1, atol=1e-5)


def test_droid_success_from_file_path_and_float64(tmp_path: Path) -> None:
    write_rlds(tmp_path, "droid", episodes=3)
    a = _adapter()
    eps = [a.read(r) for r in a.discover(tmp_path)]
    assert [e.success for e in eps] == [True, True, False]
    assert "/failure/" in eps[2].metadata["episode_metadata"]["episode_metadata/file_path"]
    assert eps[0].actions["action_dict/joint_velocity"].values.dtype == np.float64
    assert eps[0].native_fps == 15 and eps[0].embodiment == "franka"


def test_is_last_missing_is_accepted_and_recorded(tmp_path: Path) -> None:
    write_rlds(tmp_path / "a", "bridge", episodes=2, mark_last=False)
    write_rlds(tmp_path / "b", "bridge", episodes=2, mark_last=True)
    a = _adapter()
    missing = [a.read(r).metadata["rlds"] for r in a.discover(tmp_path / "a")]
    marked = [a.read(r).metadata["rlds"] for r in a.discover(tmp_path / "b")]
    assert all(m["is_last_missing"] and not m["is_terminal"] for m in missing)
    assert all(not m["is_last_missing"] and m["is_terminal"] for m in marked)
    assert [m["num_steps"] for m in missing] == [10, 11]


def test_blank_camera_is_absent(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "bridge", episodes=2, blank_cameras=("image_3",))
    a = _adapter()
    for ref in a.discover(tmp_path):
        ep = a.read(ref)
        assert sorted(ep.cameras) == ["image_0", "image_1", "image_2"]
        assert "constant" in ep.metadata["absent_cameras"]["observation/image_3"]
        assert ep.metadata["episode_metadata"]["episode_metadata/has_image_0"] is False  # wrong flag, camera there
        _check_episode(a, ref, wb, frames_checked=1)


def test_a_split_copying_a_whole_split_is_said_once(tmp_path: Path) -> None:
    """Issue 50 item 4: Octo's Bridge val (a copy of train) was 25 DiscoveryError quarantine rows."""
    wb = write_rlds(tmp_path, "bridge", episodes={"train": 3})
    copies = add_mirror_split(wb)
    adapter = _adapter()
    refs = list(adapter.discover(tmp_path))
    assert [r.raw_id for r in refs] == [f"train/00000/{i:06d}" for i in range(3)] and all(r.error is None for r in refs)
    [said] = adapter.findings()
    assert (said.code, said.severity, said.subset, sorted(said.episodes or ())) == (
        "duplicate_split",
        "warning",
        "bridge_dataset",
        sorted(copies),
    )
    assert said.message.startswith("split val is a copy of split train: each of its 3 episodes equals one there")
    assert "nothing is quarantined for it" in said.message


def test_duplicates_across_splits(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "bridge", episodes={"train": 3})
    copies = add_mirror_split(wb, count=2)  # part of train: each copy is reported, as before
    refs = list(_adapter().discover(tmp_path))
    assert len(refs) == 5
    kept = [r for r in refs if r.error is None]
    dups = [r for r in refs if r.error is not None]
    assert [r.locator["split"] for r in kept] == ["train"] * 3 and len(dups) == 2
    for r in dups:
        assert r.locator["duplicate_of"] == copies[r.raw_id] and "duplicate of episode" in r.error
        assert f"episode {r.raw_id}" in r.error and "adapter oxe" in r.error
        with pytest.raises(AdapterError) as e:
            _adapter().read(r)
        assert e.value.field == "content_hash" and e.value.episode == r.raw_id
    skipping = _adapter(duplicates="skip")
    assert [r.raw_id for r in skipping.discover(tmp_path)] == [r.raw_id for r in kept]
    assert sorted(d["raw_id"] for d in skipping.duplicates) == sorted(r.raw_id for r in dups)
    keeping = _adapter(duplicates="keep")
    both = list(keeping.discover(tmp_path))
    assert len(both) == 5 and all(r.error is None for r in both)
    assert np.array_equal(_native(keeping.read(both[3]), "action"), wb.episode(both[3].raw_id).tensors["action"])


def test_several_shards_and_options(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "fractal20220817_data", episodes={"train": 5, "val": 2}, shards=2)
    assert len(wb.shards["train"]) == 2
    refs = list(_adapter().discover(tmp_path))
    assert [r.raw_id for r in refs] == [
        "train/00000/000000",
        "train/00000/000001",
        "train/00001/000000",
        "train/00001/000001",
        "train/00001/000002",
        "val/00000/000000",
        "val/00001/000000",
    ]
    assert Path(refs[2].paths[0]).name == "fractal20220817_data-train.tfrecord-00001-of-00002"
    assert [r.raw_id for r in _adapter(splits=["val"]).discover(tmp_path)] == ["val/00000/000000", "val/00001/000000"]
    assert len(list(_adapter(max_episodes=3).discover(tmp_path))) == 3
    assert len(list(_adapter(subset="rt1").discover(tmp_path))) == 7  # alias
    ep = _adapter(cameras=["wrist"]).read(refs[4])
    assert ep.cameras == {}
    _check_episode(_adapter(), refs[4], wb)


def test_highest_version_unless_asked(tmp_path: Path) -> None:
    old = write_rlds(tmp_path, "bridge", episodes=1, version="1.0.0", seed=1)
    new = write_rlds(tmp_path, "bridge", episodes=2, version="1.0.1", seed=2)
    refs = list(_adapter().discover(tmp_path / "bridge_dataset"))
    assert len(refs) == 2 and all(r.locator["builder_dir"] == str(new.path) for r in refs)
    refs = list(_adapter(version="1.0.0").discover(tmp_path))
    assert len(refs) == 1 and refs[0].locator["builder_dir"] == str(old.path)
    _check_episode(_adapter(), refs[0], old, frames_checked=1)


def test_registered() -> None:
    from adapters.registry import adapter_names

    assert "oxe" in adapter_names() and type(get_adapter("oxe")) is OXEAdapter


def test_unknown_dataset_is_read_as_natives_by_default(tmp_path: Path) -> None:
    """A dataset in no table ingests without options (issue 76): natives, tier low, 10 Hz, one finding saying so;
    options still override (it was refused until control_hz and embodiment were set)."""
    write_rlds(tmp_path, "taco_play", dataset_name="my_franka_set", episodes=1)
    a = _adapter()
    ref = next(a.discover(tmp_path))
    [said] = [f for f in a.findings() if f.code == "unknown_subset"]
    assert said.subset == "my_franka_set" and "read as natives" in said.message and "10 Hz" in said.message
    ep = a.read(ref)
    assert (ep.native_fps, ep.embodiment, tier_of(ep.tier, ep.verdicts)) == (10.0, "unknown", QualityTier.low)
    assert [v.code for v in ep.verdicts] == [SOURCE_DEFAULT] and "not in the OXE subset table" in ep.verdicts[0].reason
    assert "not in the OXE subset table" in ep.metadata["natives_reason"]
    assert ep.hands is not None and not ep.hands.hands[1].has_wrist
    assert any("not in the OXE subset table" in n for n in ep.hands.notes)
    assert ep.states["observation/robot_obs"].values.shape[1] == 15 and ep.states["observation/robot_obs"].unit == ""
    # no subset table to name them: the shared vocabulary places them (adapters/camera_roles.yaml)
    roles = {name: c.canonical for name, c in ep.cameras.items()}
    assert roles == {"rgb_static": Camera.third_person, "rgb_gripper": Camera.wrist_right}
    b = _adapter(control_hz=20, embodiment="franka")
    ep = b.read(next(b.discover(tmp_path)))
    assert (ep.native_fps, ep.embodiment) == (20, "franka")


NATIVES = sorted(n for n, s in SUBSETS.items() if not s.has_wrist and not s.fk_wrist)


def test_every_natives_row_says_what_is_missing() -> None:
    """Each row of Octo's table without an end-effector pose or a described robot's joints names why (issue 76
    item 1)."""
    assert NATIVES
    for name in NATIVES:
        cfg = SUBSETS[name]
        assert cfg.natives_reason and cfg.embodiment in default_registry(), name
        assert cfg.octo is not None or cfg.tier == QualityTier.low, name  # in no Octo table: no expert guarantee


@pytest.mark.parametrize("subset", NATIVES[::7])
def test_natives_row_reads_its_rate_and_robot_and_no_wrist(tmp_path: Path, subset: str) -> None:
    """A natives row's builder (here taco_play's layout under its name) is read at the row's rate and embodiment,
    every stream native, no canonical wrist, the row's reason in the metadata and the hand notes."""
    write_rlds(tmp_path, "taco_play", dataset_name=subset, episodes=1)
    a = _adapter()
    ep = a.read(next(a.discover(tmp_path)))
    cfg = SUBSETS[subset]
    assert (ep.native_fps, ep.embodiment, ep.robot_type) == (cfg.control_hz, cfg.embodiment, cfg.robot_type)
    assert ep.metadata["natives_reason"] == cfg.natives_reason
    assert ep.hands is not None and not ep.hands.hands[1].has_wrist
    assert any(cfg.natives_reason in n for n in ep.hands.notes)
    assert not [f for f in a.findings() if f.code == "unknown_subset"]


@pytest.mark.parametrize(
    ("tfds_name", "row"),
    [("robo_set", "roboset"), ("aloha_mobile", "aloha_mobile_dataset"), ("fmb", "fmb_dataset")]
    + [(f"berkeley_gnm_{n}", "gnm_dataset") for n in ("recon", "cory_hall", "sac_son")],
)
def test_tfds_names_of_octo_rows_read_at_the_rows_rate(tmp_path: Path, tfds_name: str, row: str) -> None:
    """issue 87: a builder downloaded under its TFDS 4.9.9 name (rtx.py) is its Octo row, not `unknown_subset` at
    10 Hz and tier low (roboset's row says 5 Hz, aloha's 50 Hz)."""
    cfg = SUBSETS[row]
    layout = row if cfg.states else "taco_play"  # a row that states its layout (aloha's) gets a shard in it
    write_rlds(tmp_path, layout, dataset_name=tfds_name, episodes=1)
    a = _adapter()
    ep = a.read(next(a.discover(tmp_path)))
    assert (ep.native_fps, ep.robot_type, tier_of(ep.tier, ep.verdicts)) == (cfg.control_hz, cfg.robot_type, cfg.tier)
    assert ep.metadata["subset_config"] == row and ep.metadata.get("natives_reason") == (cfg.natives_reason or None)
    assert not [f for f in a.findings() if f.code == "unknown_subset"]


# --- bad input -------------------------------------------------------------------------------------------------


def _assert_named(err: AdapterError, shard: Path, raw_id: str, field: str) -> None:
    assert err.adapter == "oxe" and err.file == str(shard) and err.episode == raw_id and err.field == field
    assert f"adapter oxe, file {shard}, episode {raw_id}" in str(err)


def test_truncated_shard(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "bridge", episodes={"train": 4, "val": 2})
    unreachable = break_framing(wb, ("train", 2), "truncated")
    shard = wb.shards["train"][0]
    a = _adapter()
    refs = {r.raw_id: r for r in a.discover(tmp_path)}
    assert len(refs) == 6  # counted from shardLengths: the cut record and the lost one are reported too
    cut, lost = refs["train/00000/000002"], refs["train/00000/000003"]
    assert wb.damaged == {cut.raw_id: "truncated"} and unreachable == [lost.raw_id]
    assert "truncated TFRecord" in cut.error and f"episode {cut.raw_id}" in cut.error and str(shard) in cut.error
    assert "not reachable" in lost.error
    for ref in (cut, lost):
        with pytest.raises(AdapterError) as e:
            a.read(ref)
        _assert_named(e.value, shard, ref.raw_id, "tfrecord:truncated")
    for raw_id in ("train/00000/000000", "train/00000/000001", "val/00000/000000", "val/00000/000001"):
        assert refs[raw_id].error is None
        _check_episode(a, refs[raw_id], wb, frames_checked=1)


def test_crc_corrupt_record(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "taco_play", episodes=4, corrupt_crc=("train", 1))
    shard = wb.shards["train"][0]
    a = _adapter()
    refs = list(a.discover(tmp_path))
    assert [r.error is None for r in refs] == [True, False, True, True]
    bad = refs[1]
    assert "CRC mismatch" in bad.error and "byte offset" in bad.error
    with pytest.raises(AdapterError) as e:
        a.read(bad)
    _assert_named(e.value, shard, "train/00000/000001", "tfrecord:payload_crc")
    for ref in (refs[0], refs[2], refs[3]):
        _check_episode(a, ref, wb, frames_checked=1)
    # without CRC checks the damaged record is handed to the parser (and may or may not parse): no silent pass here
    assert len(list(_adapter(verify_crc=False, duplicates="keep").discover(tmp_path))) == 4


def test_corrupt_length_loses_rest_of_shard_only(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "droid", episodes={"train": 4}, shards=2)
    break_framing(wb, ("train", 0), "length_crc")
    a = _adapter()
    refs = list(a.discover(tmp_path))
    assert [r.raw_id for r in refs] == [
        "train/00000/000000",
        "train/00000/000001",
        "train/00001/000000",
        "train/00001/000001",
    ]
    assert [r.error is None for r in refs] == [False, False, True, True]
    assert "length field" in refs[0].error and "not reachable" in refs[1].error
    with pytest.raises(AdapterError) as e:
        a.read(refs[0])
    _assert_named(e.value, wb.shards["train"][0], "train/00000/000000", "tfrecord:length_crc")
    _check_episode(a, refs[2], wb, frames_checked=1)


def test_missing_shard_file(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "bridge", episodes={"train": 2, "val": 1})
    wb.shards["train"][0].unlink()
    refs = list(_adapter().discover(tmp_path))
    assert [r.error is not None for r in refs] == [True, True, False]
    assert "missing" in refs[0].error
    with pytest.raises(AdapterError) as e:
        _adapter().read(refs[0])
    _assert_named(e.value, wb.shards["train"][0], "train/00000/000000", "tfrecord:missing")
    _check_episode(_adapter(), refs[2], wb, frames_checked=1)


def test_damage_after_discovery_is_caught_on_read(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "bridge", episodes=2)
    a = _adapter()
    refs = list(a.discover(tmp_path))
    shard = wb.shards["train"][0]
    data = bytearray(shard.read_bytes())
    data[refs[1].locator["offset"] + 40] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(AdapterError) as e:
        a.read(refs[1])
    _assert_named(e.value, shard, refs[1].raw_id, "tfrecord:payload_crc")
    _check_episode(a, refs[0], wb, frames_checked=1)


def _rewrite(shard: Path, index: int, edit) -> None:
    """Re-frame a shard with record `index`'s Example features edited (valid CRCs: a well-framed bad episode)."""
    records = [parse_example(r.payload) for r in scan_records(locate(shard))]
    records[index] = edit(records[index])
    shard.write_bytes(b"".join(frame_record(build_example(r)) for r in records))


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (
            lambda ex: {**ex, "steps/observation/state": ex["steps/observation/state"][:-3]},
            "steps/observation/state",
            "expected",
        ),
        (lambda ex: {**ex, "steps/is_first": np.roll(ex["steps/is_first"], 2)}, "steps/is_first", "step 0"),
        (lambda ex: {**ex, "steps/is_first": np.ones_like(ex["steps/is_first"])}, "steps/is_first", "several episodes"),
        (lambda ex: {**ex, "steps/is_last": np.roll(ex["steps/is_last"], 1)}, "steps/is_last", "final step"),
        (lambda ex: {k: v for k, v in ex.items() if k != "steps/action"}, "steps/action", "missing from the record"),
        (
            lambda ex: {**ex, "steps/observation/image_1": [b"not a jpeg"] * len(ex["steps/observation/image_1"])},
            "steps/observation/image_1",
            "undecodable",
        ),
        (
            lambda ex: {**ex, "steps/observation/image_2": [b"", *ex["steps/observation/image_2"][1:]]},
            "steps/observation/image_2",
            "partly missing",
        ),
    ],
)
def test_bad_episode_content(tmp_path: Path, edit, field: str, message: str) -> None:
    wb = write_rlds(tmp_path, "bridge", episodes=3, vary_steps=False)
    shard = wb.shards["train"][0]
    _rewrite(shard, 1, edit)
    a = _adapter()
    refs = list(a.discover(tmp_path))
    assert len(refs) == 3 and all(r.error is None for r in refs)
    with pytest.raises(AdapterError, match=message) as e:
        a.read(refs[1])
    _assert_named(e.value, shard, "train/00000/000001", field)
    for ref in (refs[0], refs[2]):
        _check_episode(a, ref, wb, frames_checked=1)


def test_not_an_example(tmp_path: Path) -> None:
    wb = write_rlds(tmp_path, "bridge", episodes=2)
    shard = wb.shards["train"][0]
    good = [r.payload for r in scan_records(locate(shard))]
    shard.write_bytes(frame_record(b"\xff\xff\xff\xff garbage") + frame_record(good[1]))
    refs = list(_adapter().discover(tmp_path))
    assert "not a tf.train.Example" in refs[0].error and refs[1].error is None
    ep = _adapter().read(refs[1])
    assert np.array_equal(_native(ep, "action"), wb.episodes[1].tensors["action"])
