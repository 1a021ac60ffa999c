"""The shared-filesystem probe: a node reads the driver's token and writes its answer beside it, or says what it
could not read; on a one-node cluster the driver's own node is trivially shared. (Nodes that do not share the
folder, on a real multi-node cluster: tests/jobs/cluster/test_shared_fs.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.runtime.shared_fs import check_shared_output, probe_node


def test_a_node_that_sees_the_token_answers_beside_it(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc123")
    ans = probe_node(str(tmp_path), "abc123", "node-1")
    assert ans["seen"] and ans["detail"] == "" and ans["host"]
    assert (tmp_path / "answer-node-1").read_text() == "abc123"


def test_a_node_that_does_not_see_it_says_what_it_could_not_read(tmp_path: Path) -> None:
    ans = probe_node(str(tmp_path / "elsewhere"), "abc123", "node-2")
    assert not ans["seen"] and ans["detail"].startswith(f"cannot read {tmp_path / 'elsewhere' / 'token'}")
    (tmp_path / "token").write_text("another job")
    ans = probe_node(str(tmp_path), "abc123", "node-2")
    assert not ans["seen"] and "holds another job's token" in ans["detail"]
    assert not (tmp_path / "answer-node-2").exists()


@pytest.mark.shared_ray
def test_one_node_on_the_drivers_machine_is_not_probed(tmp_path: Path) -> None:
    (view,) = check_shared_output(tmp_path)
    assert view.seen and view.detail == "the driver's own node"
    assert not (tmp_path / "job").exists()  # nothing written for a probe
