"""Small egocentric video corpora as `adapters/egovideo` reads them: WebDataset shards laid out as Egocentric-10K's
dataset card shows them (`factory_XXX/workers/worker_YYY/factoryXXX_workerYYY_partNN.tar`), each sample an mp4 and a
json sidecar under one key, members in key order as webdataset's `TarWriter` writes them, plain ustar. The json
carries `duration_sec`, `fps`, `width`, `height` (field names are our assumption: no real sidecar was opened). Each
good sample has a `.txt` caption. Bad samples (`bad`): `corrupt_video`, in the last shard (the demo's); a json window,
a gzip shard, workers' `intrinsics.json` and the other bad samples are `tests/fixtures/writers/egovideo.py`'s. Frame `i`
of sample `k` is `synthetic_frame(h, w, i, seed=k)`, so tests can compare pixels.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from adapters.synthetic.video import write_synthetic_mp4

BAD_CASES = ("corrupt_video",)
CAPTIONS = ("Putting a cup onto the shelf", "sorting screws into a tray", "folding a cloth", "tightening a bolt")


@dataclass
class EgoClip:
    key: str
    raw_id: str
    seed: int
    frames: int
    fps: int
    file: Path  # the shard or the video file
    caption: str | None = None
    window: tuple[float, float] | None = None
    bad: str | None = None

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


@dataclass
class EgoFixture:
    root: Path
    clips: list[EgoClip] = field(default_factory=list)
    height: int = 48
    width: int = 64

    @property
    def good(self) -> list[EgoClip]:
        return [c for c in self.clips if c.bad is None]


def mp4_bytes(frames: int, fps: int, height: int, width: int, seed: int) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:  # the writer may use a temp file; readers never do
        path = Path(tmp) / "clip.mp4"
        write_synthetic_mp4(path, frames, fps, height, width, seed, gop=10, bframes=2)
        return path.read_bytes()


def add_member(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 1_700_000_000, 0o444, "bigdata", "bigdata"
    tf.addfile(info, io.BytesIO(data))


def write_ego_shards(
    root: Path,
    *,
    workers: int = 2,
    clips_per_shard: int = 2,
    seconds: float = 2.0,
    fps: int = 30,
    height: int = 48,
    width: int = 64,
    bad: tuple[str, ...] = (),
) -> EgoFixture:
    unknown = set(bad) - set(BAD_CASES)
    if unknown:
        raise ValueError(f"unknown bad case(s) {sorted(unknown)}; known: {BAD_CASES}")
    root = Path(root)
    fixture = EgoFixture(root, height=height, width=width)
    frames = round(seconds * fps)
    shards = [(1, w) for w in range(1, workers + 1)]
    seed = 0
    for n, (f, w) in enumerate(shards):
        last = n == len(shards) - 1
        folder = root / f"factory_{f:03d}" / "workers" / f"worker_{w:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        shard = folder / f"factory{f:03d}_worker{w:03d}_part00.tar"
        stem = shard.relative_to(root).as_posix().removesuffix(".tar")
        cases: list[str | None] = [None] * clips_per_shard + (list(bad) if last else [])
        with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tf:
            for k, case in enumerate(cases):
                key = f"factory{f:03d}_worker{w:03d}_{k:05d}"
                clip = EgoClip(key, f"{stem}/{key}", seed, frames, fps, shard, bad=case)
                seed += 1
                meta = {
                    "factory_id": f"factory_{f:03d}",
                    "worker_id": f"worker_{w:03d}",
                    "video_index": k,
                    "duration_sec": clip.duration_s,
                    "fps": fps,
                    "width": width,
                    "height": height,
                    "codec": "h264",
                }
                data = b"\x00\x00\x00\x18ftypmp42" + bytes(3000) if case == "corrupt_video" else None
                add_member(tf, f"{key}.mp4", data or mp4_bytes(frames, fps, height, width, clip.seed))
                add_member(tf, f"{key}.json", json.dumps(meta).encode())
                if case is None:
                    clip.caption = CAPTIONS[clip.seed % len(CAPTIONS)]
                    add_member(tf, f"{key}.txt", clip.caption.encode() + b"\n")
                fixture.clips.append(clip)
    return fixture
