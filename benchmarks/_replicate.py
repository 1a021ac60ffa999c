"""A corpus made N episodes large from a small real one: its datasets replicated, each copy a dataset of its own.

A copy of `datasets/<source>/<subset>/` is `datasets/<source>/<subset>_r<k>/`: every file but the meta is a hard link
(the episodes' parquet and mp4s, their latents), so the copy costs no bytes and holds the real recordings; the meta
files are rewritten where they name the dataset: each episode's lineage in `meta/episodes.jsonl` gets the copy's
subset, so its `episode_uid` and `raw_uid` (`source/subset/raw id`, `schemas.corpus.episode_uid`) are new and the
catalog the project builds (`eidata catalog`) sees distinct episodes. A whole dataset is copied, not episodes within
one: an episode's parquet holds its `episode_index`, so a copy inside a dataset could not be a link. The writer's own
state (`.eidata/`) is not copied: a copy is a finished dataset. The old catalog is left as it is: the benchmark's
`eidata catalog` rebuilds it.

    nice -n 10 .venv/bin/python -m benchmarks._replicate DIR/corpus 1000000   # then `eidata catalog DIR/corpus`

builds the command surface's million-episode corpus from its real one (issue 99 item 2): 7,463 rounds of the four
datasets, progress on stderr every 500 rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from adapters.lerobot_format.layout import find_datasets
from schemas.lerobot import EPISODES_PATH, INFO_PATH

MARK = "_r"  # a copy's subset: <subset>_r<k>, k zero-padded
COPY = re.compile(rf".+{MARK}\d{{5}}")
STATE = ".eidata"
PROGRESS = 500  # rounds between two progress lines


def originals(root: Path) -> list[Path]:
    """The datasets of `root` that are not copies."""
    return [d for d in find_datasets(root) if not COPY.fullmatch(d.name)]


def episodes_of(dataset: Path) -> int:
    return int(json.loads((dataset / INFO_PATH).read_text(encoding="utf-8"))["total_episodes"])


def _relabel(line: str, source: str, folder: str, k: int) -> str:
    """One `episodes.jsonl` line of the `k`th copy: its lineage's subset, uids and raw uid with the copy's mark. The
    subset is the lineage's own, not the folder's: a dataset ingest split by signature (`<subset>@<label>`,
    `ingest.lerobot.routing`) holds episodes of its subset, whose uids say `source/<subset>/` (issue 86: relabelled by
    the folder's name they were left as they were, and every copy collided with the original)."""
    obj = json.loads(line)
    lineage = obj.get("eidata")
    if isinstance(lineage, dict):
        subset = lineage.get("subset") if isinstance(lineage.get("subset"), str) else folder
        copy = f"{subset}{MARK}{k:05d}"
        for key in ("episode_uid", "raw_uid"):
            if isinstance(lineage.get(key), str):
                lineage[key] = lineage[key].replace(f"{source}/{subset}/", f"{source}/{copy}/", 1)
        lineage["subset"] = copy
    return json.dumps(obj, ensure_ascii=False)


def copy_dataset(dataset: Path, k: int) -> Path:
    """The `k`th copy of `dataset` beside it (links and rewritten meta, see the module); an existing one is kept."""
    source, subset = dataset.parent.name, dataset.name
    copy = f"{subset}{MARK}{k:05d}"
    out = dataset.parent / copy
    if out.exists():
        return out
    tmp = dataset.parent / f".{copy}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for path in dataset.rglob("*"):
        rel = path.relative_to(dataset)
        if rel.parts[0] == STATE or path.is_dir():
            continue
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.as_posix() == EPISODES_PATH:
            lines = path.read_text(encoding="utf-8").splitlines()
            target.write_text("".join(_relabel(s, source, subset, k) + "\n" for s in lines if s.strip()))
        elif rel.parts[0] == "meta":
            shutil.copyfile(path, target)
        else:
            os.link(path, target)
    os.replace(tmp, out)
    return out


def replicate(root: Path, episodes: int) -> int:
    """Copies of the original datasets, round by round, until `root` holds at least `episodes` (the copies of later
    rounds an earlier, larger call made are removed); the count reached."""
    base = originals(root)
    per_round = sum(episodes_of(d) for d in base)
    rounds = max(0, -(-episodes // per_round) - 1)  # the originals are the first round
    t0 = time.perf_counter()
    for k in range(1, rounds + 1):
        for d in base:
            copy_dataset(d, k)
        if k % PROGRESS == 0:
            print(f"[replicate] round {k:,} of {rounds:,}, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    for d in find_datasets(root):
        if COPY.fullmatch(d.name) and int(d.name.rsplit(MARK, 1)[1]) > rounds:
            shutil.rmtree(d)
    return per_round * (rounds + 1)


def main() -> None:
    p = argparse.ArgumentParser(description="replicate a corpus's datasets (hard links) until it holds N episodes")
    p.add_argument("root", type=Path, help="the corpus (its datasets/ folder is replicated in place)")
    p.add_argument("episodes", type=int)
    args = p.parse_args()
    t0 = time.perf_counter()
    n = replicate(args.root, args.episodes)
    print(f"{n} episodes in {args.root} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
