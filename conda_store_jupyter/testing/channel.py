"""Build a local ``file://`` conda channel for tests and benchmarks.

CI cannot reach any conda channel, so this module fabricates one from real files:

* ``alpha`` (1.0, 1.1, 2.0), ``beta`` 0.5 and ``gamma`` 3.0 for solver tests, plus ``conflict-a``
  and ``conflict-b``, which cannot be installed together;
* ``python``, which makes the prefix a venv of the host's base interpreter;
* ``ipykernel`` and ``requests`` with their dependency trees, each PyPI wheel repackaged as
  its own conda package;
* ``csj-probe`` (a module only this channel has), ``activate-probe`` (an activate.d script) and
  ``csj-bigdata`` (40 MiB, to watch progress and cancel mid-install).

Each subdir has ``repodata.json``, ``repodata.json.zst`` and sharded repodata, as conda-forge
serves them; ``conda_store_jupyter.testing.http_channel`` serves the directory over HTTP.

``python -m conda_store_jupyter.testing.channel DIR`` builds the channel in DIR and prints its
URL. When the inputs (this file, the host interpreter and platform, the rattler version) are
unchanged, a stamp file in DIR makes a rebuild a no-op.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import fcntl
import functools
import hashlib
import json
import logging
import os
import platform
import random
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import rattler
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from rattler.exceptions import InvalidVersionSpecError
from rattler.index import index_fs

from .condapkg import Package, digest, write_package

log = logging.getLogger(__name__)

# Top-level PyPI distributions repackaged into the channel. ipykernel 7 needs Python >= 3.11.
PYPI_REQUIREMENTS = (
    'ipykernel==7.4.0; python_version >= "3.11"',
    'ipykernel==6.31.0; python_version < "3.11"',
    "requests==2.34.2",
)
# The whole tree is pinned so that the channel, and the size of the environments built from it,
# do not drift with PyPI releases. Platform-only dependencies (e.g. appnope on macOS) are not.
PYPI_CONSTRAINTS = (
    "asttokens==3.0.2",
    "certifi==2026.10.18",
    "charset-normalizer==3.5.2",
    "comm==0.2.3",
    "debugpy==1.8.22",
    "decorator==5.3.1",
    "executing==2.3.0",
    "idna==3.20",
    'ipython==9.18.1; python_version >= "3.11"',
    'ipython==8.39.0; python_version < "3.11"',
    "ipython-pygments-lexers==1.1.1",
    "jedi==0.20.1",
    "jupyter-client==8.10.0",
    "jupyter-core==5.9.1",
    "matplotlib-inline==0.2.2",
    "nest-asyncio==1.6.0",
    "nest-asyncio2==1.7.4",
    "packaging==26.3",
    "parso==0.8.7",
    "pexpect==4.9.0",
    'platformdirs==4.14.7; python_version >= "3.11"',
    'platformdirs==4.12.4; python_version < "3.11"',
    "prompt-toolkit==3.0.53",
    "psutil==7.2.2",
    "ptyprocess==0.7.0",
    "pure-eval==0.2.4",
    "pygments==2.21.0",
    'python-dateutil==4.0.0; python_version >= "3.11"',
    'python-dateutil==3.0.0; python_version < "3.11"',
    "pyzmq==27.3.0",
    "six==1.17.0",
    "stack-data==0.6.3",
    'tornado==6.6.1; python_version >= "3.11"',
    'tornado==6.5.10; python_version < "3.11"',
    "traitlets==5.16.1",
    "typing-extensions==4.16.0",
    "tzdata==2026.6",
    "urllib3==2.8.0",
    "wcwidth==0.9.4",
)

STAMP_FILE = ".csj-channel-stamp.json"
WHEELS_DIR = ".wheels"
BIGDATA_FILES = 4
BIGDATA_FILE_SIZE = 10 * 2**20


@dataclass(frozen=True)
class _Host:
    platform: str  # conda subdir, e.g. "linux-64"
    python_version: str  # e.g. "3.11.7"
    base_executable: str  # the real interpreter, also when this module runs inside a venv

    @classmethod
    def current(cls) -> _Host:
        base = getattr(sys, "_base_executable", sys.executable)
        return cls(str(rattler.Subdir.current()), platform.python_version(), os.path.realpath(base))

    @property
    def python_xy(self) -> str:
        return ".".join(self.python_version.split(".")[:2])

    @property
    def python_abi_spec(self) -> str:
        """Match spec for the Python versions a binary wheel built for the host can run on."""
        major, minor = self.python_version.split(".")[:2]
        return f"python >={major}.{minor},<{major}.{int(minor) + 1}"

    @property
    def site_packages(self) -> str:
        return f"lib/python{self.python_xy}/site-packages"


def _generic(name: str, version: str, *depends: str) -> Package:
    files = {f"share/csj-test/{name}-{version}.txt": f"{name} {version}\n".encode()}
    return Package(name, version, "noarch", "generic", list(depends), files)


def _python_package(host: _Host) -> Package:
    """A venv of the host's base interpreter: `<prefix>/bin/python` has sys.prefix == prefix."""
    xy = host.python_xy
    pyvenv_cfg = (
        f"home = {os.path.dirname(host.base_executable)}\n"
        "include-system-site-packages = false\n"
        f"version = {host.python_version}\n"
    )
    files = {
        "pyvenv.cfg": pyvenv_cfg.encode(),
        # conda packages cannot ship empty directories.
        f"{host.site_packages}/README.csj-python": b"site-packages of a csj test environment\n",
    }
    symlinks = {
        f"bin/python{xy}": host.base_executable,
        "bin/python3": f"python{xy}",
        "bin/python": f"python{xy}",
    }
    return Package(
        "python", host.python_version, host.platform, None, files=files, symlinks=symlinks
    )


