"""Small egocentric video corpora as `adapters/egovideo` reads them: WebDataset shards laid out as Egocentric-10K's
dataset card shows them (`factory_XXX/workers/worker_YYY/factoryXXX_workerYYY_partNN.tar`), each sample an mp4 and a
json sidecar under one key, members in key order as webdataset's `TarWriter` writes them, plain ustar. The json
carries `duration_sec`, `fps`, `width`, `height` (field names are our assumption: no real sidecar was opened). Each
good sample has a `.txt` caption. Optional: a json window (`start_sec`/`end_sec`), a gzip shard. Bad samples (`bad`,
`BAD_CASES`), each in the last shard: `no_video` (json only), `corrupt_video`, `bad_json`, `duplicate_member` (the same
key's json twice in a row), `bad_window` (past the video's end); `corrupt_shard` adds a `.tar` that is not a tar.
`intrinsics` puts a worker's `intrinsics.json` (bytes, as given) in its folder, keyed by the folder name
(`worker_001`). Frame `i` of sample `k` is `synthetic_frame(h, w, i, seed=k)`, so tests can compare pixels.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from adapters.synthetic.video import write_synthetic_mp4

BAD_CASES = ("no_video", "corrupt_video", "bad_json", "duplicate_member", "bad_window", "corrupt_shard")
# the example `intrinsics.json` of the Egocentric-100K dataset card (huggingface.co/datasets/builddotai/Egocentric-100K,
# "Camera Intrinsics"): OpenCV fisheye, k1..k4, pixels of the 456x256 video
BUILDAI_INTRINSICS = {
    "model": "fisheye",
    "image_width": 456,
    "image_height": 256,
    "fx": 137.98,
    "fy": 138.23,
    "cx": 232.17,
    "cy": 125.37,
    "k1": 0.3948,
    "k2": 0.1798,
    "k3": -0.2753,
    "k4": 0.0793,
}
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


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
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
    window_clip: bool = False,
    gzip_last: bool = False,
    bad: tuple[str, ...] = (),
    intrinsics: dict[str, bytes] | None = None,
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
        if folder.name in (intrinsics or {}):
            (folder / "intrinsics.json").write_bytes((intrinsics or {})[folder.name])
        suffix = ".tar.gz" if gzip_last and last else ".tar"
        shard = folder / f"factory{f:03d}_worker{w:03d}_part00{suffix}"
        stem = shard.relative_to(root).as_posix().removesuffix(suffix)
        cases: list[str | None] = [None] * clips_per_shard + ([c for c in bad if c != "corrupt_shard"] if last else [])
        with tarfile.open(shard, "w:gz" if suffix == ".tar.gz" else "w", format=tarfile.USTAR_FORMAT) as tf:
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
                if window_clip and n == 0 and k == 0:
                    clip.window = (0.5, 1.5)
                    meta |= {"start_sec": 0.5, "end_sec": 1.5}
                if case == "bad_window":
                    meta |= {"start_sec": 1.0, "end_sec": clip.duration_s + 5.0}
                if case != "no_video":
                    data = b"\x00\x00\x00\x18ftypmp42" + bytes(3000) if case == "corrupt_video" else None
                    _add(tf, f"{key}.mp4", data or mp4_bytes(frames, fps, height, width, clip.seed))
                _add(tf, f"{key}.json", b"{not json" if case == "bad_json" else json.dumps(meta).encode())
                if case == "duplicate_member":
                    _add(tf, f"{key}.json", json.dumps(meta).encode())
                if case is None:
                    clip.caption = CAPTIONS[clip.seed % len(CAPTIONS)]
                    _add(tf, f"{key}.txt", clip.caption.encode() + b"\n")
                fixture.clips.append(clip)
    if "corrupt_shard" in bad:
        path = root / "factory_999" / "workers" / "worker_001" / "factory999_worker001_part00.tar"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"this is not a tar archive" * 40)
        fixture.clips.append(
            EgoClip("", path.relative_to(root).as_posix().removesuffix(".tar"), -1, 0, fps, path, bad="corrupt_shard")
        )
    return fixture
