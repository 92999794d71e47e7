"""The local test channel: it solves, installs and yields working Python environments."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
import rattler
from rattler.exceptions import SolverError

from conda_store_jupyter.testing.channel import STAMP_FILE, build_channel

REPO = Path(__file__).resolve().parent.parent


def _create(channel: str, specs: list[str], prefix: Path, cache: Path) -> dict[str, str]:
    """Solve `specs` and install them into `prefix`; return {package name: version}."""

    async def create() -> list[rattler.RepoDataRecord]:
        records = await rattler.solve(
            [channel],
            specs,
            gateway=rattler.Gateway(cache_dir=cache / "repodata"),
        )
        await rattler.install(records, prefix, cache_dir=cache / "pkgs", show_progress=False)
        return records

    return {record.name.normalized: str(record.version) for record in asyncio.run(create())}


def _directory(url: str) -> Path:
    return Path(url2pathname(urlparse(url).path))


def _python(prefix: Path, code: str) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH/PYTHONHOME from the test runner, which would leak host packages.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    command = [prefix / "bin" / "python", "-c", code]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_solves_and_installs_dependencies(local_channel: str, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    versions = _create(local_channel, ["gamma"], prefix, tmp_path / "cache")

    assert versions == {"alpha": "1.1", "beta": "0.5", "gamma": "3.0"}
    assert (prefix / "share" / "csj-test" / "gamma-3.0.txt").read_text() == "gamma 3.0\n"
    assert (prefix / "share" / "csj-test" / "alpha-1.1.txt").is_file()


def test_conflicting_packages_do_not_solve(local_channel: str, tmp_path: Path) -> None:
    with pytest.raises(SolverError):
        _create(local_channel, ["conflict-a", "conflict-b"], tmp_path / "env", tmp_path / "cache")


def test_python_environment_is_self_contained(local_channel: str, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    specs = ["python", "ipykernel", "csj-probe", "activate-probe"]
    versions = _create(local_channel, specs, prefix, tmp_path / "cache")
    assert {"python", "ipykernel", "pyzmq", "csj-probe", "activate-probe"} <= versions.keys()

    result = _python(
        prefix,
        "import csj_probe as c, ipykernel as k, sys; print(c.__file__, k.__file__, sys.prefix)",
    )
    assert result.returncode == 0, result.stderr
    probe, kernel, sys_prefix = result.stdout.split()
    assert Path(probe).is_relative_to(prefix)
    assert Path(kernel).is_relative_to(prefix)
    assert sys_prefix == str(prefix)

    leaked = _python(
        prefix,
        "try:\n"
        "    import jupyter_server\n"
        "    print('found', jupyter_server.__file__)\n"
        "except ModuleNotFoundError as error:\n"
        "    print('missing', error.name)\n",
    )
    assert leaked.returncode == 0, leaked.stderr
    assert leaked.stdout == "missing jupyter_server\n", leaked.stdout

    assert (prefix / "etc" / "conda" / "activate.d" / "csj-activate-probe.sh").is_file()
    assert (prefix / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").is_file()


def test_rebuild_is_a_noop(local_channel: str) -> None:
    directory = _directory(local_channel)
    outputs = [directory / STAMP_FILE, *(path for path in directory.glob("*/*") if path.is_file())]
    before = {path: path.stat().st_mtime_ns for path in outputs}

    assert build_channel(directory) == local_channel
    assert {path: path.stat().st_mtime_ns for path in outputs} == before


def test_cli_prints_only_the_url(local_channel: str) -> None:
    directory = str(_directory(local_channel))
    command = [sys.executable, "-m", "conda_store_jupyter.testing.channel", directory]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout == f"{local_channel}\n"
