"""Every Zarr chunk eidata reads is decompressed into at most the bytes its array declares (issue 58).

zarr-python hands a chunk's stored bytes to its compressor with no output limit: numcodecs' GZip reads the whole
stream (`GzipFile.read()`), Zstd streams a frame of unknown size to its end, Blosc and LZ4 allocate the size their
header states; a 3 MB chunk of an array declaring (50, 5) float32 took 3 GiB (reliability-6 N1-N3), and only the
task's memory limit stopped it. Here zarr's own batched pipeline with its decompressors replaced (`BoundedPipeline`,
set by `use_bounded_pipeline`, which `open_store` calls) decodes every chunk, Zarr v2 and v3, folders and zips alike,
through `decode`, given the chunk's declared size (chunk shape x itemsize, plus the bytes a checksum codec adds):

- a stream (gzip, zlib, zstd, bz2, lzma) is inflated incrementally (`bounds.inflate`) and stopped one byte past it;
- Blosc's and numcodecs LZ4's headers state the decoded size: held against the declared size before decoding, and
  the decoder writes no more than its header (c-blosc's `destsize`, `LZ4_decompress_safe`'s bound);
- any other compressor (an image codec under a Diffusion Policy buffer) decodes, then its output is held against it.

An output past the declared size is `TooLarge` naming the chunk's key, the codec and both sizes, never kept as its
first bytes; a stream the decoder rejects is a ValueError naming the chunk too. Where nothing fixes the decoded size
(object or variable-length data, v2 filters that change it, a compressor inside another), the reading budget
the setting `max_read_bytes` is the bound.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import zarr
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec, Codec
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, ZstdCodec
from zarr.codecs._v2 import V2Codec
from zarr.core.codec_pipeline import BatchedCodecPipeline

from adapters.hostile import bounds

__all__ = ["BoundedPipeline", "decode", "use_bounded_pipeline"]

_STREAMS = ("gzip", "zlib", "zstd", "bz2", "lzma")  # numcodecs ids decoded by `bounds.inflate`


class _ChunkError(ValueError):
    """A chunk's decode refused; the pipeline names the chunk (`named`)."""

    def __init__(self, codec: str, got: int | None, bound: int, why: str, seen: str = "reached") -> None:
        self.codec, self.got, self.bound, self.why, self.seen = codec, got, bound, why, seen
        super().__init__(why if got is None else f"{codec}: {got:,} bytes {seen}, more than {why} ({bound:,})")

    def named(self, key: str) -> ValueError:
        what = f"chunk {key} ({self.codec})"
        if self.got is None:
            return ValueError(f"{what}: {self.why}; not read")
        return bounds.TooLarge(f"{what} decoded size in bytes", self.got, self.bound, self.why, seen=self.seen)


def decode(codec_id: str, codec: Any, data: Any, bound: int | None) -> bytes | np.ndarray:
    """`data` (a chunk's stored bytes) decoded by the numcodecs `codec` (id `codec_id`) into at most `bound` bytes
    (None: the reading budget); `_ChunkError` past it, before the output is inflated where the codec allows."""
    budget = bounds.limit("READ_BYTES")
    cap, why = (budget, bounds.BUDGET) if bound is None else (min(bound, budget), "the chunk's declared size")
    raw = memoryview(np.ascontiguousarray(data)).cast("B")
    if codec_id in _STREAMS:
        try:
            out = bounds.inflate(raw.tobytes(), codec_id, "chunk", declared=cap)
        except bounds.TooLarge as e:
            raise _ChunkError(codec_id, int(e.declared), cap, why) from None
        except MemoryError:  # the task's memory limit: named as such by the caller
            raise
        except Exception as e:  # zlib.error, bz2's OSError, LZMAError, ZstdError, EOFError: each its own class
            raise _ChunkError(codec_id, None, cap, f"not a valid {codec_id} stream ({e})") from None
        if len(out) > cap:
            raise _ChunkError(codec_id, len(out), cap, why)
        return out
    header = _header_size(codec_id, raw)
    if header is not None and header > cap:
        raise _ChunkError(codec_id, header, cap, why, "stated by its header")
    out = codec.decode(raw)
    size = out.nbytes if isinstance(out, np.ndarray) else len(memoryview(out).cast("B"))
    if size > cap:
        raise _ChunkError(codec_id, size, cap, why, "decoded")
    return out


def _header_size(codec_id: str, raw: memoryview) -> int | None:
    """The decoded size a Blosc (bytes 4..8 of its 16-byte header) or numcodecs LZ4 (its first 4 bytes) chunk
    states, little-endian, as their decoders read it; None for another codec or a chunk too short to hold it."""
    if codec_id == "blosc" and len(raw) >= 16:
        return int(struct.unpack_from("<I", raw, 4)[0])
    if codec_id == "lz4" and len(raw) >= 4:
        return int(struct.unpack_from("<I", raw, 0)[0])
    return None


def _fixed_nbytes(spec: Any) -> int | None:
    """chunk shape x itemsize of `spec` (an ArraySpec), None where items have no fixed size."""
    dtype = np.dtype(spec.dtype.to_native_dtype())
    if dtype.hasobject or dtype.itemsize == 0:
        return None
    return math.prod(spec.shape) * dtype.itemsize


def _as_buffer(out: bytes | np.ndarray, spec: Any) -> Any:
    flat = out if isinstance(out, bytes) else memoryview(np.ascontiguousarray(out)).cast("B")
    return spec.prototype.buffer.from_bytes(flat)


