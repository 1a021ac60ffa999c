"""The one door to a video encoder: every mp4 this project encodes (the canonical writer, the synthetic sources) opens
its stream here, so that the same frames always give the same bytes.

libx264 does not on its own. x264 core 165 (PyAV 18.1's wheel) reads heap memory it never wrote in its macroblock-tree
rate control when it runs its AVX-512 code: one episode's frames encoded 12 times in one process gave 5 different
files, and under `MALLOC_PERTURB_` each fill byte gave its own file (measured on this machine's AVX-512 CPU; with
`x264-params asm=avx2`, or `mbtree=0`, every run and every fill gave the same bytes). Two runs of the same ingest, or
a local run and a bucket run, then wrote different mp4s of the same frames. `mbtree=0` turns that rate control off on
every CPU (capping the asm at AVX2 would crash a CPU without AVX2); SVT-AV1 and libx265 gave the same bytes under
every fill as they are. What it costs, encoding `benchmarks.footage.footage(224, 224, 300)` at veryfast crf 21 with
and without it: at g=2 (ingest's) 7,028 -> 6,814 bytes/frame and 29.54 -> 29.39 dB PSNR; at g=250 (the synthetic
sources' raw videos) 1,094 -> 1,423 bytes/frame."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av

# settings an encoder needs to write the same bytes for the same frames, appended to the caller's own (by encoder name)
DETERMINISTIC = {"libx264": ("x264-params", "mbtree=0")}


def encoder_stream(
    container: av.container.OutputContainer,
    codec: str,
    rate: int | float | Fraction | None = None,
    options: dict[str, str] | None = None,
) -> av.VideoStream:
    """`container.add_stream(codec, rate, options)` with `DETERMINISTIC`'s settings for the encoder it picked (`h264`
    picks libx264 in PyAV's build): an x264-params the caller gave keeps its keys, `mbtree=0` is added to them."""
    stream = container.add_stream(codec, rate=rate, options=dict(options or {}))
    ctx = stream.codec_context
    if (setting := DETERMINISTIC.get(ctx.codec.name)) is not None:
        key, value = setting
        given = ctx.options.get(key)
        ctx.options = {**ctx.options, key: f"{given}:{value}" if given else value}
    return stream
