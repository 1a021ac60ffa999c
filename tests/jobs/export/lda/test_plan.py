"""`jobs.export.lda.plan`: what an LDA export will write is decided before anything is: each dataset's layout (an
arm's wrist, a robot's native command), the manifest's episodes only, and every dataset LDA cannot train on refuses
the whole export, each named with why."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.export.lda.plan import LdaExportError, Refused, plan_export
from tests.fixtures.corpus import NATIVE_COMMAND, NATIVE_JOINTS, episode, native_episode, write_dataset


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    arm = [episode(6, "pick", "oxe/bridge/e0", "franka"), episode(5, "place", "oxe/bridge/e1", "franka")]
    write_dataset(root / "datasets/oxe/bridge", "franka", arm)
    natives = [native_episode(6, "lab/cr5/a", 0), native_episode(4, "lab/cr5/b", 1)]
    names = {"native_state_names": NATIVE_JOINTS, "native_action_names": NATIVE_COMMAND}
    write_dataset(root / "datasets/lab/cr5", "unknown", natives, mask=[0] * 50, **names)
    return root


def test_an_arm_and_a_robot_without_a_description_each_get_their_layout(corpus: Path) -> None:
    plans = {p.name: p for p in plan_export(corpus)}
    assert sorted(plans) == ["lab/cr5", "oxe/bridge"]
    assert plans["oxe/bridge"].layout == "single_arm" and len(plans["oxe/bridge"].lines) == 2
    assert plans["lab/cr5"].layout == "native"
    assert plans["lab/cr5"].native == (len(NATIVE_JOINTS), len(NATIVE_COMMAND))


def test_video_without_an_action_refuses_the_whole_export_naming_it(corpus: Path) -> None:
    clip = episode(5, "cooking", "ego4d/clips/v0", "human_video", mask=[0] * 50, tier="actionless")
    write_dataset(corpus / "datasets/ego4d/clips", "human_video", [clip], mask=[0] * 50)
    with pytest.raises(Refused) as e:
        plan_export(corpus)
    assert [name for name, _ in e.value.refused] == ["ego4d/clips"]
    assert "nothing written" in str(e.value) and "no wrist pose in use" in str(e.value)


def test_a_manifest_that_is_not_there_is_named_with_the_command_that_writes_it(corpus: Path) -> None:
    with pytest.raises(LdaExportError, match=r"no entries\.parquet.*eidata curate"):
        plan_export(corpus, "nope")


def test_a_torn_manifest_is_named_not_a_traceback(corpus: Path) -> None:
    """A manifest's entries file that does not parse is an `LdaExportError` naming `--manifest` (the export prints it
    and exits 1), as every reader of `--manifest` says it (`jobs.catalog.selection.manifest_episodes`)."""
    folder = corpus / "manifests/torn"
    folder.mkdir(parents=True)
    (folder / "entries.parquet").write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(LdaExportError, match=r"--manifest torn: .*entries\.parquet"):
        plan_export(corpus, "torn")


def test_the_missing_episode_files_are_named_in_order_each_template_filled_once(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run names each episode file a plan would read and its dataset lacks (`missing_files`), in the episodes'
    order; each dataset's path templates are filled and checked once, not per file (issue 99: 26% of the lda dry
    run's CPU at 100k). Counted, not timed."""
    import schemas.lerobot as lerobot
    from jobs.export.lda.plan import missing_files

    plans = {p.name: p for p in plan_export(corpus)}
    bridge, info = corpus / "datasets/oxe/bridge", plans["oxe/bridge"].info
    gone = [bridge / info.video_file(0, k) for k in info.video_keys] + [bridge / info.data_file(1)]
    for path in gone:
        path.unlink()
    checked: list[str] = []
    fill = lerobot.fill_path_template
    monkeypatch.setattr(lerobot, "fill_path_template", lambda t, *a, **k: checked.append(t) or fill(t, *a, **k))
    lost = {name: missing_files(p) for name, p in plans.items()}
    assert lost == {"oxe/bridge": [str(p) for p in gone], "lab/cr5": []}  # episode 0's videos, then 1's parquet
    assert len(info.video_keys) >= 1 and len(checked) == sum(1 + len(p.info.video_keys) for p in plans.values())
