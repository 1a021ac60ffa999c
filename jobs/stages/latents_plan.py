"""What `eidata latents` plans from (issue 99): each dataset's episodes with their lengths, and the latents files it
holds with their metadata, from the catalog's columns (`num_frames`, `latents_keys`, `latents_files`, read in one
pass: `adapters.storage.plan_lines`) instead of each dataset's `episodes.jsonl` (~7 KB a G1 episode) and every
latents file's header (`Corpus.committed`): at a million episodes those made the plan linear in files opened.

The catalog is used for a dataset only where it describes it as it is: a corpus folder (a bucket's plan reads its
commit records, as before), no step that writes the catalog left unfinished (`jobs.runtime.intent`: an `eidata
latents` stopped before its catalog refresh wrote files the catalog does not name), and the dataset's census mark as
recorded (`jobs.catalog.census`, checked from the info.json the plan reads anyway). Elsewhere, and for an episode
whose files the catalog does not know (`latents_keys` null: a catalog of before, a file the rebuild could not read),
the meta and the files are read as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus import Corpus
from jobs.catalog.census import Mark, read_census
from jobs.runtime.intent import markers
from schemas.episode_lines import PlanLines
from schemas.image_latents import from_catalog
from schemas.lerobot import EPISODES_PATH, InfoJson
from schemas.storage import CatalogError
from training.episode_latents import Listing


class PlannedLatents:
    """The catalog's lines of the datasets it describes (`lines`), read once for a plan of `datasets`."""

    def __init__(self, corpus: Corpus, datasets: list[Path]) -> None:
        self.corpus = corpus
        self.recorded: dict[str, Mark] = {}
        if corpus.storage.local and not markers(corpus.root):
            try:
                self.recorded = read_census(corpus.root) or {}
            except CatalogError:  # unreadable: every dataset's meta read
                self.recorded = {}
        names = [n for ds in datasets if (n := self._name(ds)) in self.recorded]
        self.lines: dict[str, PlanLines] = corpus.plan_lines(dict.fromkeys(names)) if names else {}

    def _name(self, ds: Path) -> str:
        return ds.relative_to(self.corpus.root).as_posix()

    def episodes(self, ds: Path, info: InfoJson) -> tuple[dict[int, int], PlanLines | None]:
        """(episode_index -> length, in the order of `episodes.jsonl`; the catalog's lines where it describes the
        dataset `ds`, whose `info` the caller read, else None and the lengths from its `episodes.jsonl`)."""
        name = self._name(ds)
        lines = self.lines.get(name)
        if lines is not None:
            try:
                if self.recorded[name].differs(Mark.of(self.corpus.storage, name, info)):
                    lines = None
            except (OSError, ValueError):
                lines = None
        if lines is None:
            return {int(line["episode_index"]): int(line["length"]) for _, line in read_jsonl(ds / EPISODES_PATH)}, None
        # in episode order, as a LeRobot writer appends episodes.jsonl (the catalog's rows are sorted otherwise)
        return {index: lines.length(index) for index in sorted(lines)}, lines

    def committed(
        self, ds: Path, names: Mapping[tuple[int, str], str], lines: PlanLines | None
    ) -> dict[str, dict[str, str]]:
        """`Corpus.committed` of the files `names` ((episode, video key) -> file): from the catalog's `latents_files`
        where it knows an episode's files (`lines`) and they are as it read them (`Listing`), else from the files."""
        if lines is None:
            return self.corpus.committed(ds, names.values())
        done: dict[str, dict[str, str]] = {}
        unknown = []  # files the catalog does not know: their headers read
        listing = Listing(lines.written_ns)  # a file there and unchanged since the catalog was written
        for (index, key), name in names.items():
            known = lines.latents.get(index)
            state = Listing.CHANGED if known is None else listing.state(ds / name)
            if state == Listing.CATALOGED and known is not None and key in known:
                done[name] = from_catalog(known[key], key, index)[0]
            elif state != Listing.ABSENT:  # written since the catalog, or a file it does not know: its header read
                unknown.append(name)
        if unknown:
            done.update(self.corpus.committed(ds, unknown))
        return done
