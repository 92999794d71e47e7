"""The environment a build runs with: an allow list, never the server's (or worker's) environment.

A build runs code that editors choose: uv builds source distributions (their PEP 517 backends
run during the build), and what uv or rattler print ends up in the build's log and
`status_info`. So a build process must not hold the secrets of the process that started it
(tokens, database passwords, cloud credentials...). The build launcher starts with
`build_environment()` (see `launcher.py`), and every program a build runs (uv) gets an explicit
environment derived from it, never `os.environ` wholesale.

What passes, and why:
- `PATH`, `HOME`, `USER`, `LOGNAME`, `LANG`, `LANGUAGE`, `LC_*`, `TZ`, `TMPDIR`: what any program
  expects (tools find compilers on PATH, caches under HOME, temporary files in TMPDIR).
- `LD_LIBRARY_PATH`: some installations need it to start the server's own interpreter, whose
  copy runs the builds.
- `SSL_CERT_FILE`, `SSL_CERT_DIR`, `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`: a site's CA bundle,
  without which no channel or index is reachable behind a TLS-inspecting proxy.
- `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY` (and their lower-case spellings): without
  them nothing is reachable behind a proxy. A proxy URL may carry credentials
  (``http://user:password@proxy:3128``); they pass too, because the build cannot download
  without them. Build-time code (a source distribution's backend) can read them: a deployment
  that must keep them from editors sets `CondaStore.pip_only_binary` (no build-time code at all)
  or uses a proxy that authenticates by address.
- `RATTLER_AUTH_FILE`, `NETRC`: where channel credentials are (paths, not the credentials).
- `UV_CACHE_DIR`, `XDG_CACHE_HOME`: where uv keeps its cache.

Anything else an administrator wants a build to have is named in
`CondaStore.build_environment_passthrough` (names or glob patterns, e.g. ``CC``, ``PIP_CERT``,
``PG*``): those are visible to build-time code as well.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping

__all__ = ["BUILD_ENVIRONMENT_ALLOWED", "build_environment"]

# Names (or glob patterns) that every build gets from the environment that starts it.
BUILD_ENVIRONMENT_ALLOWED: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "RATTLER_AUTH_FILE",
    "NETRC",
    "UV_CACHE_DIR",
    "XDG_CACHE_HOME",
)


def _allowed(name: str, patterns: Iterable[str]) -> bool:
    # Case-sensitive: `http_proxy` and `HTTP_PROXY` are different variables.
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def build_environment(
    passthrough: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a build process, and each program it runs, gets: the variables of
    `environ` (default: this process's) named by `BUILD_ENVIRONMENT_ALLOWED` or by
    `passthrough` (the administrator's `CondaStore.build_environment_passthrough`), nothing else.
    `PATH` is always set (to the system default when `environ` has none)."""
    source = os.environ if environ is None else environ
    patterns = (*BUILD_ENVIRONMENT_ALLOWED, *passthrough)
    result = {name: value for name, value in source.items() if _allowed(name, patterns)}
    result.setdefault("PATH", os.defpath)
    return result
