"""Which dataset an episode is written to (`ingest.lerobot.routing`): its subset's while nothing is known of it or the
signatures match, the size sibling `<subset>@<W>x<H>` when only camera sizes differ, else the signature sibling
`<subset>@<label>`, named in words for what differs (`label`), one dataset per signature (the
one of that signature on disk whatever its name, a hash only when a label is taken); each with its lineage key and
reason. The driver's routing and the commits: tests/jobs/ingest/test_commit.py.

A signature sibling's label (`label`): words a person reads for what a split part has that
its subset's first dataset has not, never a hash (issue 86: `robomimic@state.native164~c062ad07`,
`rosbag_interbotix@-state.native_action.native6~09441e94`). Names as real recordings give them: the Interbotix bags'
(rosbag_interbotix: `wx200.joint_states...`, `wx250.commands.joint_group.cmd[i]`) and an Isaac Lab / robomimic file's
(`obs.joint_pos.i`, `states.rigid_object.cube_1.root_pose.i`)."""

from __future__ import annotations

from pathlib import Path

from ingest.lerobot.routing import (
    Declared,
    Route,
    digest,
    feature_diff,
    label,
    route,
    signature_sibling,
    size_sibling,
)
from ingest.lerobot.writer import LeRobotWriter
from schemas.lerobot_features import FeatureSpec

STATE, ACTION = "observation.state.native", "action.native"
MASK = "observation.state.native_valid"


def _vec(n: int, stem: str) -> FeatureSpec:
    return FeatureSpec(dtype="float32", shape=(n,), names=[f"{stem}{i}" for i in range(n)])


def _video(h: int, w: int) -> FeatureSpec:
    return FeatureSpec(dtype="video", shape=(h, w, 3), names=["height", "width", "channels"])


def test_an_episode_stays_in_its_subset_while_nothing_else_is_known_or_the_signatures_match() -> None:
    feats = {"observation.state.native": _vec(6, "j"), "observation.images.head": _video(2, 2)}
    assert route("datasets/s/sub", feats) == Route("datasets/s/sub")  # the worker's first choice
    assert route("datasets/s/sub", feats, feats) == Route("datasets/s/sub")
    other_info = {**feats, "observation.images.head": _video(2, 2).model_copy(update={"info": {"fx": 1.0}})}
    assert route("datasets/s/sub", other_info, feats).split is None  # a camera's info is no part of the signature


def test_other_camera_sizes_go_to_the_size_sibling() -> None:
    assert size_sibling("d", {"a": _video(2, 2)}, {"a": _video(2, 4)}) == "d@4x2"
    assert size_sibling("d", {"a": _video(2, 2)}, {"a": _video(2, 2), "b": _video(2, 2)}) is None  # not a size
    to = route("d", {"a": _video(2, 4)}, {"a": _video(2, 2)})
    assert (to.dataset, to.split) == ("d@4x2", "camera_size_split")
    assert to.why == "cameras 4x2 where d has 2x2 (its first episode's): written to d@4x2, one dataset per camera size"


def test_signature_names_what_differs_in_words() -> None:
    a = {"observation.state.native": _vec(6, "j"), "action.native": _vec(5, "c")}
    b = {"observation.state.native": _vec(6, "k")}  # other names, no action natives
    name = signature_sibling("src/sub", a, b)
    assert name == "src/sub@state-k0-k1+no-action"  # was src/sub@-action.native_state.native6~<8 hex digits>
    assert signature_sibling("src/sub", {**a, "x": _vec(1, "x")}, b) == name + "+no-x"
    assert "lacks action.native" in feature_diff(a, b) and "names other columns" in feature_diff(a, b)
    assert size_sibling("d", a, b) is None
    to = route("src/sub", b, a)
    assert (to.dataset, to.split) == (name, "signature_split")
    diff = feature_diff(a, b)
    assert (
        to.why
        == f"features differ from src/sub's (its first episode's): {diff}; written to {name}, one dataset per signature"
    )


def test_a_validity_mask_follows_its_native_in_the_name() -> None:
    a = {"observation.state.native": _vec(6, "j"), "observation.state.native_valid": _vec(6, "j")}
    b = {"observation.state.native": _vec(7, "j"), "observation.state.native_valid": _vec(7, "j")}
    assert signature_sibling("d", a, b) == "d@state-j6"  # the mask not named


def test_two_signatures_of_one_label_get_two_datasets_the_second_hashed_and_said(tmp_path: Path) -> None:
    """Names in another order (one width, one set of names) read alike: the label is taken by the first signature
    routed to it, and the second's name carries its hash, its lineage saying why; each keeps its name after."""
    home, first = "datasets/s/sub", {"observation.state.native": _vec(3, "j")}
    b = {"observation.state.native": _vec(4, "j")}
    c = {
        "observation.state.native": b["observation.state.native"].model_copy(update={"names": ["j3", "j2", "j1", "j0"]})
    }
    declared = Declared(tmp_path)
    declared.route(home, first)
    assert declared.route(home, b) == route(home, b, first)  # the label, no hash
    to = declared.route(home, c)
    assert to.dataset == f"{home}@state-j3~{digest(c)}" != f"{home}@state-j3~{digest(b)}"
    assert to.why.endswith(f"({home}@state-j3 holds another signature: the hash of this one added)")
    assert [declared.route(home, f).dataset for f in (c, b)] == [to.dataset, f"{home}@state-j3"]


