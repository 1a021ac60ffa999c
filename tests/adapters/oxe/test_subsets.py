"""Facts of the OXE subset table that the makers' code settles: signs, units, reference rotations, BGR copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from adapters.oxe.subsets import (
    NORMALIZED,
    SUBSETS,
    SUBSETS_YAML,
    OXESubset,
    Part,
    StreamSpec,
    find_subset,
    load_subsets,
)
from schemas.tiers import QualityTier

BRIDGE, DROID, TACO_PLAY = SUBSETS["bridge"], SUBSETS["droid"], SUBSETS["taco_play"]
BERKELEY_AUTOLAB_UR5 = SUBSETS["berkeley_autolab_ur5"]


def _parts(spec: StreamSpec) -> list[tuple[str, Part | StreamSpec]]:
    return [(f"{spec.key}:{p.name}", p) for p in spec.parts] or [(spec.key, spec)]


def _all(cfg: OXESubset) -> dict[str, Part | StreamSpec]:
    return {k: v for s in (*cfg.states, *cfg.actions) for k, v in _parts(s)}


def test_taco_gripper_sign_is_plus_one_open() -> None:
    """CALVIN / TACO-RL dataset README: gripper_action 'binary (close = -1, open = 1)'."""
    docs = {k: v.doc for k, v in _all(TACO_PLAY).items() if "gripper" in k and v.unit == "-1..1"}
    assert len(docs) == 4  # robot_obs[14] and the gripper of the three action vectors
    assert all("+1 = open" in d and "-1 = open" not in d for d in docs.values()), docs
    assert "+1 open" in TACO_PLAY.action_semantics


def test_taco_relative_actions_are_normalized_and_absolute_ones_physical() -> None:
    streams = _all(TACO_PLAY)
    for key in ("action/rel_actions_world", "action/rel_actions_gripper"):
        for part in ("delta_xyz", "delta_euler"):
            assert streams[f"{key}:{part}"].unit == NORMALIZED, (key, part)
        assert "0.02 m" in streams[f"{key}:delta_xyz"].doc and "0.05 rad" in streams[f"{key}:delta_euler"].doc
    assert (streams["action/actions:abs_xyz"].unit, streams["action/actions:abs_euler"].unit) == ("m", "rad")
    assert streams["observation/robot_obs:gripper_width"].unit == "m"


def test_droid_velocities_are_normalized_commands() -> None:
    """droid robot_ik_solver.py: *_velocity_to_delta clip to unit size and scale by a per-step maximum."""
    velocities = {k: v for k, v in _all(DROID).items() if "velocity" in k}
    assert set(velocities) == {
        "action_dict/cartesian_velocity:linear",
        "action_dict/cartesian_velocity:angular",
        "action_dict/gripper_velocity",
        "action_dict/joint_velocity",
    }
    assert all(v.unit == NORMALIZED for v in velocities.values()), {k: v.unit for k, v in velocities.items()}
    assert not any(v.unit.endswith("/s") for cfg in SUBSETS.values() for v in _all(cfg).values())


def test_bridge_reference_rotation_is_the_top_down_default() -> None:
    """bridge_data_robot DEFAULT_ROTATION: the end-effector x axis (approach) points down at rpy = 0."""
    d = np.asarray(BRIDGE.eef_reference_rotation)
    np.testing.assert_allclose(d @ [1.0, 0.0, 0.0], [0.0, 0.0, -1.0])  # approach down
    np.testing.assert_allclose(d @ [0.0, 1.0, 0.0], [0.0, 1.0, 0.0])  # fingers' axis level
    assert all(s.eef_reference_rotation is None for s in SUBSETS.values() if s is not BRIDGE)
    with pytest.raises(ValidationError, match="not a rotation"):
        OXESubset.model_validate({**BRIDGE.model_dump(), "eef_reference_rotation": ((2, 0, 0), (0, 2, 0), (0, 0, 2))})


def test_ur5_wrist_is_bgr_only_in_the_raw_480x640_copy() -> None:
    cam = BERKELEY_AUTOLAB_UR5.camera("observation/hand_image")
    assert cam is not None and cam.stores_bgr((480, 640, 3))
    assert not cam.stores_bgr((256, 256, 3)) and not cam.stores_bgr((None, None, 3))
    assert not any(c.stores_bgr(c.shape) for s in SUBSETS.values() for c in s.cameras if c is not cam)


def test_table_error_names_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "subsets.yaml"
    bad.write_text(SUBSETS_YAML.read_text(encoding="utf-8").replace("control_hz: 5\n", "control_hz: 0\n", 1))
    with pytest.raises(ValueError, match=r"(?s)subsets\.yaml: .*\nsubsets\.0\.control_hz\n.*greater than 0"):
        load_subsets(bad)
    assert load_subsets() == SUBSETS


def test_every_declared_delta_is_an_action_stream_of_its_subset_and_cites_code() -> None:
    """issue 55 item 4: a subset's `action_encoding.relative` names action streams it emits ('<key>:<part>' for a
    configured part, '<key>' otherwise), and its `why` cites the maker's code at a commit."""
    for cfg in SUBSETS.values():
        enc = cfg.action_encoding
        if enc is None:
            continue
        emitted = {k for s in cfg.actions for k, _ in _parts(s)}
        assert set(enc.relative) <= emitted, (cfg.name, set(enc.relative) - emitted)
        assert not any("gripper" in r for r in enc.relative), cfg.name  # grippers stay absolute
        assert "@" in enc.why and ".py:" in enc.why, cfg.name
    with pytest.raises(ValidationError, match="are not actions"):
        BRIDGE.model_validate(
            {**BRIDGE.model_dump(), "action_encoding": {"name": "x", "relative": ["state"], "why": ""}}
        )


