"""A job for the multipart crash tests: publishes `EPISODES` episodes, each a small parquet and a video of several
5 MiB parts, through `DatasetPublisher` (parts above 5 MiB) under the output's lease, and SIGKILLs itself at the point
`--kill` names. The episode files are deterministic bytes (the publisher treats them as opaque: what is tested is
how they reach the bucket), committed with the journal the writer's `on_commit` hands over (moves, appended meta
text, the next info, the episodes).

Kill points (episode e, 0-based): `part:e:n` (part n of episode e's video uploaded, the upload not completed),
`complete:e` (the video's upload completed at its final key, no record yet)."""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
from pathlib import Path
from typing import Any

from adapters.storage import multipart
from adapters.storage.lease import Lease
from adapters.storage.multipart import PartPlan
from adapters.storage.publish import DatasetPublisher, record_group
from adapters.storage.root import Root

DATASET = "datasets/big/default"
EPISODES = 2
PART = 5 << 20  # S3's smallest part
PLAN = PartPlan(threshold=PART, part_size=PART)
VIDEO_BYTES = [2 * PART + 12_345, 2 * PART + 777]  # three parts each, the last short


def rels(ep: int) -> list[str]:
    return [
        f"data/chunk-000/episode_{ep:06d}.parquet",
        f"videos/chunk-000/observation.images.ego/episode_{ep:06d}.mp4",
    ]


def payload(ep: int, rel: str) -> bytes:
    size = VIDEO_BYTES[ep] if rel.endswith(".mp4") else 4_000 + ep
    return random.Random(f"{ep}/{rel}").randbytes(size)


def write_episode(scratch: Path, ep: int) -> dict[str, Any]:
    """The episode's files in the scratch folder and its commit journal, as the writer hands it to `on_commit`."""
    for rel in rels(ep):
        (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
        (scratch / rel).write_bytes(payload(ep, rel))
    line = json.dumps({"episode_index": ep, "tasks": ["carry the box"], "length": 100 + ep}) + "\n"
    return {
        "moves": [(str(scratch / rel), rel) for rel in rels(ep)],
        "appends": {"meta/episodes.jsonl": {"text": line}},
        "info": {"codebase_version": "v2.1", "total_episodes": ep + 1},
        "episodes": [{"episode_index": ep}],
    }


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(kill: str) -> None:
    """Patch the one call after which this run dies."""
    point, _, where = kill.partition(":")
    if point == "part":
        ep, n = (int(x) for x in where.split(":"))
        real_part = multipart._send_part

        def part_then_die(fs, bucket, name, upload, number, body):  # type: ignore[no-untyped-def]
            out = real_part(fs, bucket, name, upload, number, body)
            if name.endswith(f"episode_{ep:06d}.mp4") and number == n:
                die()
            return out

        multipart._send_part = part_then_die  # type: ignore[assignment]
    if point == "complete":
        real_complete = multipart._complete

        def complete_then_die(fs, bucket, name, upload, parts):  # type: ignore[no-untyped-def]
            out = real_complete(fs, bucket, name, upload, parts)
            if name.endswith(f"episode_{int(where):06d}.mp4"):
                die()
            return out

        multipart._complete = complete_then_die  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("output", help="an s3:// output")
    ap.add_argument("--scratch", type=Path, required=True)
    ap.add_argument("--kill", default="")
    ap.add_argument("--ttl", type=float, default=2.0)
    ap.add_argument("--wait", type=float, default=0.0)
    a = ap.parse_args()
    root = Root(a.output)  # credentials and endpoint from the AWS_* environment
    with Lease(root, job="multipart-test", ttl_s=a.ttl).acquire(wait_s=a.wait):
        pub = DatasetPublisher(Root(root.url(DATASET)), a.scratch, parts=PLAN)
        pub.recover()
        pub.hydrate()
        arm(a.kill)
        done = {r.group for r in pub.log.records()}
        for ep in range(EPISODES):
            journal = write_episode(a.scratch, ep)
            if record_group(journal) not in done:
                pub.on_commit(journal)
        pub.finish()


if __name__ == "__main__":
    main()
