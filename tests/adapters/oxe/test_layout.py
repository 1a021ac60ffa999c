"""A shard that differs from its subset row (issue 87 item 2): every missing, extra or reshaped field named in a
finding, tier low where the row's wrist or gripper cannot be read, every field still read natively; episode-level
metadata kept for the lineage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.oxe.adapter import OXEAdapter
from adapters.oxe.episode import OXEEpisodeMetadata
from adapters.oxe.layout import LAYOUT_DIFFERS, LAYOUT_HAND_LOST
from adapters.oxe.subsets import SUBSETS
from adapters.synthetic.rlds import write_rlds
from schemas.tiers import QualityTier, tier_of

GRID_CLAMP = "dlr_sara_grid_clamp_converted_externally_to_rlds"


def _read(root: Path):
    a = OXEAdapter()
    ep = a.read(next(a.discover(root)))
    return ep, [f for f in a.findings() if f.code == LAYOUT_DIFFERS]


def test_a_shard_without_its_rows_state_is_named_and_not_tier_high(tmp_path: Path) -> None:
    """TACO's layout under Bridge's builder name: Bridge's state and cameras are missing, TACO's fields extra. Each is
    named; the row's wrist cannot be read, so the episode is tier low with that reason; TACO's fields are still kept."""
    wb = write_rlds(tmp_path, "taco_play", dataset_name="bridge_dataset", episodes=1)
    ep, [finding] = _read(tmp_path)
    for key in ("steps/observation/state", "steps/observation/image_0", "episode_metadata/file_path"):
        assert key in ep.metadata["layout_diff"]["missing"] and key in finding.message
    assert "steps/observation/robot_obs" in ep.metadata["layout_diff"]["extra"] and "read natively" in finding.message
    assert "cannot be read (steps/observation/state): tier low" in finding.message
    assert tier_of(ep.tier, ep.verdicts) == QualityTier.low
    [lost] = [v for v in ep.verdicts if v.code == LAYOUT_HAND_LOST]
    assert "steps/observation/state missing" in lost.reason and not ep.hands.hands[1].has_wrist
    written = wb.episode(ep.ref.raw_id).tensors
    kept = {**ep.states, **ep.actions, **ep.outcomes}
    for key, values in written.items():  # natives keep every field the shard has
        if key not in ep.metadata["skipped"]:
            parts = [s for k, s in kept.items() if k == key or k.startswith(key + ":")]
            got = np.concatenate([s.values.reshape(len(s), -1) for s in parts], axis=1)
            assert np.array_equal(got, values.reshape(len(values), -1)), key


def test_a_narrower_state_is_named_reshaped_and_read_whole(tmp_path: Path) -> None:
    """DLR SARA pour's 6-value state under the grid-clamp builder name (whose row says 12): the row's slices do not
    fit, so the state is kept whole, the finding names both widths, and no wrist means tier low."""
    wb = write_rlds(tmp_path, "dlr_sara_pour_converted_externally_to_rlds", dataset_name=GRID_CLAMP, episodes=1)
    ep, [finding] = _read(tmp_path)
    assert "steps/observation/state [6] (row [12])" in finding.message
    assert ep.metadata["layout_diff"]["reshaped"]["steps/observation/state"] == {"shard": [6], "row": [12]}
    state = ep.states["observation/state"]
    assert np.array_equal(state.values, wb.episode(ep.ref.raw_id).tensors["observation/state"])
    assert tier_of(ep.tier, ep.verdicts) == QualityTier.low and not ep.hands.hands[1].has_wrist


def test_a_shard_as_its_row_says_keeps_its_tier_and_its_episode_metadata(tmp_path: Path) -> None:
    """No finding and no verdict where the shard is as the row says; `episode_metadata/*` goes to the lineage."""
    wb = write_rlds(tmp_path, "bridge", episodes=1)
    ep, findings = _read(tmp_path)
    assert not findings and "layout_diff" not in ep.metadata
    assert tier_of(ep.tier, ep.verdicts) == QualityTier.high and ep.hands.hands[1].has_wrist
    assert isinstance(ep.annotation, OXEEpisodeMetadata)
    assert ep.annotation.values == wb.episode(ep.ref.raw_id).episode_metadata
    assert ep.annotation.model_dump()["kind"] == "oxe_episode_metadata"


def test_a_natives_row_states_no_layout(tmp_path: Path) -> None:
    """A row that configures no stream (here fmb_dataset, by its TFDS name) compares nothing: no finding."""
    assert not SUBSETS["fmb_dataset"].states and not SUBSETS["fmb_dataset"].cameras
    write_rlds(tmp_path, "taco_play", dataset_name="fmb", episodes=1)
    ep, findings = _read(tmp_path)
    assert not findings and "layout_diff" not in ep.metadata