def test_a_joint_fk_row_is_checked_against_its_description() -> None:
    """`joint_fk` names a column of the row as wide as its embodiment's arm (the description's joints), a gripper
    column of one value or why none is read, and joint names no other state column shares."""
    toto = SUBSETS["toto"].model_dump()
    fk = toto["joint_fk"]
    for bad, match in (
        ({**fk, "gripper": None}, "say why none is read"),
        ({**fk, "gripper_unread": "also a reason"}, "not both"),
        ({**fk, "joints": "observation/nothing"}, "holds None values"),
        ({**fk, "gripper": "action/world_vector"}, "no one-value column"),
        ({**fk, "joint_zero": {"joint_3": 1.57}}, r"joint_zero names \['joint_3'\], no arm joint of franka"),
    ):
        with pytest.raises(ValidationError, match=match):
            OXESubset.model_validate({**toto, "joint_fk": bad})
    with pytest.raises(ValidationError, match=r"embodiment .google_robot. has no arms in joint_space\.yaml"):
        OXESubset.model_validate({**toto, "embodiment": "google_robot"})
    twin = {**toto["states"][0], "key": "observation/joint_velocity"}  # the same joint names on a second column
    with pytest.raises(ValidationError, match="name other state columns too"):
        OXESubset.model_validate({**toto, "states": [*toto["states"], twin]})
    assert SUBSETS["toto"].fk_wrist and not SUBSETS["viola"].fk_wrist and SUBSETS["viola"].joint_fk is not None


