"""The episodes of train's index as columns (issue 99: at 1M episodes a Python record per episode held 2.4 GiB while
the index was built): one array per field, the values many episodes share (their action, camera, latent frames,
text file, dataset layout) held once and indexed by code, and an episode's `EpisodeRecord` made when it is asked for
(`EpisodeTable[i]`: a sample being read, the statistics of one dataset). Its paths are made as the index found them
(`training.episodes`): the data file by the dataset's `info.json` template, the latents file by
`schemas.image_latents.latents_file`, both joined to the corpus root by `CorpusFiles.join`."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
import pyarrow as pa

from adapters.storage.corpus_files import CorpusFiles
from schemas.image_latents import latents_file
from schemas.lerobot import InfoJson
from schemas.tiers import QualityTier
from training.actions import EpisodeAction

TIER_CODES: list[QualityTier] = list(QualityTier)  # a tier column's codes


@dataclass(frozen=True, slots=True)
class EpisodeRecord:
    uid: str
    dataset_id: int
    episode_index: int
    tier: QualityTier  # the manifest's
    routed: QualityTier  # the tier whose routing row it draws from (`schemas.actions.routed_tier` of its kind)
    weight: float
    length: int
    action: EpisodeAction  # its kind, the space it trains in, its canonical mask and native widths
    data_path: Path | str  # a local path, or an object's URL (read through `SampleIndex.files`)
    latents_path: Path | str
    camera: str
    latent_frames: np.ndarray  # [N] int64 frame index of each stored latent
    text_path: Path | str | None


@dataclass(frozen=True)
class EpisodeTable(Sequence[EpisodeRecord]):
    """Episode i is row i of every column; a code column indexes its list of distinct values."""

    files: CorpusFiles
    datasets: list[str]  # dataset_id -> the dataset, relative to the corpus root
    layouts: list[InfoJson]  # dataset_id -> its info.json's path fields (`data_path`, `chunks_size`, ...)
    uid: pa.Array  # string
    dataset_id: np.ndarray  # int32
    episode_index: np.ndarray  # int64
    tier: np.ndarray  # int8 code into TIER_CODES: the manifest's
    routed: np.ndarray  # int8 code into TIER_CODES
    weight: np.ndarray  # float64
    length: np.ndarray  # int64
    action_id: np.ndarray  # int32 code into `actions`
    actions: list[EpisodeAction]
    camera_id: np.ndarray  # int8 code into `cameras`
    cameras: list[tuple[str, str]]  # (camera, its video key)
    frames_id: np.ndarray  # int32 code into `frames`
    frames: list[np.ndarray]  # read-only latent frame indices
    text_id: np.ndarray  # int32 code into `texts`, -1: no text file
    texts: list[Path | str]

    def __len__(self) -> int:
        return len(self.dataset_id)

    @overload
    def __getitem__(self, i: int) -> EpisodeRecord: ...
    @overload
    def __getitem__(self, i: slice) -> list[EpisodeRecord]: ...
    def __getitem__(self, i: int | slice) -> EpisodeRecord | list[EpisodeRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"episode {i} of {len(self)}")
        ds, index = int(self.dataset_id[i]), int(self.episode_index[i])
        rel, layout = self.datasets[ds], self.layouts[ds]
        camera, key = self.cameras[self.camera_id[i]]
        text = int(self.text_id[i])
        return EpisodeRecord(
            uid=self.uid[i].as_py(),
            dataset_id=ds,
            episode_index=index,
            tier=TIER_CODES[self.tier[i]],
            routed=TIER_CODES[self.routed[i]],
            weight=float(self.weight[i]),
            length=int(self.length[i]),
            action=self.actions[self.action_id[i]],
            data_path=self.files.join(rel, layout.data_file(index)),
            latents_path=self.files.join(rel, latents_file(layout, index, key)),
            camera=camera,
            latent_frames=self.frames[self.frames_id[i]],
            text_path=None if text < 0 else self.texts[text],
        )

    def __iter__(self) -> Iterator[EpisodeRecord]:
        return (self[i] for i in range(len(self)))

    def of_dataset(self, dataset_id: int) -> list[EpisodeRecord]:
        """The records of one dataset's episodes, in index order."""
        return [self[int(i)] for i in np.flatnonzero(self.dataset_id == dataset_id)]


def layout(info: InfoJson) -> InfoJson:
    """Of a dataset's info, what an episode's paths need (`InfoJson.data_file`, `latents_file`): kept per dataset
    with an indexed episode instead of its whole info (features and all)."""
    fields = ("data_path", "chunks_size", "total_episodes")
    return InfoJson.model_construct(**{k: getattr(info, k) for k in fields})


class Columns:
    """The columns of a table being built, one typed array each (no Python object per episode)."""

    def __init__(self) -> None:
        self.entry = array("q")  # the episode's row in the split's entries
        self.dataset_id, self.action_id, self.frames_id, self.text_id = array("i"), array("i"), array("i"), array("i")
        self.routed, self.camera_id = array("b"), array("b")
        self.shape = array("i")  # code of its (anchor, future) arrays (`training.episodes.build_index`)

    def __len__(self) -> int:
        return len(self.entry)

    def array(self, name: str) -> np.ndarray:
        return np.frombuffer(getattr(self, name), dtype=getattr(self, name).typecode).copy()
