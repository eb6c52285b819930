"""A real Ray cluster for tests, started the way Ray's documentation says: `ray start --head`,
then more nodes with `ray start --address`. Everything (the nodes and the driver) runs inside
one network namespace with only loopback up (`unshare -n`, entered with `nsenter`), so
nothing but 127.0.0.1 is ever used and the ports cannot clash with anything outside. Each
node is its own process group (`ray start --block`), so a test can stop one node, as if its
machine died, and tear down exactly what it started."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).parent / "ray"
HEAD_PORT = 6390
STARTED = "Ray runtime started"
# a dead node is noticed within ~3 s (Ray's default is ~15-30 s)
FAST_HEALTH_CHECKS = {"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "1000",
                      "RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "3"}


def can_isolate() -> str | None:
    """Why this machine cannot run the cluster tests (no unshare/nsenter/ip, not allowed), or None."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux, iproute2)"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"unshare -n is not allowed here: {probe.stderr.strip()}"


def clean_environment(home: Path, **extra: str) -> dict[str, str]:
    """This environment without any RAY_ setting (a test's cluster is configured only as the
    documentation says), with HOME (where Ray finds ~/.ray/auth_token) and this checkout first
    on the path (the nodes' workers import acting_mirror from it)."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    environ.update(HOME=str(home), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")])),
                   TF_CPP_MIN_LOG_LEVEL="3")
    environ.pop("DISPLAY", None)
    environ.update(extra)
    return environ


@dataclass
class Node:
    """One `ray start --block` process group; `tmp`: its TMPDIR (where its workers' temporary files go)."""

    process: subprocess.Popen
    log: Path
    tmp: Path


class Cluster:
    """A namespace with only loopback, and the nodes started in it."""

    def __init__(self, folder: Path, home: Path):
        self.folder, self.home = folder, home
        self.folder.mkdir(parents=True, exist_ok=True)
        # Ray's sockets live in its temp dir: a short path (AF_UNIX paths are at most 107 bytes)
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ray-test-"))
        self.nodes: list[Node] = []
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
        self._wait_for_namespace()
        self.run(["ip", "link", "set", "lo", "up"], check=True)
        # Ray finds its node's address by routing towards 8.8.8.8: a default route into loopback gives it
        # 127.0.0.1 at once (else it warns on every start); whatever goes out on it ends there
        self.run(["ip", "route", "add", "default", "dev", "lo", "src", "127.0.0.1"], check=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{HEAD_PORT}"

    def _wait_for_namespace(self) -> None:
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{self.holder.pid}/ns/net") == own:  # unshare has not switched yet
            if time.monotonic() > deadline:
                raise RuntimeError("unshare -n did not make a network namespace")
            time.sleep(0.02)

    def command(self, args: Sequence[str]) -> list[str]:
        """`args` run inside the namespace."""
        return ["nsenter", "-t", str(self.holder.pid), "-n", *args]

    def run(self, args: Sequence[str], *, env: dict | None = None, cwd: Path | None = None, check: bool = False,
            timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(args), env=env, cwd=cwd, capture_output=True, text=True, check=check,
                              timeout=timeout)

    def environment(self, **extra: str) -> dict[str, str]:
        return clean_environment(self.home, **extra)

    def start_head(self, cpus: int = 1, ray: Path = RAY, **extra: str) -> Node:
        """The head, started by `ray` (another Ray installation's command makes a cluster of that version)."""
        return self._start(["--head", f"--port={HEAD_PORT}", f"--temp-dir={self.temp_dir}",
                            "--include-dashboard=false"], cpus, "head", {**FAST_HEALTH_CHECKS, **extra}, ray)

    def add_node(self, cpus: int = 1, **extra: str) -> Node:
        return self._start([f"--address={self.address}"], cpus, f"node{len(self.nodes)}", extra)

    def _start(self, options: list[str], cpus: int, name: str, extra: dict[str, str], ray: Path = RAY) -> Node:
        log, tmp = self.folder / f"{name}.log", self.folder / f"{name}-tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as handle:
            process = subprocess.Popen(self.command([str(ray), "start", *options, f"--num-cpus={cpus}",
                                                     "--disable-usage-stats", "--block"]),
                                       stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
                                       env=self.environment(TMPDIR=str(tmp), **extra))
        node = Node(process, log, tmp)
        self.nodes.append(node)
        deadline = time.monotonic() + 120
        while STARTED not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start ({name}) failed:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        return node

    def kill(self, node: Node) -> None:
        """The node's processes (raylet, workers, agents) killed at once, as if its machine died: its
        group, and whatever left the group but carries its TMPDIR (a worker may run in a session of
        its own, and would otherwise finish its task after its node is gone)."""
        marker = f"TMPDIR={node.tmp}".encode()
        for pid in self.processes():
            with contextlib.suppress(OSError):
                if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=30)

    def processes(self) -> list[int]:
        """The processes in the namespace, but its holder."""
        namespace = os.readlink(f"/proc/{self.holder.pid}/ns/net")
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.holder.pid:
                with contextlib.suppress(OSError):
                    if os.readlink(entry / "ns" / "net") == namespace:
                        found.append(int(entry.name))
        return found

    def close(self) -> None:
        """Everything this cluster started, killed at once (a graceful `ray stop` takes ~30 s and
        would stop every Ray on the machine); its temp dir goes with it."""
        for node in self.nodes:
            if node.process.poll() is None:
                self.kill(node)
        for pid in self.processes():  # anything that left its group: only this cluster's lives in the namespace
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.holder.kill()
        self.holder.wait()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@contextlib.contextmanager
def cluster(folder: Path, home: Path) -> Iterator[Cluster]:
    running = Cluster(folder, home)
    try:
        yield running
    finally:
        running.close()
