"""The three real datasets of issue 23, ingested end to end: every file found, nothing lost, reasons that say why.

The datasets are the real `meta/info.json` files collected in tests/fixtures/lerobot_layouts (each cites its
repository and commit), materialized by `tests.fixtures.layouts` as their real files are on disk:
- `lingzu_open50_v30`: v3.0, 34-dim `state` / `actions`, camera `image` whose mp4s sit under `video/image/...` while
  info.json declares `videos/{video_key}/...`, robot_type naming no known robot;
- `piper_joint_pos_v30`: v3.0 piper, `joint_1.pos` .. `gripper.pos` on lerobot's normalized range, two declared
  cameras with no video files at all;
- `so101_bimanual_chunk_index_v21`: hand-made v2.1, `{chunk_index}` in both templates, cameras `cam0` / `cam1`,
  raw servo ticks, timestamps at 18.78 Hz against a declared 20.
Each goes through discovery, read, canonicalization and the canonical writer; the written `*.native` columns are
compared with the source columns at the 10 Hz grid by the natives' resampling rule (linear for floats, hold for
integers and flags), and `eidata validate` is checked to report the same findings as ingest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot_format.files import read_jsonl
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.lerobot.writer import LeRobotWriter
from jobs.validate import validate_dataset
from schemas.canonical import ACTION_NATIVE, STATE_NATIVE, Camera
from tests.adapters.lerobot.conftest import quirk_report
from tests.fixtures.episodes import write_episode
from tests.fixtures.layouts import Written, load_case, materialize
from tests.fixtures.offline import prepared

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"
LINGZU, PIPER, SO101 = "lingzu_open50_v30", "piper_joint_pos_v30", "so101_bimanual_chunk_index_v21"
GENERIC = "nothing to canonicalize (no hand signals and no camera)"


class Ingested:
    """One case written, read, canonicalized and stored once per module."""

    def __init__(self, name: str, tmp: Path, **options: object) -> None:
        self.written: Written = materialize(load_case(FIXTURES / name), tmp / "src" / name)
        self.adapter = LeRobotSource(options)
        self.refs = list(self.adapter.discover(self.written.root))
        self.raws = [self.adapter.read(r) for r in self.refs]
        self.episodes: list[list[CanonicalEpisode]] = [prepared(raw) for raw in self.raws]
        first = next(e for eps in self.episodes for e in eps)
        self.out = tmp / "out" / name
        with LeRobotWriter.create(self.out, fps=10, features=dataset_features(first), robot_type=first.embodiment) as w:
            for eps in self.episodes:
                for ep in eps:
                    write_episode(w, ep)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ingested]:
    tmp = tmp_path_factory.mktemp("issue23")
    return {name: Ingested(name, tmp) for name in (LINGZU, PIPER, SO101)}


def _expected(ts: np.ndarray, values: np.ndarray, grid: np.ndarray, held: list[bool], at_rows: bool) -> np.ndarray:
    """The natives' rule: continuous columns linearly between samples, the discrete ones (`held`: the episode's
    `native_discrete`) from the sample at or before; with a row clock (`at_rows`: a wall-clock recorder with one
    frame per row) every column from the row at or before each grid time."""
    v = values.reshape(len(values), -1).astype(np.float64)
    before = np.clip(np.searchsorted(ts, grid + 1e-6, side="right") - 1, 0, len(ts) - 1)
    grid = ts[before] if at_rows else grid
    # np.interp, not the pipeline's own resampler: an independent reading of the rule
    return np.stack([v[before, j] if held[j] else np.interp(grid, ts, v[:, j]) for j in range(v.shape[1])], axis=1)


@pytest.mark.parametrize("name", [LINGZU, PIPER, SO101])
def test_every_source_column_survives_as_a_native_at_the_10hz_grid(cases: dict[str, Ingested], name: str) -> None:
    case = cases[name]
    assert all(r.error is None for r in case.refs), [r.error for r in case.refs]
    written = list(read_jsonl(case.out / "meta/episodes.jsonl"))
    assert len(written) == len(case.refs) == len(case.written.lengths)  # every episode written, none quarantined
    info_names = {}
    for ep_i, ((_, line), raw, eps) in enumerate(zip(written, case.raws, case.episodes, strict=True)):
        assert len(eps) == 1
        ep = eps[0]
        table = pq.read_table(case.out / f"data/chunk-000/episode_{int(line['episode_index']):06d}.parquet")
        stored = {
            STATE_NATIVE: np.stack(table[STATE_NATIVE].to_numpy(zero_copy_only=False)),
            ACTION_NATIVE: np.stack(table[ACTION_NATIVE].to_numpy(zero_copy_only=False)),
        }
        info_names = {STATE_NATIVE: ep.natives.state_names, ACTION_NATIVE: ep.natives.action_names}
        grid = ep.span_s[0] + ep.timestamps
        # the source's own timestamps, as the adapter shifted them (first row or first video frame at 0 s)
        ts = case.written.timestamps[ep_i].astype(np.float64) - raw.metadata["timestamp_offset_s"]
        for col, per_episode in case.written.columns.items():
            values = per_episode[ep_i]
            width = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
            group = ACTION_NATIVE if col.split(".")[0] in ("action", "actions") else STATE_NATIVE
            idx = [i for i, n in enumerate(info_names[group]) if n.startswith(f"{col}.")]
            assert len(idx) == width, f"{name}: column {col} kept {len(idx)} of {width} dims as natives"
            held = [info_names[group][i] in ep.natives.discrete for i in idx]
            expected = _expected(ts, values, grid, held, ep.row_clock is not None)
            np.testing.assert_allclose(
                stored[group][:, idx], expected, rtol=1e-5, atol=1e-4 * max(1, np.abs(values).max())
            )


def test_lingzu_videos_found_where_they_are_and_the_reason_names_the_cause(cases: dict[str, Ingested]) -> None:
    case = cases[LINGZU]
    quirks = {q["code"]: q for q in quirk_report(case.adapter, case.written.root)}
    moved = quirks["video_path_relocated"]
    assert moved["severity"] == "warning"
    assert "videos/image/chunk-000/file-000.mp4" in moved["message"]
    assert "video/image/chunk-000/file-000.mp4" in moved["message"]
    assert "ghost_camera" not in quirks and "missing_video_files" not in quirks
    for raw, eps in zip(case.raws, case.episodes, strict=True):
        assert {k: c.canonical for k, c in raw.cameras.items()} == {"image": Camera.head}
        ep = eps[0]
        assert set(ep.cameras) == {"head"} and not ep.mask.any()
        first = ep.tier_reasons[0]
        assert first.startswith("no canonical dims (68 native dims and 1 camera(s) kept)")
        assert "lingzu_highcam_pi05" in first and GENERIC not in " ".join(ep.tier_reasons)
    report = validate_dataset(case.written.root)
    assert ("video_path_relocated", "warning") in report.codes()
    assert not {c for c, _ in report.codes()} & {"ghost_camera", "missing_video_files", "video_too_short"}


def test_piper_without_videos_is_written_with_its_natives_and_the_first_cause(cases: dict[str, Ingested]) -> None:
    case = cases[PIPER]
    quirks = [q for q in quirk_report(case.adapter, case.written.root) if q["code"] == "ghost_camera"]
    assert len(quirks) == 2  # both declared cameras have no files: named, not dropped silently
    for eps in case.episodes:
        ep = eps[0]
        assert ep.cameras == {}
        assert ep.natives.state_names[:7] == [
            *(f"observation.state.joint_{i}.pos" for i in range(1, 7)),
            "observation.state.gripper.pos",
        ]
        if not ep.mask.any():  # the joints did not reach FK: the reason is the specific one, first
            first = ep.tier_reasons[0]
            assert first.startswith("no canonical dims (13 native dims and 0 camera(s) kept): ")
            assert "piper" in first and GENERIC not in " ".join(ep.tier_reasons)
    report = validate_dataset(case.written.root)
    assert sum(c == "ghost_camera" for c, _ in report.codes()) == 1  # codes() is a set: one code, two cameras
    assert "observation.images.front" in " ".join(q.message for q in report.quirks if q.code == "ghost_camera")


def test_so101_bimanual_chunk_index_template_and_numbered_cameras(cases: dict[str, Ingested], tmp_path: Path) -> None:
    case = cases[SO101]
    assert [r.raw_id for r in case.refs] == ["episode_000000", "episode_000001"]  # no `meta` failure row
    for raw, eps in zip(case.raws, case.episodes, strict=True):
        # cam0 / cam1 say nothing of their view: no slot, each kept under its own key, with a note saying so
        assert {k: c.canonical for k, c in raw.cameras.items()} == {
            "observation.images.cam0": None,
            "observation.images.cam1": None,
        }
        assert "kept under its own key" in raw.metadata["camera_notes"]["observation.images.cam0"]
        assert set(eps[0].cameras) == {"cam0", "cam1"}
    # rows at 18.78 Hz (wall clock; episode 0 the real recorder's rows, 18.44 Hz there), mp4s at the declared 20:
    # each video has one frame per row, so frame i takes row i's time instead of drifting up to (1 - 18.78 / 20) of
    # the episode away from its state
    for ep_i, (raw, rate) in enumerate(zip(case.raws, ("18.44", "18.78"), strict=True)):
        rows = case.written.timestamps[ep_i].astype(np.float64)
        for cam in raw.cameras.values():
            np.testing.assert_array_equal(cam.timestamps, rows)
        [drift] = [q["message"] for q in raw.metadata["episode_quirks"] if q["code"] == "timestamp_video_drift"]
        assert f"rows at {rate} Hz, declared 20" in drift and "frame i takes row i's timestamp" in drift
    info = (case.out / "meta/info.json").read_text(encoding="utf-8")
    assert '"observation.images.cam0"' in info and '"observation.images.cam1"' in info
    # the rule table is overridable per source: the same dataset with cam0 as the head, cam1 as the third person
    placed = LeRobotSource({"camera_rules": [["cam0", "head"], ["cam1", "third_person"]]})
    raw = placed.read(next(placed.discover(case.written.root)))
    assert {k: c.canonical for k, c in raw.cameras.items()} == {
        "observation.images.cam0": Camera.head,
        "observation.images.cam1": Camera.third_person,
    }
    assert set(prepared(raw)[0].cameras) == {"head", "third_person"}
    report = validate_dataset(case.written.root)
    assert report.version == "v2.1" and report.episodes == 2
    assert "bad_path_template" not in {c for c, _ in report.codes()}
    # validate says what ingest did with the cameras
    [unplaced] = [q.message for q in report.quirks if q.code == "camera_without_slot"]
    assert "observation.images.cam0" in unplaced and "observation.images.cam1" in unplaced
