"""Where a sample of an episode may anchor (its latent frames, `training.episodes`): the anchors and their future
latents by the chunk and the future offset (`anchors`), and whether that future must sit exactly at the chunk's end
(`exact_future`)."""

from __future__ import annotations

import numpy as np

from training.config import DataConfig, ModelConfig


def anchors(
    frames: np.ndarray, length: int, chunk: int, future_offset: int, *, to_end: bool = False, exact: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor, future) latent indices. An anchor t = frames[anchor] with t + chunk <= length and a latent frame at
    t + future_offset (`exact`) or at or after it has that frame as its future; with `to_end` every t < length is also
    an anchor, with future -1 where it has none (it can only train tasks without the future latent)."""
    target = frames + future_offset
    fut = np.searchsorted(frames, target, side="left")
    found = fut < len(frames)
    if exact:
        found &= frames[np.minimum(fut, len(frames) - 1)] == target
    has_future = (frames + chunk <= length) & found
    idx = np.flatnonzero((frames < length) if to_end else has_future)
    return idx, np.where(has_future[idx], fut[idx], -1)


def exact_future(model: ModelConfig, data: DataConfig) -> bool:
    """Whether the future latent must sit exactly `future_offset` frames after the anchor: yes when it is the frame
    the action chunk ends on (future_offset == chunk, the default 16).

    Chunks end on latent frames (audit S13), as in LDA: its forward dynamics is p(o_{t+1:t+k} | o_t, a_{t+1:t+k})
    (seed 001, section 4: the future observation is where the given chunk ends), and its action head encodes the
    future image from frames the loader decodes at run time (`encode_future_img` in
    lda/model/modules/action_model/MMDiT_ActionHeader.py, read in the Coldilger/LDA-1B fork of jiangranlv/LDA-1B),
    picked by one run-wide integer `future_obs_index` (16 in the post-training scripts of the forks we read; its unit
    in LDA's loader is not verified here): one gap for every sample. Latents are stored at a lower rate; at 3 Hz (the
    nearest frames of the 10 Hz stream: strides 3, 4, 3), where "the first latent at or after t + 16" is 16 to 19
    frames on, a gap the model is not told and the chunk does not cover. So a future-latent sample anchors only where
    a latent frame sits exactly at t + 16: the gap is constant and needs no model input. The cost: at 3 Hz one anchor
    in three has such a frame (the default 2.5 Hz and 5 Hz, whose strides divide 16, keep them all); policy-only anchors
    are unaffected. Another offset (LAM pretraining pairs, `--lam-stride`, LARA's stride) keeps the first latent at or
    after it: a pair has no action chunk whose end it must match."""
    return data.future_offset == model.chunk
