"""The source finding record (`schemas.findings`): which dataset and episodes it concerns, and its one line."""

from __future__ import annotations

from schemas.findings import SourceFinding


def _finding(subset: str | None, episodes: tuple[str, ...] | None) -> SourceFinding:
    return SourceFinding(
        source="a",
        adapter="lerobot",
        root="/raw",
        subset=subset,
        code="total_episodes_mismatch",
        severity="warning",
        message="3 declared episodes are not in this copy",
        episodes=episodes,
    )


def test_a_finding_concerns_its_dataset_and_episodes() -> None:
    f = _finding("ds", ("episode_000001",))
    assert f.concerns("ds", "episode_000001") and not f.concerns("ds", "episode_000002")
    assert not f.concerns("other", "episode_000001")
    assert f.concerns_dataset("a", "ds") and f.concerns_dataset("a", "ds@640x360") and not f.concerns_dataset("b", "ds")
    whole = _finding(None, None)
    assert whole.concerns("any", "x") and whole.concerns_dataset("a", "any")
    assert f.line() == "WARNING total_episodes_mismatch: 3 declared episodes are not in this copy"
    assert f.model_copy(update={"path": "meta/info.json"}).line().endswith(" [meta/info.json]")
