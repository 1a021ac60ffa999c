"""Real LeRobot layouts, as their makers wrote them, read and ingested with nothing lost and no wrong robot.

Each case of tests/fixtures/lerobot_layouts/ is a real dataset's `meta/info.json` (cited in its `layout.json`:
repository, path, commit); `tests.fixtures.layouts.materialize` writes two short episodes of it exactly as
that file declares (and as its real files diverge from it). For every case:
- discovery finds both episodes, without an error;
- `read` keeps every numeric column (any name: `state`, `actions`, `observation.effort`, `next.done`, ...) with all its
  dims and the values written, and every camera under its own key (a declared camera with no files is named in a
  reason, never dropped silently);
- the embodiment is recorded with how it was chosen, and is never one the dataset contradicts (a two-arm dataset is no
  one-armed SO-101; an unknown robot stays `unknown`);
- canonicalization writes the episode (never "nothing to canonicalize" when there are columns), every numeric column
  survives as a native with all its dims and, at the 10 Hz grid, the values the natives' resampling rule gives
  (linear for floats, hold for integers and flags), and every camera is kept, under its canonical slot or its own name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from adapters.lerobot.adapter import LeRobotSource
from ingest.episode import CanonicalEpisode
from schemas.robots.registry import default_registry
from schemas.tiers import reasons_of
from tests.fixtures.layouts import BOOKKEEPING, Case, Written, features, load_cases, materialize
from tests.fixtures.offline import prepared

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"
CASES = {c.name: c for c in load_cases(FIXTURES)}
NAMES = sorted(CASES)


class Layouts:
    """Each case's dataset written, discovered and read once, on first use."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._written: dict[str, Written] = {}
        self._refs: dict[str, list[EpisodeRef]] = {}
        self._raws: dict[str, list[RawEpisode] | Exception] = {}

    def written(self, name: str) -> Written:
        if name not in self._written:
            self._written[name] = materialize(CASES[name], self.tmp / name)
        return self._written[name]

    def refs(self, name: str) -> list[EpisodeRef]:
        if name not in self._refs:
            self._refs[name] = list(LeRobotSource().discover(self.written(name).root))
        return self._refs[name]

    def read(self, name: str) -> tuple[Written, list[EpisodeRef], list[RawEpisode]]:
        """The episodes read; a read that raised raises again here (in every test of the case, with its cause)."""
        refs = self.refs(name)
        if name not in self._raws:
            try:
                self._raws[name] = [LeRobotSource().read(r) for r in refs if r.error is None]
            except Exception as err:  # kept, to raise again in each test of the case
                self._raws[name] = err
        raws = self._raws[name]
        if isinstance(raws, Exception):
            raise raws
        w = self.written(name)
        assert len(raws) == len(w.lengths), f"episodes not read: {[(r.raw_id, r.error) for r in refs if r.error]}"
        return w, refs, raws


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> Layouts:
    return Layouts(tmp_path_factory.mktemp("layouts"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _numeric(case: Case) -> dict[str, tuple[int, ...]]:
    """Every declared numeric source column (not the bookkeeping ones) -> its shape."""
    return {f.key: f.shape for f in features(case.info) if not f.is_camera and f.key not in BOOKKEEPING}


def _streams(raw: RawEpisode) -> dict[str, Stream]:
    return {**raw.outcomes, **raw.signals, **raw.actions, **raw.states}


def _parts(raw: RawEpisode, key: str, width: int) -> list[tuple[str, np.ndarray]]:
    """Where a source column's dims are: the stream of its name, or (GR00T modality.json) the streams the adapter's
    `stream_layout` names, each with the column dims it holds; [] when the column is nowhere."""
    if key in _streams(raw):
        return [(key, np.arange(width))]
    parts = []
    for entry in raw.metadata.get("stream_layout", {}).get(key, []):
        dims = np.arange(entry[1], entry[2]) if len(entry) == 3 else np.asarray(entry[1])
        parts.append((entry[0], dims))
    return parts


# ---------------------------------------------------------------------------------------------------------------
# The fixtures are the makers' files


def test_at_least_twenty_real_layouts_every_one_cited() -> None:
    assert len(CASES) >= 20
    versions = {str(c.info.get("codebase_version")) for c in CASES.values()}
    assert {"v2.0", "v2.1", "v3.0"} <= versions
    for case in CASES.values():
        src = case.record.source
        assert src.index_id or (src.repo and src.path and src.commit), case.name
        if case.record.value_ranges != "unknown":
            shapes = _numeric(case)
            for key, r in case.record.value_ranges.items():
                assert len(r.min) == len(r.max) == int(np.prod(shapes[key])), (case.name, key)
                assert all(lo <= hi for lo, hi in zip(r.min, r.max, strict=True)), (case.name, key)


@pytest.mark.parametrize("name", NAMES)
def test_written_dataset_declares_the_makers_info(name: str, layouts: Layouts) -> None:
    """The dataset on disk says what the maker's file says: only the totals and splits follow the two episodes."""
    w = layouts.written(name)
    got = json.loads((w.root / "meta/info.json").read_text(encoding="utf-8"))
    counts = ("total_episodes", "total_frames", "total_tasks", "total_videos", "total_chunks", "splits")
    assert {k: v for k, v in got.items() if k not in counts} == {
        k: v for k, v in CASES[name].info.items() if k not in counts
    }
    assert got["total_episodes"] == 2 and got["total_frames"] == sum(w.lengths)
    for key, ranges in (
        {} if CASES[name].record.value_ranges == "unknown" else CASES[name].record.value_ranges
    ).items():
        v = np.concatenate(w.columns[key]).reshape(sum(w.lengths), -1)
        assert (v >= np.float32(ranges.min) - 1e-4).all() and (v <= np.float32(ranges.max) + 1e-4).all()


# ---------------------------------------------------------------------------------------------------------------
# Read: nothing lost


@pytest.mark.parametrize("name", NAMES)
def test_discovery_finds_every_episode(name: str, layouts: Layouts) -> None:
    w, refs = layouts.written(name), layouts.refs(name)
    assert [(r.raw_id, r.error) for r in refs] == [(f"episode_{i:06d}", None) for i in range(len(w.lengths))]


@pytest.mark.parametrize("name", NAMES)
def test_read_keeps_every_column_with_all_its_dims(name: str, layouts: Layouts) -> None:
    w, _, raws = layouts.read(name)
    for ep, raw in enumerate(raws):
        streams = _streams(raw)
        for key, values in w.columns.items():
            want = values[ep].reshape(len(values[ep]), -1)
            parts = _parts(raw, key, want.shape[1])
            assert parts, f"column {key} not kept (streams: {sorted(streams)})"
            got = np.full(want.shape, np.nan)
            for part, dims in parts:
                s = streams[part]
                got[:, dims] = s.values.reshape(len(s), -1)
                np.testing.assert_allclose(s.timestamps, w.timestamps[ep], atol=1e-6, err_msg=part)
            np.testing.assert_array_equal(got, want, err_msg=f"{key}: every dim, bit for bit")


@pytest.mark.parametrize("name", NAMES)
def test_read_keeps_every_camera_under_its_key(name: str, layouts: Layouts) -> None:
    w, _, raws = layouts.read(name)
    for ep, raw in enumerate(raws):
        if CASES[name].record.videos_absent:  # declared, no files: named in a reason, not silently gone
            said = json.dumps(raw.metadata.get("quirks", [])) + json.dumps(reasons_of(raw.verdicts))
            assert all(key in said for key in w.cameras), said
            continue
        assert sorted(raw.cameras) == sorted(w.cameras)
        for key, (h, wd) in w.cameras.items():
            cam = raw.cameras[key]
            assert len(cam) == w.lengths[ep] and (cam.height, cam.width) == (h, wd), key
    for ep, raw in enumerate(raws):  # each episode's own frames (a v3 span of a shared mp4), decodable, at their size
        for key, cam in raw.cameras.items():
            got = dict(cam.frames([0, len(cam) - 1]))
            first, last = w.ends[key][ep]
            other = w.ends[key][1 - ep]
            assert sorted(got) == [0, len(cam) - 1] and got[0].shape == first.shape, key
            own = min(psnr(got[0], first), psnr(got[len(cam) - 1], last))
            # the codec's loss (mp4v at its default bitrate: ~24 dB) is far from another episode's frames (~10 dB)
            assert own > 20 and own > max(psnr(got[0], other[0]), psnr(got[len(cam) - 1], other[1])) + 6, (key, ep)


@pytest.mark.parametrize("name", NAMES)
def test_embodiment_is_recorded_and_never_a_wrong_guess(name: str, layouts: Layouts) -> None:
    _, _, raws = layouts.read(name)
    rule = CASES[name].record.embodiment
    for raw in raws:
        assert raw.embodiment in default_registry().names()
        assert raw.metadata.get("embodiment_from"), "how the embodiment was chosen is not recorded"
        if rule.accept is not None:
            assert raw.embodiment in rule.accept, f"{raw.embodiment!r} ({raw.metadata['embodiment_from']}): {rule.why}"
        if rule.reject is not None:
            assert raw.embodiment not in rule.reject, f"{raw.embodiment!r}: {rule.why}"


# ---------------------------------------------------------------------------------------------------------------
# Ingest: every column a native, every camera kept


def _resampled(s: Stream, t: np.ndarray, held: list[bool]) -> np.ndarray:
    """The natives' rule: linear for continuous columns, the last sample at or before for the discrete ones (the
    episode's `native_discrete`: integers, flags, a 0/1 gripper)."""
    v = s.values.reshape(len(s), -1).astype(np.float64)
    idx = np.clip(np.searchsorted(s.timestamps, t + 1e-6, side="right") - 1, 0, len(s) - 1)  # resample_hold: 1 us
    return np.stack([v[idx, d] if held[d] else np.interp(t, s.timestamps, v[:, d]) for d in range(v.shape[1])], 1)


def _natives(ep: CanonicalEpisode) -> tuple[np.ndarray, list[str]]:
    parts = [
        (a, n)
        for a, n in (
            (ep.natives.state, ep.natives.state_names),
            (ep.natives.action, ep.natives.action_names),
            (ep.natives.outcome, ep.natives.outcome_names),  # a step's `next.*` outcomes, beside the state
        )
        if a is not None
    ]
    if not parts:
        return np.zeros((ep.num_frames, 0), np.float32), []
    return np.concatenate([a for a, _ in parts], axis=1), [x for _, n in parts for x in n]


@pytest.mark.parametrize("name", NAMES)
def test_ingest_keeps_every_column_as_a_native_and_every_camera(name: str, layouts: Layouts) -> None:
    _, _, raws = layouts.read(name)
    numeric = _numeric(CASES[name])
    for raw in raws:
        episodes = prepared(raw)
        assert episodes, f"not written: {reasons_of(raw.verdicts)}"
        for ep in episodes:
            values, names = _natives(ep)
            grid = ep.span_s[0] + ep.timestamps
            streams = _streams(raw)
            for key, shape in numeric.items():
                # a `null` dimension (a width that varies per episode): this episode's width as written
                width = int(np.prod(shape)) if None not in shape else streams[key].values[0].size
                kept_dims = 0
                for part, dims in _parts(raw, key, width):
                    cols = [i for i, n in enumerate(names) if n.startswith(f"{part}.")]
                    assert len(cols) == len(dims), f"{part}: {len(cols)} of {len(dims)} dims as natives"
                    held = [names[i] in ep.natives.discrete for i in cols]
                    at = grid
                    if ep.row_clock is not None:  # a wall-clock recorder: every frame at the row at or before it
                        rows = streams[part].timestamps
                        at = rows[np.clip(np.searchsorted(rows, grid + 1e-6, side="right") - 1, 0, len(rows) - 1)]
                    np.testing.assert_allclose(
                        values[:, cols], _resampled(streams[part], at, held), rtol=1e-5, atol=1e-5, err_msg=part
                    )
                    kept_dims += len(dims)
                assert kept_dims == width, f"{key}: {kept_dims} of {width} dims as natives"
            kept = {id(c.source): slot for slot, c in ep.cameras.items()}
            for key, cam in raw.cameras.items():  # under its slot or its own name, never merged into another one
                assert id(cam) in kept, f"camera {key} not kept (cameras: {sorted(ep.cameras)})"
