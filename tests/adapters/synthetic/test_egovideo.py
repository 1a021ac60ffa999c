"""The egocentric-video shard writer (`adapters/synthetic/egovideo.py`) read the way webdataset reads a shard
(webdataset `tariterators.py`: `base_plus_ext` splits a member name at the first dot of its base name, `group_by_keys`
makes one sample of each run of members with the same key): shards where Egocentric-10K's dataset card puts them, plain
ustar, one sample per key with its mp4, json sidecar and caption, the mp4 holding `duration_sec * fps` frames; each bad
case is what it says (no mp4, a sidecar that is not JSON, a key's json twice in a row, a shard that is not a tar)."""

from __future__ import annotations

import io
import itertools
import json
import re
import tarfile
from pathlib import Path

import av
import pytest

from adapters.synthetic.egovideo import EgoFixture
from tests.fixtures.writers.egovideo import write_ego_variants

KEY = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # webdataset base_plus_ext


def _samples(shard: Path) -> list[tuple[str, list[str], dict[str, bytes]]]:
    """(key, extensions in order, member bytes) per run of members with one key."""
    head = shard.read_bytes()[:512]
    assert head[257:265] == b"ustar\x0000"  # a POSIX ustar header, no pax or GNU extension
    with tarfile.open(shard) as tf:
        members = [(KEY.match(m.name).groups(), tf.extractfile(m).read()) for m in tf.getmembers()]
    out = []
    for key, group in itertools.groupby(members, key=lambda m: m[0][0]):
        group = list(group)
        out.append((key, [g[0][1] for g in group], {g[0][1]: g[1] for g in group}))
    return out


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> EgoFixture:
    bad = ("no_video", "bad_json", "duplicate_member", "corrupt_shard")
    return write_ego_variants(tmp_path_factory.mktemp("ego"), workers=2, clips_per_shard=2, seconds=1.0, bad=bad)


def test_shards_where_the_dataset_card_puts_them(fixture: EgoFixture) -> None:
    shards = sorted({c.file.relative_to(fixture.root).as_posix() for c in fixture.good})
    assert shards == [f"factory_001/workers/worker_00{w}/factory001_worker00{w}_part00.tar" for w in (1, 2)]


def test_one_sample_per_key_with_its_video_sidecar_and_caption(fixture: EgoFixture) -> None:
    shard = fixture.good[0].file
    samples = _samples(shard)
    good = [c for c in fixture.good if c.file == shard]
    assert [s[0] for s in samples] == [c.key for c in good]  # members in key order, one run per key
    for (_, exts, data), clip in zip(samples, good, strict=True):
        assert exts == ["mp4", "json", "txt"]
        meta = json.loads(data["json"])
        assert meta["fps"] == clip.fps and meta["duration_sec"] == pytest.approx(clip.frames / clip.fps)
        assert data["txt"].decode().strip() == clip.caption
        with av.open(io.BytesIO(data["mp4"])) as c:
            assert sum(1 for _ in c.decode(video=0)) == clip.frames == round(meta["duration_sec"] * meta["fps"])


def test_each_bad_case_is_what_it_says(fixture: EgoFixture) -> None:
    bad = {c.bad: c for c in fixture.clips if c.bad}
    samples = {key: (exts, data) for key, exts, data in _samples(bad["no_video"].file)}
    assert samples[bad["no_video"].key][0] == ["json"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(samples[bad["bad_json"].key][1]["json"])
    assert samples[bad["duplicate_member"].key][0] == ["mp4", "json", "json"]  # webdataset refuses such a sample
    with pytest.raises(tarfile.ReadError), tarfile.open(bad["corrupt_shard"].file):
        pass
