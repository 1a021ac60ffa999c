"""The shared-filesystem check at job start, on a real node that does not see the output folder: a `ray start` worker
node in its own mount namespace (`unshare -m`) with an empty tmpfs mounted over the folder that holds the output,
as a machine without the shared mount would have. The job must stop before any work, naming that node."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.jobs.cluster.conftest import ENV, REPO, start_cluster
from tests.jobs.demo_reference import demo_spec
from tests.needs import tool_missing
from tests.processes import start, stop_group

RAY = Path(sys.executable).parent / "ray"


def _can_unshare_mounts(tmp: Path) -> bool:
    probe = tmp / "unshare-probe"
    probe.mkdir()
    cmd = ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none {probe}"]
    return shutil.which("unshare") is not None and subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def _blind_node(hidden: Path, address: str) -> subprocess.Popen[bytes]:
    """A worker node (1 CPU) whose processes see an empty `hidden`."""
    ray = f"{RAY} start --address={address} --num-cpus=1 --object-store-memory={80 * 1024**2} --block"
    cmd = ["unshare", "-m", "sh", "-c", f"mount --make-rprivate / && mount -t tmpfs none {hidden} && exec {ray}"]
    return start(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_node_that_does_not_see_the_output_stops_the_job(raw: dict[str, Path], tmp_path: Path) -> None:
    if not _can_unshare_mounts(tmp_path):
        tool_missing("unshare -m with tmpfs mounts (root or CAP_SYS_ADMIN)", "run the tests as root in the container")
    cluster, _ = start_cluster(workers=0)
    node = None
    try:
        spec_path = demo_spec(tmp_path, raw)
        node = _blind_node(tmp_path, cluster.address)
        head = cluster.head_node.node_id
        deadline = time.monotonic() + 120
        while not (
            blind := [n["NodeID"] for n in cluster.global_state.node_table() if n["Alive"] and n["NodeID"] != head]
        ):
            assert node.poll() is None and time.monotonic() < deadline, "the blind node did not join"
            time.sleep(0.2)
        cmd = [sys.executable, "-m", "jobs.cli", "ingest", str(spec_path), "--address", cluster.address]
        res = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300, check=False)
        assert res.returncode == 1, res.stderr[-3000:]
        assert "1 of 2 Ray nodes do not see the output folder" in res.stderr, res.stderr[-3000:]
        assert f"node {blind[0]}" in res.stderr and "cannot read" in res.stderr
        assert f"node {head}" not in res.stderr  # the head sees it
        assert not (tmp_path / "corpus" / "datasets").exists()  # stopped before any work
    finally:
        if node is not None:
            stop_group(node, grace_s=30)
        cluster.shutdown()