def test_a_run_after_a_kill_writes_to_the_siblings_on_disk_under_the_names_they_have(tmp_path: Path) -> None:
    """Resume: a sibling on disk is its signature's dataset whatever its name, a name of before issue 86
    (`<subset>@<diff>~<hash>`) too, so a resumed job adds no second dataset of one signature; a label taken on disk by
    another signature is hashed as in the run that wrote it."""
    first, b = {"observation.state.native": _vec(3, "j")}, {"observation.state.native": _vec(4, "j")}
    c = {
        "observation.state.native": b["observation.state.native"].model_copy(update={"names": ["j3", "j2", "j1", "j0"]})
    }
    root = tmp_path / "datasets/s"
    for folder, feats in (("sub", first), (f"sub@state.native4~{digest(b)}", b), ("sub@state-j3", c)):
        with LeRobotWriter.create(root / folder, fps=10, features=feats):
            pass
    declared = Declared(tmp_path)
    old = declared.route("datasets/s/sub", b)
    assert (old.dataset, old.split) == (f"datasets/s/sub@state.native4~{digest(b)}", "signature_split")
    assert f"written to {old.dataset}," in old.why
    assert declared.route("datasets/s/sub", c).dataset == "datasets/s/sub@state-j3"  # c holds the label on disk
    d = {
        "observation.state.native": b["observation.state.native"].model_copy(update={"names": ["j1", "j0", "j2", "j3"]})
    }
    assert declared.route("datasets/s/sub", d).dataset == f"datasets/s/sub@state-j3~{digest(d)}"


def test_a_subsets_features_are_declared_by_its_info_else_by_its_first_routed_episode(tmp_path: Path) -> None:
    """`Declared`, the driver's record: a dataset on disk is routed against its info.json (not the first episode this
    run sees); a new one against its first routed episode, and every later episode against that, not against itself."""
    a, b = {"observation.state.native": _vec(6, "j")}, {"observation.state.native": _vec(6, "k")}
    with LeRobotWriter.create(tmp_path / "datasets/s/old", fps=10, features=a):
        pass
    declared = Declared(tmp_path)
    assert declared.route("datasets/s/old", b).dataset == signature_sibling("datasets/s/old", a, b)
    assert declared.route("datasets/s/new", b) == Route("datasets/s/new")  # the first declares it
    assert declared.route("datasets/s/new", a).dataset == signature_sibling("datasets/s/new", b, a)
    assert declared.route("datasets/s/new", b) == Route("datasets/s/new")
    assert declared.features == {"datasets/s/old": a, "datasets/s/new": b}
    assert declared.route("datasets/s/old", b).dataset == "datasets/s/old@state-k0-k1"  # was ...@state.native6~<hash>


def _named(names: list[str]) -> FeatureSpec:
    return FeatureSpec(dtype="float32", shape=(len(names),), names=names)


def _robomimic(*cubes: str, joints: int = 9) -> list[str]:
    names = [f"obs.joint_pos.{i}" for i in range(joints)]
    return names + [f"states.rigid_object.{c}.root_pose.{i}" for c in cubes for i in range(7)]


def test_a_robots_own_namespace_names_the_part() -> None:
    wx200 = {STATE: _named([f"wx200.joint_states.position.{j}" for j in ("waist", "elbow")])}
    wx200[ACTION] = _named(["wx200.commands.joint_single.cmd"])
    wx250 = {ACTION: _named([f"wx250.commands.joint_group.cmd[{i}]" for i in range(6)])}
    assert label(wx200, wx250) == "wx250"  # was -state.native_action.native6~09441e94
    assert label(wx250, wx200) == "wx200"


def test_a_native_is_named_by_the_parts_of_its_names_the_first_dataset_lacks() -> None:
    three = {STATE: _named(_robomimic("cube_1", "cube_2", "cube_3"))}
    other = {STATE: _named(_robomimic("cube_1", "cube_2", "cube_4"))}  # one width (30), another object
    assert label(three, other) == "state-cube_4"  # was state.native30~<hash>
    assert label(three, {STATE: _named(_robomimic("cube_1", "cube_2"))}) == "state-23d"
    assert label(three, {STATE: _named(list(reversed(three[STATE].names)))}) == "state-reordered"
    renamed = {STATE: _named(_robomimic("cube_1", "cube_2", "cube_3")[:-7] + [f"obs.extra.{i}" for i in range(7)])}
    assert label(renamed, three) == "state-cube_3"
    assert label(three, {STATE: three[STATE], ACTION: _named(["actions.0", "actions.1"])}) == "action-actions"
    assert label({STATE: three[STATE], ACTION: _named(["actions.0"])}, three) == "no-action"


def test_cameras_and_masks() -> None:
    base = {STATE: _named(["j.0"]), MASK: _named(["j.0"]), "observation.images.head": _video(2, 2)}
    wrist = {**base, "observation.images.wrist": _video(4, 4)}
    assert label(base, wrist, [MASK]) == "cam-wrist"
    assert label(wrist, base, [MASK]) == "no-wrist"
    moved = {**wrist, STATE: _named(["k.0", "k.1"]), MASK: _named(["k.0", "k.1"])}
    assert label(base, moved, [MASK]) == "k+cam-wrist"  # the mask follows its native, unnamed
    assert "~" not in label(base, moved) and "/" not in label({}, {"a/b": _named(["x"])})
