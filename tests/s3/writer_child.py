"""A writer process for the crash tests: commits `n` groups of deterministic objects to an output through the commit
protocol, derives `meta/` from the records after each commit, and SIGKILLs itself at the point `--kill` names.

Kill points (group g, 0-based): `lease` (right after taking the lease), `staged:g` (one of two objects staged),
`recorded:g` (record written, nothing applied), `applied:g` (first object copied to its final key),
`meta:g` (group applied, meta not yet rewritten), `hold` (take the lease and sleep: the refusal test)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import time

from adapters.storage import commit_log
from adapters.storage import root as root_module
from adapters.storage.commit_log import CommitLog
from adapters.storage.lease import Lease
from adapters.storage.objects import put
from adapters.storage.root import Root


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def payload(group: int, name: str, size: int) -> bytes:
    seed = hashlib.sha256(f"{group}/{name}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def objects_of(g: int) -> dict[str, bytes]:
    return {
        f"data/chunk-000/episode_{g:06d}.parquet": payload(g, "parquet", 30_000 + 97 * g),
        f"videos/chunk-000/observation.images.top/episode_{g:06d}.mp4": payload(g, "mp4", 120_000 + 13 * g),
    }


def write_meta(log: CommitLog) -> None:
    """Derived, rewritable objects: a pure function of the committed records, so a rerun rewrites the same bytes."""
    records = log.records()
    lines = [json.dumps({"episode_index": r.seq - 1, "group": r.group, **r.meta}, sort_keys=True) for r in records]
    put(log.root.fs, log.final_key("meta/episodes.jsonl"), ("\n".join(lines) + "\n").encode() if lines else b"")
    info = {"total_episodes": len(records), "total_objects": sum(len(r.objects) for r in records)}
    put(log.root.fs, log.final_key("meta/info.json"), json.dumps(info, indent=2).encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--kill", default="")
    ap.add_argument("--ttl", type=float, default=2.0)
    ap.add_argument("--wait", type=float, default=0.0)
    a = ap.parse_args()
    point, _, at = a.kill.partition(":")
    at_group = int(at) if at else -1
    root = Root(a.output)  # credentials and endpoint from the AWS_* environment
    with Lease(root, job="crash-test", ttl_s=a.ttl).acquire(wait_s=a.wait) as _lease:
        if point == "lease":
            die()
        if point == "hold":
            print("held", flush=True)
            time.sleep(60)
        log = CommitLog(root)
        log.recover()
        write_meta(log)  # roll forward a commit whose meta a kill cut off
        done = {r.group for r in log.records()}
        for g in range(a.groups):
            if f"episode-{g}" in done:
                continue
            staged = {}
            for i, (rel, data) in enumerate(objects_of(g).items()):
                staged[rel] = log.stage(rel, data)
                if point == "staged" and at_group == g and i == 0:
                    die()
            if point == "recorded" and at_group == g:
                commit_log.CommitLog.apply = lambda self, record: die()  # type: ignore[method-assign]
            if point == "applied" and at_group == g:
                real_copy = root_module.copy

                def copy_then_die(fs_, src, dst, real_copy=real_copy):
                    real_copy(fs_, src, dst)
                    die()

                root_module.copy = copy_then_die
            log.commit(f"episode-{g}", staged, meta={"length": 10 + g})
            if point == "meta" and at_group == g:
                die()
            write_meta(log)


if __name__ == "__main__":
    main()
