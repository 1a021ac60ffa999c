from schemas.spelling import closest, did_you_mean, unknown


def test_the_closest_name_is_offered() -> None:
    assert closest("cam_hihg", ["cam_high", "cam_low", "cam_left_wrist"]) == "cam_high"
    assert did_you_mean("bridge_datset", ["bridge_dataset", "taco_play"]) == "did you mean 'bridge_dataset'?"
    assert unknown("column", "sourc", ["source", "tier"]) == "unknown column 'sourc'; did you mean 'source'?"


def test_without_a_close_name_the_known_ones_are_listed() -> None:
    assert closest("mylab_kitchen", ["bridge_dataset", "taco_play"]) is None
    assert did_you_mean("zzz", ["b", "a", "b"], listing="allowed") == "allowed: b, a"  # as given, once each
    assert did_you_mean("zzz", [str(i) for i in range(40)], limit=2) == "known: 0, 1 and 38 more"
    assert unknown("camera", "x", []) == "unknown camera 'x'"
