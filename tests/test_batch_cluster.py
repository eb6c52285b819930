"""`acting-mirror batch --engine ray` against a real Ray cluster started with `ray start` (a head
and a second node, inside a network namespace with only loopback: tests/ray_cluster.py):
with and without token authentication, a node lost mid-batch, and the join errors."""

from __future__ import annotations

import csv
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SCENE, SIZE, run_cli
from ray_cluster import can_isolate, cluster

from acting_mirror import demo
from acting_mirror.batch.engines.ray import TAKE_PREFIX

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(can_isolate() is not None, reason=f"no network namespace: {can_isolate()}")]

SCENARIOS = ("one", "leave", "two", "one")
# the `ray` command of another Ray version (.ci/run installs Ray 2.59.0 there): a cluster the driver cannot join
OTHER_RAY = Path(os.environ.get("ACTING_MIRROR_OTHER_RAY", "/opt/ray-other/bin/ray"))


def read_index(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["take"]: row for row in csv.DictReader(handle)}


def batch_command(takes: Path, out: Path, address: str) -> list[str]:
    return [sys.executable, "-m", "acting_mirror", "batch", str(takes), "--script", str(SCENE), "--out", str(out),
            "--engine", "ray", "--ray-address", address]


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def takes(tmp_path_factory) -> Path:
    # 3 s each at 6 FPS, different scores
    folder = tmp_path_factory.mktemp("takes")
    for number, scenario in enumerate(SCENARIOS, start=1):
        demo.write_clip(folder / f"take{number}.avi", scenario, 18, 6.0, SIZE)
    return folder


@pytest.fixture(scope="module")
def local_index(takes, tmp_path_factory) -> dict[str, dict[str, str]]:
    work = tmp_path_factory.mktemp("local")
    result = run_cli("batch", str(takes), "--script", str(SCENE), "--out", "out", "--workers", "2", cwd=work)
    assert result.returncode == 0, result.stderr
    return read_index(work / "out" / "index.csv")


def test_token_cluster_of_two_nodes_loses_one_mid_batch_and_every_take_is_analysed(takes, local_index, tmp_path):
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(secrets.token_hex(16) + "\n")  # `ray start` turns token auth on
    out = tmp_path / "out"
    with cluster(tmp_path / "cluster", home) as ray_cluster:
        ray_cluster.start_head(cpus=1)
        second = ray_cluster.add_node(cpus=1, RAY_AUTH_MODE="token")  # as Ray's docs say for the other nodes
        driver = subprocess.Popen(ray_cluster.command(batch_command(takes, out, ray_cluster.address)),
                                  env=ray_cluster.environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        deadline = time.monotonic() + 240
        while not (started := list(second.tmp.glob(f"{TAKE_PREFIX}*"))):  # the second node is analysing a take
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
            time.sleep(0.05)
        interrupted = started[0].name.removeprefix(TAKE_PREFIX).rsplit("-", 1)[0]
        ray_cluster.kill(second)
        stdout, stderr = driver.communicate(timeout=300)
        assert driver.returncode == 0, stderr
        assert "2 nodes, 2 CPUs" in stderr
        assert f"{len(SCENARIOS)} takes: {len(SCENARIOS)} analysed" in stdout

        # the same index as the local engine's, the lost node's take included
        assert read_index(out / "index.csv") == local_index
        assert started[0].is_dir()  # the second node never finished that take (it would have removed the folder) ...
        record = json.loads((out / interrupted / "take.json").read_text())
        assert record["engine"] == "ray" and record["node"]  # ... and another node did

        # a rerun skips every finished take (on the one node left)
        rerun = ray_cluster.run(batch_command(takes, out, ray_cluster.address), env=ray_cluster.environment())
        assert rerun.returncode == 0, rerun.stderr
        assert f"0 analysed, {len(SCENARIOS)} skipped" in rerun.stdout

        # the Python API joins too, in a program that imported Ray before it (Ray reads RAY_AUTH_MODE at import)
        program = ("import ray\n"
                   "from acting_mirror.batch.run import run_batch\n"
                   f"result = run_batch([{str(takes)!r}], {str(out)!r}, script={str(SCENE)!r}, engine='ray', "
                   f"ray_address={ray_cluster.address!r}, progress=False, log=print)\n"
                   "print('skipped', len(result.skipped))")
        api = ray_cluster.run([sys.executable, "-c", program], env=ray_cluster.environment())
        assert api.returncode == 0, api.stderr
        assert "1 node, 1 CPU" in api.stdout and f"skipped {len(SCENARIOS)}" in api.stdout

        # join errors name their cause, in one line, and touch nothing
        (tmp_path / "other" / ".ray").mkdir(parents=True)
        (tmp_path / "other" / ".ray" / "auth_token").write_text(secrets.token_hex(16))
        cases = {"refused this driver's token": (tmp_path / "other", ray_cluster.address),
                 "wants a token and this driver has none": (tmp_path / "none", ray_cluster.address),
                 "nothing answers there": (home, "127.0.0.1:6391")}
        for cause, (driver_home, address) in cases.items():
            failed = ray_cluster.run(batch_command(takes, tmp_path / "failed", address),
                                     env={**ray_cluster.environment(), "HOME": str(driver_home)})
            assert failed.returncode == 2 and "Traceback" not in failed.stderr
            lines = error_lines(failed)
            assert len(lines) == 1 and f"cannot join Ray at {address}" in lines[0] and cause in lines[0], lines
            assert not (tmp_path / "failed").exists()


def test_cluster_without_token_auth_is_joined_and_gives_the_local_index(takes, local_index, tmp_path):
    home = tmp_path / "home"  # no ~/.ray/auth_token: the cluster runs without token authentication
    home.mkdir()
    out = tmp_path / "out"
    with cluster(tmp_path / "cluster", home) as ray_cluster:
        ray_cluster.start_head(cpus=1)
        ray_cluster.add_node(cpus=1)
        result = ray_cluster.run(batch_command(takes, out, ray_cluster.address), env=ray_cluster.environment())
    assert result.returncode == 0, result.stderr
    assert read_index(out / "index.csv") == local_index
    nodes = {json.loads((out / name / "take.json").read_text())["node"] for name in local_index}
    assert len(nodes) == 2  # both nodes analysed takes


def test_a_cluster_of_another_ray_version_is_refused_naming_both_versions(takes, tmp_path):
    import ray

    if not OTHER_RAY.is_file():
        pytest.skip(f"no other Ray installation at {OTHER_RAY} (.ci/run installs one)")
    other_version = subprocess.run([str(OTHER_RAY), "--version"], capture_output=True, text=True,
                                   check=True).stdout.split()[-1]
    assert other_version != ray.__version__
    home = tmp_path / "home"
    home.mkdir()
    with cluster(tmp_path / "cluster", home) as ray_cluster:
        ray_cluster.start_head(cpus=1, ray=OTHER_RAY)
        failed = ray_cluster.run(batch_command(takes, tmp_path / "out", ray_cluster.address),
                                 env=ray_cluster.environment())
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    lines = error_lines(failed)
    assert len(lines) == 1 and "version mismatch" in lines[0], lines
    assert f"the cluster runs Ray {other_version}" in lines[0] and f"this driver Ray {ray.__version__}" in lines[0]
    assert not (tmp_path / "out").exists()
