"""The TF tree (`adapters.rosbag.tf`): the chain between two frames through the tree, walked backwards where it goes
child -> parent, and composed into the pose a hand computes from the transforms (REP 105: translation in metres,
quaternions x, y, z, w), each moving edge held at its last transform (never interpolated, never taken from the
future), a static edge constant; and the synthetic bag's /tf_static, latched once at the bag's start, holding in an
episode cut later."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.registry import get_adapter
from adapters.rosbag.tf import TfTree, matrices

S = np.sqrt(0.5)
RZ90 = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # 90 degrees about z: x -> y
RX180 = np.diag([1.0, -1, -1])


def _tree() -> TfTree:
    """world -> base (static, 1 m along x) -> link (moving, 0.5 m up, turned 90 degrees about z at t=10 and back
    to straight at t=30: sent out of order) -> ee (moving from t=20, 0.2 m along link's x); world -> camera (static,
    2 m up, looking down: 180 degrees about x); map -> odom unconnected."""
    tree = TfTree()
    tree.add("world", "base", 0, np.array([1.0, 0, 0, 0, 0, 0, 1]), static=True)
    tree.add("base", "link", 30, np.array([0, 0, 0.5, 0, 0, 0, 1]), static=False)
    tree.add("base", "link", 10, np.array([0, 0, 0.5, 0, 0, S, S]), static=False)
    tree.add("link", "ee", 20, np.array([0.2, 0, 0, 0, 0, 0, 1]), static=False)
    tree.add("/world", "/camera", 0, np.array([0, 0, 2.0, 1, 0, 0, 0]), static=True)
    tree.add("map", "odom", 5, np.array([0, 0, 0, 0, 0, 0, 1.0]), static=False)
    return tree


def test_matrices_read_quaternions_as_xyzw_and_translations_in_the_parent() -> None:
    (m,) = matrices(np.array([[0.1, 0.2, 0.3, 0, 0, S, S]]))
    np.testing.assert_allclose(m[:3, :3], RZ90, atol=1e-15)
    np.testing.assert_allclose(m @ [1, 0, 0, 1], [0.1, 1.2, 0.3, 1])  # the child's x axis, in the parent


def test_the_chain_follows_the_tree_and_walks_an_edge_backwards_from_child_to_parent() -> None:
    tree = _tree()
    assert ("world", "camera") in tree.static  # a frame's leading slash (ROS 1 tf_prefix) is not its name
    assert tree.chain("world", "ee") == [(("world", "base"), True), (("base", "link"), True), (("link", "ee"), True)]
    assert tree.chain("camera", "link") == [
        (("world", "camera"), False),
        (("world", "base"), True),
        (("base", "link"), True),
    ]
    assert tree.chain("world", "odom") is None and tree.chain("world", "nowhere") is None
    assert tree.chain("ee", "ee") == []


def test_a_composed_chain_gives_the_pose_worked_out_by_hand() -> None:
    tree = _tree()
    times, poses = tree.compose(tree.chain("world", "ee"))
    # the pose exists from t=20, when every edge of the chain has sent one (link -> ee is first sent at 20)
    assert times.tolist() == [20, 30]
    # t=20: link turned 90 degrees (held from t=10, not halfway to t=30's), ee 0.2 m along link's x = world's y
    np.testing.assert_allclose(poses[0][:3, 3], [1.0, 0.2, 0.5], atol=1e-15)
    np.testing.assert_allclose(poses[0][:3, :3], RZ90, atol=1e-15)
    # t=30: link straight again
    np.testing.assert_allclose(poses[1][:3, 3], [1.2, 0.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(poses[1][:3, :3], np.eye(3), atol=1e-15)
    # the same ee seen from the camera 2 m above the world origin, looking down: x stays, y and z flip, z is depth
    times, seen = tree.compose(tree.chain("camera", "ee"))
    assert times.tolist() == [20, 30]
    np.testing.assert_allclose(seen[1][:3, 3], [1.2, 0.0, 1.5], atol=1e-15)
    np.testing.assert_allclose(seen[1][:3, :3], RX180, atol=1e-15)
    back = tree.compose(tree.chain("ee", "camera"))[1]  # the reverse chain is the inverse pose
    np.testing.assert_allclose(back @ seen, np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-15)


def test_static_edges_alone_give_one_constant_pose_and_a_static_edge_holds_at_every_time() -> None:
    tree = _tree()
    times, poses = tree.compose(tree.chain("base", "camera"))  # base -> world -> camera: no moving edge
    assert len(times) == len(poses) == 1
    np.testing.assert_allclose(poses[0][:3, 3], [-1.0, 0.0, 2.0])
    times, poses = tree.compose(tree.chain("world", "link"))
    assert times.tolist() == [10, 30] and np.all(poses[:, 0, 3] == 1.0)  # world -> base at t=10 and t=30 alike


def test_a_static_transform_read_once_holds_in_an_episode_cut_after_it(synthetic_bag) -> None:
    # /tf_static is one message at the bag's start; the second 1 s window starts after it and still has the edge
    options = {"embodiment": "franka", "eef": {"frame": "ee_link", "base": "world"}}
    adapter = get_adapter("rosbag", {**options, "episodes": {"by": "window", "window_s": 1.0}})
    ref = list(adapter.discover(synthetic_bag.path))[1]
    assert ref.locator["span"][0] > synthetic_bag.ee[0][0]
    ep = adapter.read(ref)
    assert ep.metadata["tf_static"] == {"world->base_link": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]}
    assert ep.metadata["topics"]["/tf_static"]["messages"] == 1
    written = {log: xyz for log, xyz, _ in synthetic_bag.ee}
    hand = ep.hands.hands[1]
    logs = np.round(hand.position.timestamps * 1e9).astype(np.int64) + ep.metadata["start_ns"]
    want = np.stack([written[int(t)] for t in logs]) + np.array([1.0, 0.0, 0.0])  # world -> base_link: 1 m along x
    np.testing.assert_allclose(hand.position.values, want, atol=1e-12)
    assert len(logs) == pytest.approx(50, abs=1)  # the window's TF messages, 50 Hz
