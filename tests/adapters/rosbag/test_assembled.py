"""An episode as the bag adapter assembles it (`adapters/rosbag/assembled.py`): constant columns are said once per
topic, a long list cut with a count."""

from __future__ import annotations

from adapters.rosbag.assembled import Assembled


def test_constant_columns_are_said_with_the_topic_and_a_long_list_is_cut() -> None:
    ep = Assembled()
    ep.constant("/joint_states", [])
    assert ep.said == []
    ep.constant("/joint_states", [f"position.j{i}" for i in range(15)])
    [(code, message)] = ep.said
    assert code == "constant_channel" and message.startswith("topic /joint_states: 15 column(s) hold one value")
    assert "position.j11, ... (3 more)" in message and "j12" not in message
