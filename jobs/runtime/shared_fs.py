"""Every node of the Ray cluster must see the job's output folder: the shared-filesystem check run at job start.

Workers on any node write into the output and the driver commits what they wrote, so a node that mounts another disk
at that path (or none) would lose its work silently. The driver writes a token under the output; one task pinned to
each alive node (`NodeAffinitySchedulingStrategy`, not soft) reads it and writes its answer beside it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.corpus import JOB_DIR

PROBE_TIMEOUT_S = 120.0  # a node's probe that has not run by then counts as failed (its node is gone or stuck)


class SharedFsError(RuntimeError):
    """A node of the cluster does not see the output folder the driver writes."""


@dataclass(frozen=True)
class NodeView:
    node_id: str
    address: str  # the node's IP as Ray knows it
    seen: bool
    detail: str


def probe_node(probe_dir: str, token: str, node_id: str) -> dict[str, Any]:
    """Runs on one node: read the driver's token, write this node's answer beside it."""
    path = Path(probe_dir)

    def answer(detail: str = "") -> dict[str, Any]:
        return {"seen": not detail, "detail": detail, "host": socket.gethostname()}

    try:
        found = (path / "token").read_text()
    except OSError as e:
        return answer(f"cannot read {path / 'token'} ({type(e).__name__}: {e.strerror or e})")
    if found != token:
        return answer(f"{path / 'token'} holds another job's token")
    try:
        (path / f"answer-{node_id}").write_text(token)
    except OSError as e:
        return answer(f"cannot write in {path} ({type(e).__name__}: {e.strerror or e})")
    return answer()


def check_shared_output(output: Path, *, timeout_s: float = PROBE_TIMEOUT_S) -> list[NodeView]:
    """Probe every alive node of the connected Ray cluster; raise `SharedFsError` naming each node that does not see
    `output`. A cluster of one node on the driver's own machine is trivially shared and is not probed."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    here = ray.get_runtime_context().get_node_id()
    if len(nodes) == 1 and nodes[0]["NodeID"] == here:
        return [NodeView(here, nodes[0].get("NodeManagerAddress", ""), True, "the driver's own node")]
    probe_dir = Path(output).resolve() / JOB_DIR / f"fs-probe-{os.getpid()}-{secrets.token_hex(4)}"
    probe_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    (probe_dir / "token").write_text(token)
    try:
        task = ray.remote(num_cpus=0, max_retries=0)(probe_node)
        refs = {
            n["NodeID"]: task.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(probe_dir), token, n["NodeID"])
            for n in nodes
        }
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_s)
        views = []
        for n in nodes:
            node_id, addr, ref = n["NodeID"], n.get("NodeManagerAddress", "?"), refs[n["NodeID"]]
            if ref not in ready:
                views.append(NodeView(node_id, addr, False, f"its probe did not run within {timeout_s:.0f} s"))
                continue
            try:
                ans = ray.get(ref)
            except Exception as e:  # the node died under the probe
                views.append(NodeView(node_id, addr, False, f"its probe failed ({type(e).__name__})"))
                continue
            answer = probe_dir / f"answer-{node_id}"
            if ans["seen"] and not (answer.exists() and answer.read_text() == token):
                ans = {"seen": False, "detail": f"it wrote {answer}, but the driver does not see that file"}
            views.append(NodeView(node_id, addr, bool(ans["seen"]), ans["detail"]))
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    blind = [v for v in views if not v.seen]
    if blind:
        lines = "\n".join(f"  node {v.node_id} at {v.address}: {v.detail}" for v in blind)
        raise SharedFsError(
            f"{len(blind)} of {len(views)} Ray nodes do not see the output folder {Path(output).resolve()}:\n{lines}\n"
            "Every node must mount the same shared filesystem at the same path (see docker/README.md)."
        )
    return views
