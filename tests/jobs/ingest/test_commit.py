"""A committer's writers (`jobs.ingest.commit.DatasetCommitter`) in this process, on raw episodes the worker staged
from the demo's AgiBot source: episodes commit in the order they are sent, indices from 0 with nothing skipped, and an
episode whose features differ from its dataset's is refused as a value (`CommitFailed` naming the dataset), its
staging removed, the dataset untouched."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.commit import CommitFailed, DatasetCommitter
from jobs.ingest.discovery import discover
from jobs.ingest.task import EpisodeTask, Staged, StagedOutput, TaskSettings
from jobs.ingest.worker import process_episode
from jobs.spec_models import JobSpec
from schemas.lerobot import EPISODES_PATH


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobSpec, list[StagedOutput]]:
    tmp = tmp_path_factory.mktemp("commit")
    raw = write_raw_corpus(tmp / "raw", sources=("agibot",))
    spec = JobSpec.model_validate(
        {"output": str(tmp / "out"), "sources": [{"name": "agibot", "adapter": "agibot", "root": str(raw["agibot"])}]}
    )
    items, _ = discover(spec)
    results = [process_episode(EpisodeTask(it, TaskSettings.of(spec))) for it in items]
    outs = [ep for r in results if isinstance(r, Staged) for ep in r.episodes]
    assert len(outs) == 2  # the demo's third AgiBot episode is broken on purpose (rejected by the worker)
    return spec, outs


def _episodes(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / EPISODES_PATH).read_text().splitlines()]


def test_episodes_commit_in_the_order_sent_and_a_mismatch_is_refused_as_a_value(
    staged: tuple[JobSpec, list[StagedOutput]],
) -> None:
    spec, (first, second) = staged
    committer = DatasetCommitter(spec.output, spec.canonicalize.fps, spec.codec)
    # the second raw episode is sent first: the committer writes what it is sent, in that order
    assert committer.commit([second]) is None
    assert committer.commit([first]) is None
    root = spec.output / first.dataset
    eps = _episodes(root)
    assert [e["episode_index"] for e in eps] == [0, 1]
    assert [e["length"] for e in eps] == [second.staged.length, first.staged.length]

    # a staged episode whose features are not its dataset's: one feature's shape changed
    key = next(k for k, f in first.features.items() if f.dtype != "video")
    feat = first.features[key]
    odd = {**first.features, key: feat.model_copy(update={"shape": (feat.shape[0] + 1, *feat.shape[1:])})}
    stage = spec.output / first.dataset / "odd-stage"
    stage.mkdir()
    failed = committer.commit(
        [replace(first, features=odd, staged=first.staged.model_copy(update={"stage_dir": stage}))]
    )
    assert isinstance(failed, CommitFailed) and failed.error_class == "DatasetError"
    assert first.dataset in failed.message and "features differ" in failed.message
    assert not stage.exists()  # its staging is removed: nothing half-written remains
    assert committer.close() == 1
    assert len(_episodes(root)) == 2  # the dataset is as it was