# The 63 builders of tensorflow-datasets 4.9.9 `tensorflow_datasets/robotics/rtx/rtx.py`, each named as TFDS names a
# builder class (`core/naming.py` camelcase_to_snakecase of the class name: `Fractal20220817Data` ->
# `fractal20220817_data`, `RoboSet` -> `robo_set`, `SpocRobot` -> `spoc_robot`).
_RTX_NAMES = """
aloha_mobile asu_table_top_converted_externally_to_rlds austin_buds_dataset_converted_externally_to_rlds
austin_sailor_dataset_converted_externally_to_rlds austin_sirius_dataset_converted_externally_to_rlds bc_z
berkeley_autolab_ur5 berkeley_cable_routing berkeley_fanuc_manipulation berkeley_gnm_cory_hall berkeley_gnm_recon
berkeley_gnm_sac_son berkeley_mvp_converted_externally_to_rlds berkeley_rpt_converted_externally_to_rlds bridge
bridge_data_msr cmu_franka_exploration_dataset_converted_externally_to_rlds cmu_play_fusion cmu_stretch
columbia_cairlab_pusht_real conq_hose_manipulation dlr_edan_shared_control_converted_externally_to_rlds
dlr_sara_grid_clamp_converted_externally_to_rlds dlr_sara_pour_converted_externally_to_rlds dobbe
eth_agent_affordances fmb fractal20220817_data iamlab_cmu_pickup_insert_converted_externally_to_rlds
imperialcollege_sawyer_wrist_cam io_ai_tech jaco_play kaist_nonprehensile_converted_externally_to_rlds kuka
maniskill_dataset_converted_externally_to_rlds mimic_play nyu_door_opening_surprising_effectiveness
nyu_franka_play_dataset_converted_externally_to_rlds nyu_rot_dataset_converted_externally_to_rlds plex_robosuite
robo_set roboturk spoc_robot stanford_hydra_dataset_converted_externally_to_rlds
stanford_kuka_multimodal_dataset_converted_externally_to_rlds stanford_mask_vit_converted_externally_to_rlds
stanford_robocook_converted_externally_to_rlds taco_play tidybot tokyo_u_lsmo_converted_externally_to_rlds toto
ucsd_kitchen_dataset_converted_externally_to_rlds ucsd_pick_and_place_dataset_converted_externally_to_rlds
uiuc_d3field usc_cloth_sim_converted_externally_to_rlds utaustin_mutex
utokyo_pr2_opening_fridge_converted_externally_to_rlds
utokyo_pr2_tabletop_manipulation_converted_externally_to_rlds utokyo_saytap_converted_externally_to_rlds
utokyo_xarm_bimanual_converted_externally_to_rlds utokyo_xarm_pick_and_place_converted_externally_to_rlds
vima_converted_externally_to_rlds viola
"""
TFDS_RTX_4_9_9 = tuple(_RTX_NAMES.split())
# Octo's rows under the names TFDS ships them (issue 87): the row each must resolve to
TFDS_NAMES_OF_OCTO_ROWS = {
    "robo_set": "roboset",
    "aloha_mobile": "aloha_mobile_dataset",
    "fmb": "fmb_dataset",
    "berkeley_gnm_recon": "gnm_dataset",
    "berkeley_gnm_cory_hall": "gnm_dataset",
    "berkeley_gnm_sac_son": "gnm_dataset",
}


def test_every_tfds_rtx_builder_has_a_row() -> None:
    """issue 87 item 1: no builder TFDS ships under Open X-Embodiment reads as `unknown_subset`; a row without a
    wrist says why (natives_reason), and a row in no Octo table is not tier high on its word alone."""
    assert len(set(TFDS_RTX_4_9_9)) == 63
    missing = [n for n in TFDS_RTX_4_9_9 if find_subset(n) is None]
    assert not missing, missing
    for name in TFDS_RTX_4_9_9:
        cfg = find_subset(name)
        assert cfg is not None and (cfg.has_wrist or cfg.joint_fk is not None or cfg.natives_reason), name
        assert cfg.octo is not None or cfg.tier == QualityTier.low, name
    assert {n: find_subset(n).name for n in TFDS_NAMES_OF_OCTO_ROWS} == TFDS_NAMES_OF_OCTO_ROWS  # type: ignore[union-attr]