def _csj_probe_package() -> Package:
    files = {
        "site-packages/csj_probe/__init__.py": (
            b'"""A module that only exists in the conda-store-jupyter test channel."""\n\n'
            b'__version__ = "1.0"\n\n\n'
            b"def hello() -> str:\n"
            b'    return "hello from csj-probe"\n'
        ),
        "site-packages/csj_probe-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: csj-probe\nVersion: 1.0\n"
        ),
    }
    return Package("csj-probe", "1.0", "noarch", "python", ["python"], files)


def _activate_probe_package() -> Package:
    files = {
        "etc/conda/activate.d/csj-activate-probe.sh": b"export CSJ_ACTIVATED=1\n",
        "etc/conda/deactivate.d/csj-activate-probe.sh": b"unset CSJ_ACTIVATED\n",
    }
    return Package("activate-probe", "1.0", "noarch", "generic", files=files)


def _bigdata_package() -> Package:
    # Seeded pseudo-random bytes: incompressible, so the archive stays ~40 MiB, yet identical on
    # every build, so the content hash (and thus the file name) is stable.
    blobs = (
        random.Random(f"csj-bigdata-{i}").randbytes(BIGDATA_FILE_SIZE) for i in range(BIGDATA_FILES)
    )
    files = {f"share/csj-bigdata/blob-{i}.bin": blob for i, blob in enumerate(blobs)}
    return Package("csj-bigdata", "1.0", "noarch", "generic", files=files)


def _conda_dependency(name: str, specifier: SpecifierSet | str) -> str:
    """`name` plus `specifier` (PEP 440) in conda syntax; bare if there is no simple equivalent."""
    parts = []
    for spec in SpecifierSet(str(specifier)):
        # conda spells "==1.2.*" as "1.2.*".
        is_glob = spec.operator == "==" and spec.version.endswith(".*")
        parts.append(spec.version if is_glob else f"{spec.operator}{spec.version}")
    constraint = ",".join(sorted(parts))  # SpecifierSet iteration order is not stable
    if not constraint:
        return name
    try:
        rattler.VersionSpec(constraint)
    except InvalidVersionSpecError:
        return name
    return f"{name} {constraint}"


def _wheel_package(wheel: Path, host: _Host) -> Package:
    """Repackage one wheel, keeping its dist-info so that importlib.metadata finds it."""
    name, version, _, tags = parse_wheel_filename(wheel.name)
    pure = all(tag.abi == "none" and tag.platform == "any" for tag in tags)
    site_packages = "site-packages" if pure else host.site_packages
    # Where each `<dist>.data/<kind>/` goes; rattler links noarch python-scripts/ into bin/.
    data_dirs = {
        "purelib": site_packages,
        "platlib": site_packages,
        "scripts": "python-scripts" if pure else "bin",
        "data": "",
    }
    files: dict[str, bytes] = {}
    executables: set[str] = set()
    metadata = b""
    with zipfile.ZipFile(wheel) as archive:
        for entry in archive.infolist():
            if entry.is_dir():
                continue
            top, _, rest = entry.filename.partition("/")
            data = archive.read(entry)
            if top.endswith(".data"):
                kind, _, relative = rest.partition("/")
                if kind not in data_dirs:
                    raise ValueError(f"{wheel.name}: unsupported wheel data directory {kind!r}")
                path = f"{data_dirs[kind]}/{relative}".lstrip("/")
                if kind == "scripts":
                    executables.add(path)
            else:
                path = f"{site_packages}/{entry.filename}"
                if top.endswith(".dist-info") and rest == "METADATA":
                    metadata = data
            if (entry.external_attr >> 16) & 0o111:
                executables.add(path)
            files[path] = data

    headers = BytesHeaderParser().parsebytes(metadata)
    if pure:
        depends = [_conda_dependency("python", headers.get("Requires-Python", ""))]
    else:
        depends = [host.python_abi_spec]
    for line in headers.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        # Evaluated for this interpreter, which is the one the channel's `python` wraps.
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            dependency = canonicalize_name(requirement.name)
            depends.append(_conda_dependency(dependency, requirement.specifier))
    subdir, noarch = ("noarch", "python") if pure else (host.platform, None)
    return Package(name, str(version), subdir, noarch, depends, files, executables)


