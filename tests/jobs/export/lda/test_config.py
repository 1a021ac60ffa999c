"""The text an LDA export prints (`jobs/export/lda/config.py`), executed as a user pastes it into LDA's three files
(stand-ins for LDA's base classes and registries: nothing of LDA's here; LDA's own run: test_lda_loader.py)."""

from __future__ import annotations

from typing import ClassVar

from jobs.export.lda import config


class _Base:
    action_indices: ClassVar[list[int]] = list(range(-5, 17))


def _pasted(text: str) -> dict:
    ns = {
        "BaseDataConfig": type("BaseDataConfig", (_Base,), {}),
        "HumanBaseDataConfig": type("HumanBaseDataConfig", (_Base,), {}),
        "FourierGr1ArmsWaist_twohistoryDataConfig": type("FourierGr1ArmsWaist_twohistoryDataConfig", (_Base,), {}),
        "ROBOT_TYPE_CONFIG_MAP": {},
        "ROBOT_TYPE_TO_EMBODIMENT_TAG": {},
        "DATASET_NAMED_MIXTURES": {},
        "EmbodimentTag": lambda v: f"tag:{v}",
    }
    exec(compile(text, "<entry>", "exec"), ns)
    return ns


def test_the_entry_registers_one_config_per_layout_and_every_dataset() -> None:
    datasets = [("oxe/bridge", "single_arm"), ("vitra/Ego4D", "human"), ("oxe/fractal", "single_arm")]
    ns = _pasted(config.entry(datasets, "/data/lda"))  # type: ignore[arg-type]
    assert set(ns["ROBOT_TYPE_CONFIG_MAP"]) == {"eidata_single_arm", "eidata_human"}
    assert ns["ROBOT_TYPE_TO_EMBODIMENT_TAG"] == {"eidata_single_arm": "tag:oxe", "eidata_human": "tag:egodex"}
    assert ns["DATASET_NAMED_MIXTURES"]["eidata"] == [
        ("oxe/bridge", 1.0, "eidata_single_arm"),
        ("vitra/Ego4D", 1.0, "eidata_human"),
        ("oxe/fractal", 1.0, "eidata_single_arm"),
    ]
    arm, human = ns["ROBOT_TYPE_CONFIG_MAP"]["eidata_single_arm"], ns["ROBOT_TYPE_CONFIG_MAP"]["eidata_human"]
    assert arm.video_backend == "decord" and arm.video_keys == ["video.main"]
    assert arm.action_keys[:3] == ["action.left_eef_position", "action.left_eef_rotation", "action.left_gripper"]
    assert len(arm.action_keys) == 6  # the right hand too: LDA's transform normalizes all six by name
    assert "state.left_mano_hand" in human.state_keys and not any("mano" in k for k in human.action_keys)
    assert arm.language_keys == ["annotation.language.action_text"]
    assert "data_root_dir=/data/lda data_mix=eidata" in config.entry(datasets, "/data/lda")  # type: ignore[arg-type]


def test_the_chunk_is_the_targets_after_the_observation_in_both_settings() -> None:
    """Rows hold the pose observed at their frame: pretraining (LDA differences) reads rows t-5 .. t+16, history
    the first 5; fine-tuning reads the rows after t, t+1 .. t+16, history t-4 .. t (one switch, the training's)."""
    text = config.entry([("oxe/bridge", "single_arm")], "/d")  # type: ignore[list-item]
    pretrain = _pasted(text)["ROBOT_TYPE_CONFIG_MAP"]["eidata_single_arm"]
    assert pretrain.action_indices == list(range(-5, 17)) and pretrain.history_action_indices == list(range(-5, 0))
    edited = text.replace(config.switch_line(True), config.switch_line(False))
    finetune = _pasted(edited)["ROBOT_TYPE_CONFIG_MAP"]["eidata_single_arm"]
    assert finetune.action_indices[len(finetune.history_action_indices) :] == list(range(1, 17))


def test_robots_without_a_description_get_a_joint_space_config_and_a_tag_per_width() -> None:
    """A native command goes to LDA as its joint-space configs take it: one `native` key, read as recorded; its row t
    is the command given at t, so the chunk is rows t .. t+15 in both settings (LDA keeps 4 history rows when it
    differences, 5 when not); two widths, two tags (one modality.json per tag)."""
    datasets = [("a/x", "native", (34, 34)), ("b/y", "native", (30, 30)), ("a/z", "native", (34, 34))]
    text = config.entry(datasets, "/d")  # type: ignore[arg-type]
    ns = _pasted(text)
    assert ns["ROBOT_TYPE_TO_EMBODIMENT_TAG"] == {
        "eidata_native_s34_a34": "tag:galbot",
        "eidata_native_s30_a30": "tag:franka_dual",
    }
    assert [r[2] for r in ns["DATASET_NAMED_MIXTURES"]["eidata"]] == [
        "eidata_native_s34_a34",
        "eidata_native_s30_a30",
        "eidata_native_s34_a34",
    ]
    pre = ns["ROBOT_TYPE_CONFIG_MAP"]["eidata_native_s34_a34"]
    assert pre.action_keys == ["action.native"] and pre.state_keys == ["state.native"]
    assert pre.action_indices[len(pre.history_action_indices) - 1 :] == list(range(16))  # LDA's history_len 4
    fine = _pasted(text.replace(config.switch_line(True), config.switch_line(False)))["ROBOT_TYPE_CONFIG_MAP"]
    fine = fine["eidata_native_s30_a30"]
    assert fine.action_indices[len(fine.history_action_indices) :] == list(range(16))


def test_a_manifests_balance_is_carried_into_the_mixture_weights() -> None:
    """Issue 86 item 6: every dataset of the mixture got weight 1.0, so `curate --balance source` was lost in LDA.
    Each dataset's weight is now its share of the manifest's draws (its robots summed), the largest 1.0 (LDA's
    primary dataset); a dataset no manifest weighs keeps 1.0."""
    shares = [("datasets/oxe/bridge", 0.25), ("datasets/oxe/bridge", 0.25), ("datasets/vitra/Ego4D", 0.125)]
    weights = config.manifest_weights([*shares, ("datasets/oxe/fractal", 0.375)])
    assert weights == {"oxe/bridge": 1.0, "vitra/Ego4D": 0.25, "oxe/fractal": 0.75}
    datasets = [("oxe/bridge", "single_arm"), ("vitra/Ego4D", "human"), ("oxe/fractal", "single_arm")]
    ns = _pasted(config.entry(datasets, "/data/lda", weights))  # type: ignore[arg-type]
    assert ns["DATASET_NAMED_MIXTURES"]["eidata"] == [
        ("oxe/bridge", 1.0, "eidata_single_arm"),
        ("vitra/Ego4D", 0.25, "eidata_human"),
        ("oxe/fractal", 0.75, "eidata_single_arm"),
    ]
    assert config.manifest_weights([]) == {}
