"""A job for the publish crash tests: writes a small canonical corpus (one dataset, `LENGTHS` episodes) through the
local writer, either to a local folder (`--local`, the reference) or to a bucket output through the publisher
(`adapters.storage.publish`) under the output's lease, and SIGKILLs itself at the point `--kill` names.

Kill points (episode k, 0-based): `lease` (lease taken, nothing else), `stage:k` (episode k half staged),
`local:k` (committed in the scratch folder, nothing published), `object:k` (its parquet put at its final key, not
its videos), `record:k` (its commit record put, the local files not yet dropped), `meta` (the job's last meta
rewrite: one file put), `hold` (take the lease, print "held" and sleep: the refusal test)."""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from adapters.storage import multipart, objects
from adapters.storage import root as root_module
from adapters.storage.lease import Lease
from adapters.storage.publish import DatasetPublisher
from adapters.storage.root import Root
from ingest.lerobot.writer import LeRobotWriter
from tests.fixtures.episodes import canonical_frames, canonical_test_features

LENGTHS = [12, 15, 9, 14]
TASKS = ["pick the cube", "open the drawer", "pick the cube", "wipe the table"]
DATASET = "datasets/demo/default"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def write_episodes(w: LeRobotWriter, kill: tuple[str, int]) -> None:
    for ep in range(w.num_episodes, len(LENGTHS)):
        with w.episode(task=TASKS[ep]) as b:
            for i, frame in enumerate(canonical_frames(LENGTHS[ep], seed=ep)):
                b.add_frame(frame)
                if kill == ("stage", ep) and i == LENGTHS[ep] // 2:
                    die()


def open_writer(root: Path) -> LeRobotWriter:
    return LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features(), robot_type="franka")


def arm(kill: tuple[str, int]) -> None:
    """Patch the one call after which this run dies."""
    point, at = kill
    if point == "local":
        real_publish = DatasetPublisher._publish

        def publish_or_die(self: DatasetPublisher, journal: dict) -> object:
            if journal["episode_indices"][0] == at:
                die()
            return real_publish(self, journal)

        DatasetPublisher._publish = publish_or_die  # type: ignore[method-assign]
    if point == "object":
        die_after(multipart, "put_if_absent", lambda key: key.endswith(f"episode_{at:06d}.parquet"))
    if point == "record":
        die_after(root_module, "put_if_absent", lambda key: key.endswith(f"/commits/{at + 1:012d}.json"))


def die_after(module: object, name: str, when: Callable[[str], bool]) -> None:
    """Replace `module.name` (a put taking (fs, key, data)) by the put followed by a SIGKILL where `when(key)`."""
    real = getattr(module, name)

    def put_then_die(fs: object, key: str, data: bytes) -> object:
        out = real(fs, key, data)
        if when(key):
            die()
        return out

    setattr(module, name, put_then_die)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("output", help="a local folder with --local, else an s3:// output")
    ap.add_argument("--scratch", type=Path)
    ap.add_argument("--local", action="store_true")
    ap.add_argument("--kill", default="")
    ap.add_argument("--ttl", type=float, default=2.0)
    ap.add_argument("--wait", type=float, default=0.0)
    a = ap.parse_args()
    point, _, at = a.kill.partition(":")
    kill = (point, int(at) if at else -1)
    if a.local:
        with open_writer(Path(a.output) / DATASET) as w:
            write_episodes(w, kill)
        return
    root = Root(a.output)  # credentials and endpoint from the AWS_* environment
    with Lease(root, job="publish-test", ttl_s=a.ttl).acquire(wait_s=a.wait):
        if point == "lease":
            die()
        if point == "hold":
            print("held", flush=True)
            time.sleep(60)
        pub = DatasetPublisher(Root(root.url(DATASET)), a.scratch)
        pub.recover()
        pub.hydrate()
        arm(kill)
        with open_writer(a.scratch) as w:
            w.on_commit = pub.on_commit
            write_episodes(w, kill)
        if point == "meta":
            die_after(objects, "put", lambda key: True)  # the first meta file `finish` rewrites
        pub.finish()


if __name__ == "__main__":
    main()