def _download_wheels(root: Path, host: _Host) -> list[Path]:
    """Wheels of PYPI_REQUIREMENTS for the host, downloaded once per set of inputs."""
    key = digest([PYPI_REQUIREMENTS, PYPI_CONSTRAINTS, asdict(host)])[:16]
    dest = root / WHEELS_DIR / key
    if not dest.is_dir():
        partial = dest.with_name(f"{key}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        constraints = partial / "constraints.txt"
        constraints.write_text("".join(f"{line}\n" for line in PYPI_CONSTRAINTS))
        log.info("downloading wheels for %s", ", ".join(PYPI_REQUIREMENTS))
        command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-input"]
        command += ["--disable-pip-version-check", "--dest", str(partial)]
        command += ["--constraint", str(constraints), *PYPI_REQUIREMENTS]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(f"pip download failed:\n{result.stdout}{result.stderr}")
        constraints.unlink()
        # Renamed only once complete, so an interrupted download is never mistaken for a full one.
        partial.rename(dest)
    return sorted(dest.glob("*.whl"))


def _fingerprint(host: _Host) -> str:
    # Both modules that decide what the packages hold
    sources = [Path(__file__), Path(__file__).with_name("condapkg.py")]
    source = [hashlib.sha256(path.read_bytes()).hexdigest() for path in sources]
    return digest([source, asdict(host), rattler.__version__])


def _is_current(root: Path, fingerprint: str, subdirs: tuple[str, ...]) -> bool:
    try:
        stamp = json.loads((root / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return False
    indexes = ("repodata.json", "repodata.json.zst", "repodata_shards.msgpack.zst")
    expected = [*stamp["packages"], *(f"{subdir}/{name}" for subdir in subdirs for name in indexes)]
    return stamp["fingerprint"] == fingerprint and all((root / path).is_file() for path in expected)


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise builders of the same directory (e.g. pytest-xdist workers)."""
    with open(root / ".csj-channel.lock", "a") as handle:  # "a": never touches the file
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    # A thread of its own has no running event loop, so this also works when called from async code.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def channel_url(directory: str | os.PathLike[str]) -> str:
    """The file:// URL of the channel in `directory` (built or not)."""
    return Path(directory).resolve().as_uri()


def build_channel(directory: str | os.PathLike[str], *, force: bool = False) -> str:
    """Build or refresh the test channel in `directory` and return its file:// URL.

    A no-op (well under a second) if the stamp in `directory` shows the channel was built from
    the same inputs; otherwise only packages whose content changed are rewritten. `force`
    rewrites every package. Downloaded wheels are kept in `directory/.wheels`.
    """
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    host = _Host.current()
    fingerprint = _fingerprint(host)
    subdirs = ("noarch", host.platform)
    with _locked(root):
        if not force and _is_current(root, fingerprint, subdirs):
            return channel_url(root)
        started = time.monotonic()
        log.info("building test channel in %s", root)
        (root / STAMP_FILE).unlink(missing_ok=True)
        factories: list[Callable[[], Package]] = [
            functools.partial(_generic, "alpha", "1.0"),
            functools.partial(_generic, "alpha", "1.1"),
            functools.partial(_generic, "alpha", "2.0"),
            functools.partial(_generic, "beta", "0.5", "alpha >=1.1,<2"),
            functools.partial(_generic, "gamma", "3.0", "beta", "alpha"),
            # Each conflict-* pins a different version of the same hidden package.
            functools.partial(_generic, "conflict-base", "1.0"),
            functools.partial(_generic, "conflict-base", "2.0"),
            functools.partial(_generic, "conflict-a", "1.0", "conflict-base 1.*"),
            functools.partial(_generic, "conflict-b", "1.0", "conflict-base 2.*"),
            functools.partial(_python_package, host),
            _csj_probe_package,
            _activate_probe_package,
            _bigdata_package,
            *(functools.partial(_wheel_package, w, host) for w in _download_wheels(root, host)),
        ]
        # Threads pay off: bzip2 and sha256 release the GIL.
        with concurrent.futures.ThreadPoolExecutor() as pool:
            write = functools.partial(write_package, root=root, overwrite=force)
            written = set(pool.map(lambda make: write(make()), factories))
        for subdir in subdirs:
            (root / subdir).mkdir(exist_ok=True)
            for path in [*(root / subdir).glob("*.tar.bz2"), *(root / subdir).glob(".*.partial")]:
                if path not in written:
                    path.unlink()
        # Both forms conda-forge serves: repodata.json(.zst) and sharded repodata
        # (repodata_shards.msgpack.zst + shards/), whatever a user's rattler config says.
        _run(index_fs(root, force=True, write_zst=True, write_shards=True))
        packages = sorted(str(path.relative_to(root)) for path in written)
        stamp = {"fingerprint": fingerprint, "packages": packages}
        partial_stamp = root / f"{STAMP_FILE}.partial"
        partial_stamp.write_text(json.dumps(stamp, indent=2))
        os.replace(partial_stamp, root / STAMP_FILE)
        log.info("built %d packages in %.1f s", len(written), time.monotonic() - started)
    return channel_url(root)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m conda_store_jupyter.testing.channel",
        description="Build the local test conda channel in DIRECTORY and print its file:// URL.",
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--force", action="store_true", help="rewrite every package")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    print(build_channel(args.directory, force=args.force))


if __name__ == "__main__":
    main()
