"""A LeRobot v3.0 manifest export to a bucket `--out` for the kill test (tests/s3/test_export_v3.py), with 1 kB file
limits (every episode opens new files), that SIGKILLs itself at the point `--kill` names: `N` (right after its N-th
object put) or `info` (right after `meta/info.json` is put, before the completion record). The credential and
endpoint come from the AWS_* environment."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import jobs.export.lerobot_v3.write as w
from adapters.storage.object_store import ObjectStore
from jobs.export.lerobot_v3.job import export_corpus
from schemas.settings import current, use


def arm(kill: str) -> None:
    """Patch `ObjectStore.put_file` to die after the put `kill` names."""
    real = ObjectStore.put_file
    count = {"n": 0}

    def put_then_die(self: ObjectStore, tree: str, local: Path, *, drop: bool = True) -> None:
        real(self, tree, local, drop=drop)
        count["n"] += 1
        if (kill == "info" and Path(local).name == "info.json") or str(count["n"]) == kill:
            os.kill(os.getpid(), signal.SIGKILL)

    ObjectStore.put_file = put_then_die  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("manifest")
    ap.add_argument("--kill", required=True)
    ap.add_argument("--scratch", type=Path, required=True)
    a = ap.parse_args()
    use(current().model_copy(update={"scratch": str(a.scratch)}))
    w.MB = 1024  # limits of 1 "MB" of 1 kB
    arm(a.kill)
    export_corpus(a.corpus, a.out, manifest=a.manifest, data_mb=1, video_mb=1)


if __name__ == "__main__":
    main()
