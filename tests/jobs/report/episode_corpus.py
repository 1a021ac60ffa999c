"""The corpus the episode-page tests read: a robot dataset of three episodes, the middle one lowered to low by a
finding (its tier reasons, a hand note and a verdicts finding planted), with a native state; each frame's image is
one grey level that changes with the frame index, so a frame shown at the wrong index is seen."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from schemas.qa import Finding
from schemas.verdicts import CorpusVerdicts
from tests.fixtures.corpus import episode, write_dataset

DATASET = "datasets/oxe/bridge"
LENGTHS = (12, 23, 9)  # episodes 0, 1, 2
REASONS = ["dead dims: 3 of 7 joints never move", "camera frozen 1.2 s"]
NOTE = "right hand absent: the source tracks one arm"
FINDING = Finding(code="qa_dead_dims", tier="low", value=3.0, threshold=1.0, message="3 dims never move (<= 1 allowed)")
NATIVE = ["joint_0", "joint_1", "gripper"]


def write_episode_corpus(root: Path) -> Path:
    # a lineage of before issue 69: ingest's sentences kept by the verdict step, its finding's after them
    verdicts = CorpusVerdicts(thresholds={}, tier_before="low", reasons_before=REASONS, found=[FINDING])
    said = [*REASONS, FINDING.reason()]
    flagged = dict(tier="low", tier_reasons=said, hand_notes=[NOTE], verdicts=verdicts.model_dump(mode="json"))
    episodes = [
        episode(n, "pick", f"oxe/bridge/e{k}", "franka", **(flagged if k == 1 else {})) for k, n in enumerate(LENGTHS)
    ]
    for ep in episodes:
        ep["native"] = np.linspace(0, 1, ep["n"] * len(NATIVE)).reshape(ep["n"], len(NATIVE))
    write_dataset(root / DATASET, "franka", episodes, camera=(24, 32), native_state_names=NATIVE)
    rebuild_catalog(Corpus(root))
    return root
