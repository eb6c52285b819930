"""The driver's side of joining a `ray start` cluster, without a cluster: the token it finds
(as the Ray client would), the addresses it can probe, and a probe of a port where nothing
listens. The joins themselves run against real clusters in tests/test_batch_cluster.py."""

from __future__ import annotations

import json
import platform
import socket

import pytest

from acting_mirror.batch.engines.cluster import (
    AUTH_MODE,
    enable_token_auth,
    find_token,
    host_and_port,
    probe,
    version_problem,
)


def test_a_token_file_turns_token_auth_on_and_an_explicit_mode_is_kept(tmp_path):
    token = tmp_path / "auth_token"
    environ = {"RAY_AUTH_TOKEN_PATH": str(token)}
    assert not enable_token_auth(environ) and AUTH_MODE not in environ  # no token: nothing set
    token.write_text("0123abcd\n")
    assert find_token(environ) == "0123abcd"
    assert enable_token_auth(environ) and environ[AUTH_MODE] == "token"
    kept = {"RAY_AUTH_TOKEN_PATH": str(token), AUTH_MODE: "disabled"}
    assert not enable_token_auth(kept) and kept[AUTH_MODE] == "disabled"


def test_a_token_in_the_environment_comes_before_the_file(tmp_path):
    (tmp_path / "auth_token").write_text("from-the-file")
    environ = {"RAY_AUTH_TOKEN": "from-the-environment", "RAY_AUTH_TOKEN_PATH": str(tmp_path / "auth_token")}
    assert find_token(environ) == "from-the-environment"
    assert enable_token_auth(environ) and environ[AUTH_MODE] == "token"


def test_the_default_token_file_is_in_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_token({}) is None
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("abc\n")
    assert find_token({}) == "abc"


@pytest.mark.parametrize(("address", "expected"), [("127.0.0.1:6379", ("127.0.0.1", 6379)),
                                                   ("head.example:10001", ("head.example", 10001)),
                                                   ("[::1]:6379", ("::1", 6379)), ("auto", None),
                                                   ("ray://head:10001", None), ("head", None)])
def test_only_host_and_port_addresses_are_probed(address, expected):
    assert host_and_port(address) == expected


def test_probe_of_a_port_where_nothing_listens_says_so():
    pytest.importorskip("ray")
    with socket.socket() as placeholder:  # a port that was free a moment ago, closed again: nothing listens
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    assert probe(f"127.0.0.1:{port}", None).startswith("nothing answers there")


def test_versions_are_compared_as_ray_does():
    ray = pytest.importorskip("ray")
    same = {"ray_version": ray.__version__, "python_version": platform.python_version()}
    assert version_problem(json.dumps(same).encode()) is None
    older = {**same, "ray_version": "2.9.3"}
    problem = version_problem(json.dumps(older).encode())
    assert problem.startswith("version mismatch") and "cluster runs Ray 2.9.3" in problem
    assert f"this driver Ray {ray.__version__}" in problem
    assert version_problem(b"not json") is None  # unreadable metadata: ray.init decides
