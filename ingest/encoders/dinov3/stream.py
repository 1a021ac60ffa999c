"""uint8 frames -> DINOv3 latents on the device, in fixed batches, with the host copies cut to what must move.

The frames arrive as uint8 [n, 3, S, S] per episode (resized by the decode tasks): half the bytes of bf16 pixel
values, a quarter of fp32. `PixelEncoder` normalizes them on the device, runs the model and casts to the stored dtype;
compiled (static shapes: the last batch is padded) the normalization and the cast fuse into the graph.
`FrameEncoder.encode` walks the frames of a call's episodes in order without concatenating them: each batch is
gathered once into a staging buffer (the only host copy of the input; pinned on CUDA); on CUDA two staging and two
device buffers alternate and a second stream carries the copies, so batch k+1's transfer runs while the model runs on
batch k; the outputs go device -> host once, non-blocking, at their final rows, each batch yielding a `ready` callable
the writer threads call before they read those rows.

On CPU the same loop runs with plain buffers, no streams and no pinning, and gives the same numbers as normalizing on
the host: the normalization is the processor's float32 expression (the tests' `preprocess`) on the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ingest.encoders.dinov3.frames import PreprocessConfig
from ingest.encoders.dinov3.model import EncoderSpec, load_encoder, model_config, num_prefix_tokens
from ingest.files.latents import TORCH_DTYPES

Ready = Callable[[], None]


class PixelEncoder(nn.Module):
    """uint8 frames [B, 3, S, S] -> (patches [B, P, D], CLS + registers [B, 1 + R, D]) in `out_dtype`."""

    def __init__(self, model: nn.Module, cfg: PreprocessConfig, out_dtype: torch.dtype) -> None:
        super().__init__()
        self.model = model
        self.prefix = num_prefix_tokens(model)
        self.rescale = cfg.rescale_factor
        self.register_buffer("mean", torch.tensor(cfg.image_mean, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor(cfg.image_std, dtype=torch.float32).view(-1, 1, 1))
        self.out_dtype = out_dtype

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (frames.float() * self.rescale - self.mean) / self.std  # the processor's expression (dinov3.frames)
        hidden = self.model(pixel_values=x).last_hidden_state.to(self.out_dtype)
        return hidden[:, self.prefix :].contiguous(), hidden[:, : self.prefix].contiguous()


class FrameEncoder:
    """One model on `spec.device` and its buffers; `encode` fills `outputs(total)` with a call's latents."""

    def __init__(self, spec: EncoderSpec, cfg: PreprocessConfig, model: nn.Module | None = None) -> None:
        self.spec, self.cfg = spec, cfg
        self.device = torch.device(spec.device)
        self.cuda = self.device.type == "cuda"
        model = model if model is not None else load_encoder(spec)
        mc = model_config(model)
        self.prefix = num_prefix_tokens(model)
        self.grid = (cfg.size // mc.patch_size) ** 2
        self.width = int(mc.hidden_size)
        self.out_dtype = TORCH_DTYPES[spec.stored_dtype]
        self.net: nn.Module = PixelEncoder(model, cfg, self.out_dtype).to(self.device).eval()
        self.compiled = spec.compiled
        if self.compiled:  # one static shape: every batch, the last one padded, has `batch_size` frames
            self.net = torch.compile(self.net, dynamic=False)
        shape = (spec.batch_size, 3, cfg.size, cfg.size)
        slots = 2 if self.cuda else 1  # double buffers where the copies run beside the model
        self.host_in = [torch.empty(shape, dtype=torch.uint8, pin_memory=self.cuda) for _ in range(slots)]
        self._patches = torch.empty((0, self.grid, self.width), dtype=self.out_dtype)
        self._cls = torch.empty((0, self.prefix, self.width), dtype=self.out_dtype)
        if self.cuda:
            self.dev_in = [torch.empty(shape, dtype=torch.uint8, device=self.device) for _ in range(2)]
            self.copy_stream = torch.cuda.Stream(self.device)
            self.h2d_done = [torch.cuda.Event() for _ in range(2)]
            self.compute_done = [torch.cuda.Event() for _ in range(2)]

    def outputs(self, total: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The output rows [0, total): patches [total, P, D] and CLS + registers [total, 1 + R, D], on the host
        (pinned on CUDA). Reused by the next call, so a caller must be done with them (files written) by then."""
        if self._patches.shape[0] < total:
            rows = max(total, self._patches.shape[0] * 5 // 4)  # some headroom: pinned allocations are slow
            self._patches = torch.empty((rows, self.grid, self.width), dtype=self.out_dtype, pin_memory=self.cuda)
            self._cls = torch.empty((rows, self.prefix, self.width), dtype=self.out_dtype, pin_memory=self.cuda)
        return self._patches[:total], self._cls[:total]

    def encode(self, episodes: Sequence[np.ndarray]) -> Iterator[tuple[int, Ready]]:
        """Encode the frames of `episodes` (uint8 [n_i, 3, S, S] each), in order, into `outputs(sum n_i)`; yields
        (rows done, ready) per batch: rows before `rows done` hold their latents once `ready()` returns."""
        total = sum(int(e.shape[0]) for e in episodes)
        patches, cls = self.outputs(total)
        source = _Gather(episodes)
        pending: tuple[int, int, torch.Tensor, torch.Tensor, int] | None = None
        for k, start in enumerate(range(0, total, self.spec.batch_size)):
            n = min(self.spec.batch_size, total - start)
            slot = k % len(self.host_in)
            host = self.host_in[slot]
            if not self.cuda:
                source.into(host, n)
                p, c = self._forward(host, n)
                patches[start : start + n].copy_(p[:n])
                cls[start : start + n].copy_(c[:n])
                yield start + n, lambda: None  # rows computed on the host are ready when yielded
                continue
            self.h2d_done[slot].synchronize()  # the staging buffer's previous transfer has finished
            source.into(host, n)
            with torch.cuda.stream(self.copy_stream):
                self.copy_stream.wait_event(self.compute_done[slot])  # the model of batch k-2 has read `dev`
                self.dev_in[slot].copy_(host, non_blocking=True)
                self.h2d_done[slot].record(self.copy_stream)
            if pending is not None:  # batch k-1's results follow batch k's input on the copy stream
                yield self._to_host(pending, patches, cls)
            torch.cuda.current_stream(self.device).wait_event(self.h2d_done[slot])
            p, c = self._forward(self.dev_in[slot], n)
            self.compute_done[slot].record()
            pending = (start, n, p, c, slot)
        if pending is not None:
            yield self._to_host(pending, patches, cls)

    def _forward(self, frames: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = frames if self.compiled else frames[:n]
        amp = self.spec.amp_dtype
        autocast = torch.autocast(self.device.type, dtype=amp or torch.float32, enabled=amp is not None)
        with torch.inference_mode(), autocast:
            return self.net(x)

    def _to_host(
        self, pending: tuple[int, int, torch.Tensor, torch.Tensor, int], patches: torch.Tensor, cls: torch.Tensor
    ) -> tuple[int, Ready]:
        start, n, p, c, slot = pending
        with torch.cuda.stream(self.copy_stream):
            self.copy_stream.wait_event(self.compute_done[slot])
            p.record_stream(self.copy_stream)  # made on the compute stream, read on this one
            c.record_stream(self.copy_stream)
            patches[start : start + n].copy_(p[:n], non_blocking=True)
            cls[start : start + n].copy_(c[:n], non_blocking=True)
            done = torch.cuda.Event()
            done.record(self.copy_stream)
        return start + n, done.synchronize


class _Gather:
    """Copies consecutive frames of a list of episode arrays into a batch buffer, across episode boundaries."""

    def __init__(self, episodes: Sequence[np.ndarray]) -> None:
        self.episodes, self.i, self.row = episodes, 0, 0

    def into(self, buf: torch.Tensor, n: int) -> None:
        out = buf.numpy()  # a view: numpy copies from read-only object-store arrays without a torch warning
        filled = 0
        while filled < n:
            ep = self.episodes[self.i]
            take = min(n - filled, int(ep.shape[0]) - self.row)
            out[filled : filled + take] = ep[self.row : self.row + take]
            filled += take
            self.row += take
            if self.row == ep.shape[0]:
                self.i, self.row = self.i + 1, 0
