"""The NVDEC decode comparison: the CPU route decodes every frame of an AV1 file (one stream and several in
parallel); a GPU route decodes the same frames or records why it cannot, and never falls back to the CPU."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch

from benchmarks._nvdec import ROUTES, bench_nvdec


def _av1_clip(path: Path, frames: int) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libsvtav1", rate=10, options={"g": "2", "crf": "30", "preset": "12"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), 8 * i, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_every_route_decodes_every_frame_or_says_why_not(tmp_path: Path) -> None:
    result = bench_nvdec(_av1_clip(tmp_path / "clip.mp4", 13), streams=2)
    assert result["nvdec_cpu_frames"] == 13 and result["nvdec_cpu_frames_s_parallel"] > 0
    for route in ROUTES:
        if f"nvdec_{route}_error" not in result:
            assert result[f"nvdec_{route}_frames"] == 13
    if not torch.cuda.is_available():  # a GPU route must never fall back to the CPU decoder and report its rate
        assert all(f"nvdec_{r}_error" in result for r in ROUTES if r != "cpu"), result
