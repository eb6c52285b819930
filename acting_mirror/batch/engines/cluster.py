"""Joining a Ray cluster started with `ray start`, and one line that says why a join failed.

Token authentication: `ray start --head` turns it on when it finds a token (the file
~/.ray/auth_token, $RAY_AUTH_TOKEN_PATH or $RAY_AUTH_TOKEN). A driver that joins by address
sends the token only when RAY_AUTH_MODE=token was set before `import ray` (Ray reads its
configuration once, at import); without it the join waits ~20 s and fails with a bare
"Failed to connect". So `import_ray` sets the mode first when the user left it unset and a
token is there, as `ray start` does for the head.

Why a join fails: before `ray.init`, `probe` asks the cluster's GCS for its id over gRPC (with
the token, if any): no answer means nothing listens there; UNAUTHENTICATED means the cluster
wants a token the driver lacks or refused the one it sent. A version mismatch between the
driver and the cluster comes from `ray.init` itself.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path

from acting_mirror.batch.errors import BatchError

AUTH_MODE = "RAY_AUTH_MODE"
AUTH_TOKEN = "RAY_AUTH_TOKEN"
AUTH_TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"
PROBE_TIMEOUT_S = 5.0
_HOST_PORT = re.compile(r"^\[?(?P<host>[^\[\]/]+?)\]?:(?P<port>\d{1,5})$")


def token_file(environ: MutableMapping[str, str]) -> Path:
    """The token file the Ray client reads: $RAY_AUTH_TOKEN_PATH, else ~/.ray/auth_token."""
    return Path(environ.get(AUTH_TOKEN_PATH) or Path.home() / ".ray" / "auth_token").expanduser()


def find_token(environ: MutableMapping[str, str]) -> str | None:
    """The token the Ray client would send: $RAY_AUTH_TOKEN, else its file's text; None when neither."""
    token = environ.get(AUTH_TOKEN, "").strip()
    if token:
        return token
    try:
        return token_file(environ).read_text(errors="replace").strip() or None
    except OSError:  # no file (or unreadable): no token
        return None


def enable_token_auth(environ: MutableMapping[str, str] | None = None) -> bool:
    """Set RAY_AUTH_MODE=token when it is unset and a token is there; an explicit RAY_AUTH_MODE
    is the user's choice and is kept. True when the driver will send a token."""
    environ = os.environ if environ is None else environ
    if AUTH_MODE in environ:
        return environ[AUTH_MODE].strip().lower() == "token"
    if find_token(environ) is None:
        return False
    environ[AUTH_MODE] = "token"
    if environ is os.environ and "ray" in sys.modules:
        # Ray was imported before the mode was set (by the caller's program): its configuration,
        # read at import, must be read again or the join goes out without the token
        try:
            from ray._raylet import Config

            Config.initialize("")
        except (ImportError, AttributeError):  # another Ray: RAY_AUTH_MODE before its import is what it gets
            pass
    return True


def host_and_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a GCS address "host:port"; None for "auto" and ray:// (Ray Client) addresses."""
    match = _HOST_PORT.match(address.strip())
    if match is None or "://" in address:
        return None
    return match["host"], int(match["port"])


def probe(address: str, token: str | None) -> str | None:
    """Why the GCS at `address` would refuse this driver (nothing listening, authentication, another
    Ray or Python version), in words; None when it would not (or the address is not host:port,
    which `ray.init` resolves)."""
    target = host_and_port(address)
    if target is None:
        return None
    try:
        import grpc
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc
    except ImportError:  # no grpcio (or another Ray's layout): ray.init's own error is classified instead
        return None

    host, port = target
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        try:
            gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId(
                gcs_service_pb2.GetClusterIdRequest(), metadata=metadata, timeout=PROBE_TIMEOUT_S)
            reply = gcs_service_pb2_grpc.InternalKVGcsServiceStub(channel).InternalKVGet(
                gcs_service_pb2.InternalKVGetRequest(namespace=b"cluster", key=b"CLUSTER_METADATA"),
                metadata=metadata, timeout=PROBE_TIMEOUT_S)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            if code == grpc.StatusCode.UNAUTHENTICATED:
                return authentication_problem(token)
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return ("nothing answers there: start the cluster with `ray start --head --port PORT` "
                        "or check the address")
            return None  # something else answered: ray.init says what
    return version_problem(reply.value)


def version_problem(cluster_metadata: bytes) -> str | None:
    """The cluster's Ray and Python versions (its metadata, as the head stored it) against this
    driver's, which Ray requires to be equal; None when they are (or the metadata is unreadable)."""
    import platform

    import ray

    try:
        cluster = json.loads(cluster_metadata)
        theirs = (str(cluster["ray_version"]), str(cluster["python_version"]))
    except (ValueError, KeyError, TypeError):
        return None
    ours = (ray.__version__, platform.python_version())
    # Ray compares the Python versions to the patch level unless told "minor"
    python_digits = 2 if os.environ.get("RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL") == "minor" else 3
    if theirs[0] == ours[0] and theirs[1].split(".")[:python_digits] == ours[1].split(".")[:python_digits]:
        return None
    return (f"version mismatch (the cluster runs Ray {theirs[0]} on Python {theirs[1]}, this driver Ray {ours[0]} "
            f"on Python {ours[1]}); install the same Ray and Python versions on the driver and every node")


def authentication_problem(token: str | None) -> str:
    """The authentication failure, with what the driver sent."""
    where = f"{token_file(os.environ)} or ${AUTH_TOKEN}"
    if token is None:
        return (f"authentication failed: the cluster wants a token and this driver has none; put the cluster's "
                f"token (`ray get-auth-token` on the head) in {where}")
    return (f"authentication failed: the cluster refused this driver's token (from {where}); use the cluster's "
            "token (`ray get-auth-token` on the head)")


def join_error(address: str, error: BaseException, token: str | None) -> BatchError:
    """The error `ray.init(address)` raised, as one line naming the cause."""
    text = " ".join(str(error).split())
    lowered = text.lower()
    if "version mismatch" in lowered:
        versions = re.findall(r"Ray: (\S+) Python: (\S+)", text)
        detail = (f"the cluster runs Ray {versions[0][0]} on Python {versions[0][1]}, this driver Ray "
                  f"{versions[1][0]} on Python {versions[1][1]}" if len(versions) >= 2 else text[:200])
        return BatchError(f"cannot join Ray at {address}: version mismatch ({detail}); install the same Ray "
                          "and Python versions on the driver and every node")
    if "authenticat" in lowered or "invalidauthtoken" in lowered:
        return BatchError(f"cannot join Ray at {address}: {authentication_problem(token)}")
    if "could not find any running ray" in lowered or "failed to connect" in lowered:
        return BatchError(f"cannot join Ray at {address}: nothing answers there (or it refused this driver); "
                          "start the cluster with `ray start --head` or check the address")
    return BatchError(f"cannot join Ray at {address}: {text[:300] or type(error).__name__}")
