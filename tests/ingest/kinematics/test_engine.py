"""The MuJoCo engine behind KinematicModel.forward: bad joint values poison only their own rows and the links below
them, episodes longer than one batch chunk come out row for row, joints past their limits are not clamped, and two
threads sharing a model get their own results."""

from __future__ import annotations

import threading

import numpy as np
from scipy.spatial.transform import Rotation

from ingest.kinematics import load_model
from ingest.kinematics.engine import CHUNK


def _q(name: str, n: int, seed: int) -> np.ndarray:
    m = load_model(name)
    lo, hi = np.where(np.isfinite(m.lower), m.lower, -np.pi), np.where(np.isfinite(m.upper), m.upper, np.pi)
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, m.dof))


def test_bad_values_poison_only_their_rows_and_the_links_below() -> None:
    m = load_model("panda")
    links = ["panda_link2", "panda_link4", "panda_link8", "panda_hand_tcp", "panda_leftfinger"]
    n = 2 * CHUNK + 7  # three chunks: a chunk must not carry a bad row into the next frames
    clean = _q("panda", n, seed=1)
    ref = m.forward(clean, links)
    q = clean.copy()
    bad = {
        5: ("panda_joint4", np.nan),  # links 4 and below
        CHUNK - 1: ("panda_joint1", np.inf),  # every moving link
        CHUNK: ("panda_joint7", -np.inf),  # the flange and the hand, not link4
        2 * CHUNK + 3: ("panda_finger_joint1", 1e12),  # beyond MuJoCo's mjMAXVAL: the finger only
    }
    expected = np.zeros((n, len(links)), dtype=bool)
    for row, (joint, value) in bad.items():
        q[row, m.joint_names.index(joint)] = value
        below = {
            "panda_joint4": links[1:],
            "panda_joint1": links,
            "panda_joint7": links[2:],
            "panda_finger_joint1": links[4:],
        }[joint]
        expected[row] = [link in below for link in links]
    out = m.forward(q, links)
    np.testing.assert_array_equal(np.isnan(out[..., :3, :]).all(axis=(2, 3)), expected)  # rotation and position
    np.testing.assert_array_equal(np.isnan(out).any(axis=(2, 3)), expected)
    np.testing.assert_array_equal(out[~expected], ref[~expected])  # everything else exactly as without bad values
    # the same in another base: a bad base pose poisons every link of its row
    in_link4 = m.forward(q, links, base="panda_link4")
    assert np.isnan(in_link4[5, :, :3]).all() and not np.isnan(in_link4[6]).any()


def test_long_episodes_match_frame_by_frame() -> None:
    m = load_model("g1_arms")
    links = ["left_wrist_yaw_link", "right_wrist_yaw_link"]
    q = _q("g1_arms", CHUNK + 3, seed=2)
    whole = m.forward(q, links)
    for i in (0, CHUNK - 1, CHUNK, CHUNK + 2):
        np.testing.assert_array_equal(m.forward(q[i : i + 1], links)[0], whole[i])


def test_joints_past_their_limits_are_not_clamped() -> None:
    # real data goes past the file's limits (the GR1 sample's elbow); panda_joint4 allows [-3.0718, -0.0698]
    m = load_model("panda")
    q = np.zeros((2, m.dof))
    q[1, 3] = 0.5
    rel = m.forward(q, ["panda_link4"], base="panda_link3")[:, 0]
    turn = np.eye(4)
    turn[:3, :3] = Rotation.from_rotvec([0.0, 0.0, 0.5]).as_matrix()  # joint4 turns about its child's z
    np.testing.assert_allclose(rel[1], rel[0] @ turn, atol=1e-12)


def test_two_threads_on_one_model_get_their_own_results() -> None:
    m = load_model("g1_arms")
    links = list(m.links)
    inputs = [_q("g1_arms", 300 + 97 * k, seed=10 + k) for k in range(2)]
    expected = [m.forward(q, links) for q in inputs]
    start, errors = threading.Barrier(2), []

    def work(k: int) -> None:
        start.wait()
        for _ in range(40):
            if not np.array_equal(m.forward(inputs[k], links), expected[k]):
                errors.append(k)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"threads {errors} got another thread's poses"