def test_droid_and_openvla_names_resolve() -> None:
    """DROID's sample and old names and OpenVLA's OXE names (openvla/openvla@52a2a0a prismatic/vla/datasets/rlds/oxe/
    configs.py: `bridge_oxe`, `bridge_orig`, `bridge_dataset`) read as their rows."""
    got = {n: getattr(find_subset(n), "name", None) for n in ("droid_100", "r2d2", "bridge_orig", "bridge_oxe")}
    assert got == {"droid_100": "droid", "r2d2": "droid", "bridge_orig": "bridge", "bridge_oxe": "bridge"}
    aliases = [a for s in SUBSETS.values() for a in s.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & set(SUBSETS)  # one row per name


def test_taco_action_angles_are_about_x_y_z() -> None:
    """mees/robot_io preprocess_data.py: `actions` and the relative actions are scipy as_euler('xyz') angles, not the
    TFDS description's yaw, pitch, roll."""
    angles = {k: v for k, v in _all(TACO_PLAY).items() if k.startswith("action/") and "euler" in k}
    assert len(angles) == 3 and all(v.names == ("ex", "ey", "ez") for v in angles.values()), angles
    assert not any("yaw" in (v.names or ()) for cfg in (TACO_PLAY,) for v in _all(cfg).values())


def test_every_departure_from_octo_is_in_its_row() -> None:
    """issue 87 item 3: each row that reads otherwise than Octo says so in `octo.departs`, with the maker's word."""
    departs = {n: set(s.octo.departs) for n, s in SUBSETS.items() if s.octo is not None and s.octo.departs}
    assert departs["taco_play"] == {"gripper"}
    assert departs["austin_sailor_dataset_converted_externally_to_rlds"] == {"position", "rotation", "gripper"}
    assert departs["austin_sirius_dataset_converted_externally_to_rlds"] == {"position", "rotation", "gripper"}
    assert departs["bc_z"] == {"proprio_reading"}
    assert departs["roboset"] == {"proprio_reading"}  # octo passes franka_sim's joints 6 and 7 on as recorded
    assert "joint_zero" in SUBSETS["roboset"].octo.departs["proprio_reading"]  # type: ignore[union-attr]
    for absolute in ("iamlab_cmu_pickup_insert", "ucsd_kitchen_dataset"):
        name = f"{absolute}_converted_externally_to_rlds"
        assert "action_reading" in departs[name] and SUBSETS[name].action_encoding is None, name
        assert "delta" in SUBSETS[name].octo.departs["action_reading"]  # type: ignore[union-attr]
    lsmo = SUBSETS["tokyo_u_lsmo_converted_externally_to_rlds"]  # deltas, as Octo reads: the makers' raw actions
    assert "action_reading" not in departs[lsmo.name] and lsmo.action_encoding is not None  # (test_maker_builders)
    assert "robot_obs[7:8]" in SUBSETS["taco_play"].octo.departs["gripper"]  # type: ignore[union-attr]


def test_austin_sailor_wrist_is_its_4x4_pose() -> None:
    """The self-checking 4x4 `state_ee` is the wrist (adapters.oxe.hands matrix_pose); the position + quaternion of
    unstated order octo reads stay natives."""
    sailor = SUBSETS["austin_sailor_dataset_converted_externally_to_rlds"]
    wrist = [(s.key, p.name) for s in sailor.states for p in s.parts if p.name in ("eef_xyz", "eef_matrix", "eef_quat")]
    assert wrist == [("observation/state_ee", "eef_matrix")]


def test_roboset_reads_its_recorders_joints_and_keeps_its_published_structure() -> None:
    """TFDS's robo_set catalog page publishes the feature structure (state and action (8,), four cameras, file_path
    and trial_id) but no column's meaning; the makers' recorder (RoboHive's rpFrankaRobotiqData-v0, the OXE builder's
    concat(qp_arm, qp_ee)) settles the state: the Franka's joints in franka_sim's zero (joint_zero on joints 6 and 7),
    then the Robotiq's driver joint, not read; the action stays native, its scaling unverified."""
    roboset = SUBSETS["roboset"]
    assert [(s.key, s.shape) for s in (*roboset.states, *roboset.actions)] == [
        ("observation/state", (8,)),
        ("action", (8,)),
    ]
    assert {m.key for m in roboset.episode_metadata} == {"episode_metadata/file_path", "episode_metadata/trial_id"}
    fk = roboset.joint_fk
    assert fk is not None and fk.joints == ("observation/state:joints",) and not fk.gripper and not roboset.has_wrist
    assert fk.joint_zero == {"panda_joint6": np.pi / 2, "panda_joint7": np.pi / 4}
    assert "robohive@6c14798" in fk.source and "Robotiq" in fk.gripper_unread and not roboset.natives_reason
    parts = [(p.name, p.start, p.stop) for p in roboset.states[0].parts]
    assert parts == [("joints", 0, 7), ("gripper", 7, 8)] and roboset.action_encoding is None
