"""AV1 decode on the GPU's NVDEC engines through PyAV, beside the CPU decoder on the same file: can decode feed
10,000 latents/s (issue 29, step 2: "decode feeding the GPU")?

PyAV 18.1's wheel ships FFmpeg with the CUDA hwdevice, the native `av1` decoder's NVDEC hwaccel and `av1_cuvid`
(`av.codecs_available`, `av.codec.hwaccel.hwdevices_available()`). The default AV1 decoder, libdav1d, has no hardware
config, so `av.open(..., hwaccel=...)` alone decodes nothing on the GPU: each route here builds its decoder itself.

- `hwaccel`: FFmpeg's native `av1` decoder with a CUDA device (NVDEC), frames downloaded to host memory.
- `cuvid`: the `av1_cuvid` wrapper of NVIDIA's video codec SDK, NV12 frames in host memory.
- `cpu`: the default decoder with frame threads, as `ingest.lerobot.video_read.decode_frames` runs it.

Every route decodes every frame of the file (a keyframe every 2 frames: the latent rate's frames need most of them)
and converts each to an RGB ndarray, as the decode tasks do. One stream, then `streams` in parallel threads (an H100
has 7 NVDEC engines; PyAV decodes without the GIL). A route that cannot run (no driver, no libnvcuvid in the
container) records the error instead of a rate.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROUTES = ("hwaccel", "cuvid", "cpu")


def _frames(video: Path, route: str) -> int:
    """Decode every frame of `video` by `route` into RGB host arrays; the count."""
    import av
    from av.codec.hwaccel import HWAccel

    n = 0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if route == "cpu":
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
                n += 1
            return n
        if route == "hwaccel":
            ctx = av.CodecContext.create("av1", "r", hwaccel=HWAccel("cuda", allow_software_fallback=False))
        else:
            ctx = av.CodecContext.create("av1_cuvid", "r")
        ctx.extradata = stream.codec_context.extradata
        for packet in [*container.demux(stream), None]:
            if packet is not None and not packet.size:
                continue  # the demuxer's end-of-stream packet: flushed by the None after it
            for frame in ctx.decode(packet):
                frame.to_ndarray(format="rgb24")
                n += 1
    return n


def _rate(video: Path, route: str, streams: int) -> dict[str, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    one = _frames(video, route)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"frames_s": one / wall, "cpu_s_per_kframe": cpu / one * 1e3, "frames": float(one)}
    if streams > 1:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            total = sum(pool.map(lambda _: _frames(video, route), range(streams)))
        out["frames_s_parallel"] = total / (time.perf_counter() - t0)
    return out


def bench_nvdec(video: Path, streams: int) -> dict[str, Any]:
    """`nvdec_<route>_*` figures per route, or `nvdec_<route>_error`; `nvdec_streams` parallel streams."""
    out: dict[str, Any] = {"nvdec_streams": streams}
    for route in ROUTES:
        try:
            rates = _rate(video, route, streams)
        except Exception as e:  # recorded: a route that cannot run here is the finding
            out[f"nvdec_{route}_error"] = f"{type(e).__name__}: {e}"
            continue
        out |= {f"nvdec_{route}_{k}": v for k, v in rates.items()}
    return out
