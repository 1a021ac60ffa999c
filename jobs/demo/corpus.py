"""A small multi-source raw corpus in the sources' real on-disk formats, with one corrupt episode per source.

Used by `make demo` and the job tests: OXE RLDS (bridge), AgiBot World, Ego4D, EgoDex and a LeRobot v2.1 dataset,
written by `adapters/synthetic/`, plus the job spec that ingests them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from adapters.synthetic.agibot import EpisodeSpec, Fault, write_agibot
from adapters.synthetic.ego4d import write_ego4d
from adapters.synthetic.egodex import write_egodex
from adapters.synthetic.lerobot import inject_fault
from adapters.synthetic.rlds import write_rlds


def write_raw_corpus(raw: Path, *, scale: int = 1, corrupt: bool = True) -> dict[str, Path]:
    """Write every source under `raw/`; `scale` multiplies episodes. Returns source name -> adapter root."""
    from jobs.demo.robot import run_demo  # the canonical demo dataset doubles as a LeRobot source

    raw = Path(raw)
    roots: dict[str, Path] = {}
    write_rlds(raw / "bridge", "bridge", episodes=3 * scale, steps=20, vary_steps=True,
               corrupt_crc=("train", 1) if corrupt else None)  # fmt: skip
    roots["bridge"] = next((raw / "bridge").rglob("dataset_info.json")).parent
    specs = [EpisodeSpec(327, 700_000 + k, 60) for k in range(2 * scale)]
    if corrupt:
        specs.append(EpisodeSpec(327, 790_000, 60, fault=Fault.action_longer))
    write_agibot(raw / "agibot", specs)
    roots["agibot"] = raw / "agibot"
    write_ego4d(raw / "ego4d", num_videos=scale, duration_s=8.0, narrations_per_video=3,
                bad=("corrupt_video",) if corrupt else ())  # fmt: skip
    roots["ego4d"] = raw / "ego4d"
    write_egodex(raw / "egodex", episodes_per_task=scale, num_frames=60, old_episode=False,
                 bad=("missing_camera",) if corrupt else ())  # fmt: skip
    roots["egodex"] = raw / "egodex"
    lerobot_root = run_demo(raw / "lerobot_out", episodes=2 + scale, quiet=True).root
    if corrupt:
        inject_fault(lerobot_root, "unreadable_parquet", episode=1)
    roots["lerobot"] = lerobot_root.parent
    return roots


ADAPTERS = {"bridge": "oxe", "agibot": "agibot", "ego4d": "ego4d", "egodex": "egodex", "lerobot": "lerobot"}


def write_demo_spec(
    spec_path: Path, roots: dict[str, Path], output: Path, image: dict[str, Any] | None = None, **parallelism: int
) -> Path:
    """A job spec ingesting every source of `write_raw_corpus` into `output`; `image` is `canonicalize.image` (the
    stored camera size, e.g. {"size": "224x224", "fit": "pad"}; None: native)."""
    spec: dict[str, Any] = {
        "output": str(Path(output).resolve()),
        "sources": [
            {"name": name, "adapter": ADAPTERS[name], "root": str(Path(root).resolve())} for name, root in roots.items()
        ],
        "parallelism": {"max_in_flight": 4, **parallelism},
    }
    if image is not None:
        spec["canonicalize"] = {"image": image}
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_path
