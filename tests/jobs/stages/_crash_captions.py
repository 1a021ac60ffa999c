"""A caption run for `test_caption_store.py` to see killed: `python tests/jobs/stages/_crash_captions.py POINT ROOT`.

Writes `CAPTIONS` into ROOT through the caption store, SIGKILLed at POINT of the writer's journaled meta update
(`tests.ingest.lerobot._crash_writer.KILL_POINTS`) after printing KILLED-AT POINT.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jobs.stages.caption_store import NewCaption, apply_captions
from tests.ingest.lerobot._crash_writer import kill_at

CAPTIONS = [
    NewCaption(0, "pick up the cup from the table", "rule", "eidata-rules-1", "#C C picks up the cup from the table"),
    NewCaption(2, "put the lid on the jar", "vlm", "qwen", "put the lid on the jar"),
]

if __name__ == "__main__":
    kill_at(sys.argv[1])
    apply_captions(Path(sys.argv[2]), CAPTIONS)
    sys.exit(f"the captions were written; the process should have been killed at {sys.argv[1]}")
