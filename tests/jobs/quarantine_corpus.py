"""The raw corpus of the quarantine scenario: good episodes and one episode per corrupt-input class, with the table of
where and why the job must reject each. Written once here for the local run (tests/jobs/test_quarantine_classes.py)
and its bucket twin (tests/s3/test_quarantine_bucket.py), which must find the same classes and reasons.

The writers of `adapters/synthetic/` produce the sources (OXE RLDS, AgiBot World, a LeRobot v2.1 dataset) and their
own faults (CRC, mirrored split, missing HDF5 group, action longer than state, duplicated task_info entry);
`tests/fixtures/corrupt.py` adds the rest (truncated and zero-frame mp4s, NaN poses, a clock running backwards, an
empty episode, a cut JSON file, bytes that are not UTF-8).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.synthetic.agibot import EpisodeSpec, write_agibot
from adapters.synthetic.rlds import write_rlds
from jobs.demo.robot import run_demo
from tests.fixtures import corrupt
from tests.fixtures.rlds import add_mirror_split

AGIBOT_FRAMES = 45  # 1.5 s at 30 Hz: 15 canonical frames, past min_length_frames
TASK = 327  # the AgiBot task holding the good episodes and the per-episode faults
AGIBOT_GOOD = (700_000, 700_001)
LEROBOT_EPISODES = 4  # episodes 1 and 2 are damaged
QUARANTINE_SQL = "SELECT episode_uid, source, raw_path, stage, error_class, message, field FROM quarantine ORDER BY ALL"


@dataclass(frozen=True)
class Case:
    """One corrupt-input class: the raw episodes that carry it and where and why the job must reject them."""

    name: str
    source: str
    uids: tuple[str, ...]  # raw episode uids (source/subset/raw_id) expected in the quarantine, and only there
    stage: str  # discover | read | canonicalize | write
    error_class: str
    needles: tuple[str, ...]  # lower-case substrings of the message that are specific to the class


def agibot_uid(episode: int, task: int = TASK) -> str:
    return f"agibot/task_{task}/{task}/{episode}"


# fmt: off
CASES = (  # a table: one class per entry
    Case("truncated_mp4", "agibot", (agibot_uid(790_003),), "read", "AdapterError", ("unreadable mp4",)),
    Case("zero_frame_video", "agibot", (agibot_uid(790_002),), "read", "AdapterError", ("video has 0 frames",)),
    Case("hdf5_missing_group", "agibot", (agibot_uid(790_001),), "read", "AdapterError", ("missing group state/end/",)),
    Case(
        "crc_bad_tfrecord", "bridge", ("bridge/bridge_dataset/train/00000/000001",), "discover", "DiscoveryError",
        ("crc mismatch", "payload"),
    ),
    Case(
        "nan_states", "agibot", (agibot_uid(790_004),), "canonicalize", "RejectedEpisode",
        ("no valid frame", "non_finite"),
    ),
    Case(  # the behaviour QA counts NaN/Inf in the natives before the writer would refuse them
        "nan_actions", "agibot", (agibot_uid(790_005),), "judge", "RejectedEpisode",
        ("qa_nonfinite", "nan/inf values in the natives"),
    ),
    Case(
        "non_monotonic_timestamps", "lerobot", ("lerobot/franka_cube/episode_000001",), "canonicalize", "ValueError",
        ("timestamps decrease",),
    ),
    Case(
        "action_longer_than_state", "agibot", (agibot_uid(790_000),), "read", "AdapterError",
        ("action longer than state",),
    ),
    Case(
        "empty_episode", "lerobot", ("lerobot/franka_cube/episode_000002",), "read", "AdapterError",
        ("episode has no rows",),
    ),
    Case(
        "duplicate_episode_mirrored_split", "bridge_mirror", ("bridge_mirror/bridge_dataset/val/00000/000000",),
        "discover", "DiscoveryError", ("duplicate of episode train/",),
    ),
    Case(
        "duplicate_episode_id_task_info", "agibot", (agibot_uid(790_006),), "discover", "DiscoveryError",
        ("listed 2 times in task_info",),
    ),
    Case(
        "unreadable_json", "agibot", (agibot_uid(1, task=556),), "discover", "DiscoveryError",
        ("unreadable task_info", "line", "column"),  # json's own "<what>: line L column C" position
    ),
    Case(
        "bad_utf8_task_text", "agibot", (agibot_uid(1, task=785),), "discover", "DiscoveryError",
        ("unreadable task_info", "'utf-8' codec can't decode"),
    ),
)
# fmt: on
GOOD = {  # source -> the uids of its good raw episodes (each gives one canonical episode of the same uid)
    "bridge": {"bridge/bridge_dataset/train/00000/000000", "bridge/bridge_dataset/train/00000/000002"},
    "bridge_mirror": {f"bridge_mirror/bridge_dataset/train/00000/00000{i}" for i in (0, 1)},
    "agibot": {agibot_uid(e) for e in AGIBOT_GOOD},
    "lerobot": {"lerobot/franka_cube/episode_000000", "lerobot/franka_cube/episode_000003"},
}
ADAPTERS = {"bridge": "oxe", "bridge_mirror": "oxe", "agibot": "agibot", "lerobot": "lerobot"}


def _write_rlds(raw: Path) -> dict[str, Path]:
    crc = write_rlds(raw / "bridge", "bridge", episodes=3, steps=12, corrupt_crc=("train", 1))
    assert set(crc.damaged) == {"train/00000/000001"}
    mirror = write_rlds(raw / "bridge_mirror", "bridge", episodes=2, steps=12)
    # val copies one of train's 2 episodes: each such copy is quarantined (a split copying a whole split is said
    # once as a source finding instead: tests/adapters/oxe/test_adapter.py)
    assert set(add_mirror_split(mirror, count=1)) == {"val/00000/000000"}
    return {"bridge": crc.path, "bridge_mirror": mirror.path}


def _write_agibot(raw: Path) -> Path:
    root = raw / "agibot"
    specs = [EpisodeSpec(TASK, e, AGIBOT_FRAMES) for e in AGIBOT_GOOD]
    specs += [
        EpisodeSpec(TASK, 790_000, AGIBOT_FRAMES, bad="action_longer"),
        EpisodeSpec(TASK, 790_001, AGIBOT_FRAMES),  # loses its state/end group below
        *(EpisodeSpec(TASK, e, AGIBOT_FRAMES) for e in (790_002, 790_003, 790_004, 790_005)),
        EpisodeSpec(TASK, 790_006, AGIBOT_FRAMES),
        EpisodeSpec(TASK, 790_006, AGIBOT_FRAMES),  # the same id twice in task_info
        EpisodeSpec(556, 1, AGIBOT_FRAMES),  # its task_info is cut short
        EpisodeSpec(785, 1, AGIBOT_FRAMES),  # its task_info gets bytes that are no UTF-8
    ]
    write_agibot(root, specs, height=48, width=64)
    corrupt.break_agibot(root, specs[len(AGIBOT_GOOD) + 1], "missing_group")
    obs, proprio = root / "observations" / str(TASK), root / "proprio_stats" / str(TASK)
    corrupt.write_zero_frame_mp4(obs / "790002/videos/head_color.mp4", 48, 64)
    corrupt.truncate_file(obs / "790003/videos/hand_right_color.mp4")
    corrupt.fill_h5_nonfinite(proprio / "790004/proprio_stats.h5", "state/end/position")
    corrupt.fill_h5_nonfinite(proprio / "790005/proprio_stats.h5", "action/end/position")
    corrupt.cut_json(root / "task_info/task_556.json")
    corrupt.inject_invalid_utf8(root / "task_info/task_785.json", "Clear the dining table")
    return root


def _write_lerobot(raw: Path) -> Path:
    root = run_demo(raw / "lerobot_out", episodes=LEROBOT_EPISODES).root
    corrupt.swap_timestamps(corrupt.lerobot_data_file(root, 1), at=5)
    corrupt.empty_parquet(corrupt.lerobot_data_file(root, 2))
    return root.parent  # the adapter finds the dataset one level below


def write_corrupt_corpus(raw: Path) -> dict[str, Path]:
    """Every source of the scenario under `raw` -> its root (what a spec's `root:` names)."""
    return {**_write_rlds(raw), "agibot": _write_agibot(raw), "lerobot": _write_lerobot(raw)}


def corrupt_spec(roots: dict[str, str | Path], output: str | Path) -> dict[str, Any]:
    """The scenario's job spec (as YAML would hold it) reading `roots` and writing `output`."""
    return {
        "output": str(output),
        "sources": [{"name": name, "adapter": ADAPTERS[name], "root": str(root)} for name, root in roots.items()],
        "parallelism": {"max_in_flight": 4, "num_cpus": 2},
    }


def check_case(case: Case, quarantine: list[dict[str, Any]], written: list[str], raw_root: str) -> None:
    """`case` is quarantined as its table row says (its episodes, and only them; stage, error class, each needle in
    the message; the raw path under `raw_root`), and no canonical episode cut from them (`#keep0`, `#span1`) was
    written (`written`: the catalog's episode uids)."""
    rows = {r["episode_uid"]: r for r in quarantine if r["episode_uid"] in case.uids}
    assert sorted(rows) == sorted(case.uids), f"{case.name}: quarantined {sorted(rows)}, expected {case.uids}"
    for uid, row in rows.items():
        where = f"{case.name} {uid}: {row}"
        assert (row["source"], row["stage"], row["error_class"]) == (case.source, case.stage, case.error_class), where
        for needle in case.needles:
            assert needle in row["message"].lower(), f"{where}: no {needle!r} in the message"
        assert row["raw_path"].startswith(raw_root), where
    leaked = [w for w in written if any(w == u or w.startswith(u + "#") for u in case.uids)]
    assert not leaked, f"{case.name}: written although quarantined: {leaked}"