@dataclass(frozen=True)
class _BoundedV2(V2Codec):
    """Zarr v2's codec, its compressor decoded through `decode`, then its filters and layout as zarr does."""

    async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        if self.compressor is None:
            return await super()._decode_single(chunk_bytes, chunk_spec)
        bound = None if self.filters else _fixed_nbytes(chunk_spec)  # filters may change the size (AsType)
        cid = str(self.compressor.codec_id)
        out = await asyncio.to_thread(decode, cid, self.compressor, chunk_bytes.as_array_like(), bound)
        rest = V2Codec(filters=self.filters, compressor=None)
        return await rest._decode_single(_as_buffer(out, chunk_spec), chunk_spec)


@dataclass(frozen=True)
class _BoundedBytes(BytesBytesCodec):
    """A v3 bytes-to-bytes codec (`inner`) decoded through `decode`; `before`: the bytes-to-bytes codecs applied
    before it when encoding (their fixed overhead adds to the bound), `raw`: the array-to-bytes codec is `bytes`."""

    inner: BytesBytesCodec
    before: tuple[BytesBytesCodec, ...]
    raw: bool

    is_fixed_size = False

    def resolve_metadata(self, chunk_spec: Any) -> Any:
        return self.inner.resolve_metadata(chunk_spec)

    def validate(self, **kwargs: Any) -> None:
        self.inner.validate(**kwargs)

    def evolve_from_array_spec(self, array_spec: Any) -> _BoundedBytes:
        return replace(self, inner=self.inner.evolve_from_array_spec(array_spec))

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: Any) -> int:
        return self.inner.compute_encoded_size(input_byte_length, chunk_spec)

    async def _encode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        return await self.inner._encode_single(chunk_bytes, chunk_spec)

    def _bound(self, spec: Any) -> int | None:
        n = _fixed_nbytes(spec) if self.raw else None
        for c in self.before:
            if n is None or not c.is_fixed_size:
                return None
            n = c.compute_encoded_size(n, spec)
        return n

    async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        cid = _v3_id(self.inner)
        if cid is None:  # a checksum or a codec of no compression eidata knows: as zarr decodes it
            return await self.inner._decode_single(chunk_bytes, chunk_spec)
        bound = self._bound(chunk_spec)
        if cid in _STREAMS:
            out = await asyncio.to_thread(decode, cid, None, chunk_bytes.as_array_like(), bound)
            return _as_buffer(out, chunk_spec)
        header = _header_size(cid, memoryview(chunk_bytes.as_array_like()).cast("B"))
        cap = bounds.limit("READ_BYTES") if bound is None else min(bound, bounds.limit("READ_BYTES"))
        if header is not None and header > cap:
            raise _ChunkError(cid, header, cap, "the chunk's declared size", "stated by its header")
        out = await self.inner._decode_single(chunk_bytes, chunk_spec)
        if len(out) > cap:
            raise _ChunkError(cid, len(out), cap, "the chunk's declared size", "decoded")
        return out


def _v3_id(codec: BytesBytesCodec) -> str | None:
    """The numcodecs id of a v3 compressor (zarr's gzip / zstd / blosc, a `numcodecs.*` one), None otherwise."""
    if isinstance(codec, GzipCodec | ZstdCodec | BloscCodec):
        return {GzipCodec: "gzip", ZstdCodec: "zstd", BloscCodec: "blosc"}[type(codec)]
    inner = getattr(codec, "_codec", None) if str(getattr(codec, "codec_name", "")).startswith("numcodecs.") else None
    cid = getattr(inner, "codec_id", None)
    return cid if cid in (*_STREAMS, "blosc", "lz4") else None


class BoundedPipeline(BatchedCodecPipeline):
    """zarr's batched pipeline with every chunk decompression bounded (see the module's doc)."""

    @classmethod
    def from_codecs(cls, codecs: Iterable[Codec], *, batch_size: int | None = None) -> BoundedPipeline:
        codecs = [c.inner if isinstance(c, _BoundedBytes) else c for c in codecs]
        ab = next((c for c in codecs if isinstance(c, ArrayBytesCodec)), None)
        out: list[Codec] = []
        bb: list[BytesBytesCodec] = []
        for c in codecs:
            if isinstance(c, V2Codec) and not isinstance(c, _BoundedV2):
                c = _BoundedV2(filters=c.filters, compressor=c.compressor)
            elif isinstance(c, BytesBytesCodec):
                c, bb = _BoundedBytes(c, tuple(bb), isinstance(ab, BytesCodec)), [*bb, c]
            out.append(c)
        return super().from_codecs(out, batch_size=batch_size)

    async def read_batch(self, batch_info: Iterable[Any], out: Any, drop_axes: tuple[int, ...] = ()) -> None:
        items = list(batch_info)
        try:
            await super().read_batch(items, out, drop_axes)
        except _ChunkError as e:
            if len(items) == 1:
                raise _named(e, items[0]) from None
            for item in items:  # which chunk: each alone (a refused decode stops a byte past its bound)
                try:
                    await super().read_batch([item], out, drop_axes)
                except _ChunkError as one:
                    raise _named(one, item) from None
            raise


def _named(e: _ChunkError, item: tuple[Any, ...]) -> Exception:
    """`e` naming the chunk `item` reads (its key); a shard's inner chunk has none: the shard names it."""
    key = getattr(item[0], "path", None)
    return e if key is None else e.named(key)


def use_bounded_pipeline() -> None:
    """Make `BoundedPipeline` the pipeline zarr gives every array it opens in this process (idempotent)."""
    path = f"{BoundedPipeline.__module__}.{BoundedPipeline.__qualname__}"
    if zarr.config.get("codec_pipeline.path") != path:
        zarr.registry.register_pipeline(BoundedPipeline)
        zarr.config.set({"codec_pipeline.path": path})
