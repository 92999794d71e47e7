"""`pip:` dependencies with uv: resolve for every solve platform (for the lock file), install on
the host into the build prefix, after the conda packages (so the prefix's own python is used).
A build from a lock file resolves nothing: it installs the pip packages the lock file pins.

uv runs isolated from whoever started the build: with the build environment
(`buildenv.build_environment`, never this process's environment wholesale), in an empty
working directory of its own, without reading any uv configuration file (``--no-config``: the
server's working directory or home may hold a uv.toml or pyproject.toml). The indexes, and
whether only wheels may be installed, come from the store's settings (`PipSourcePolicy`), which
are also checked against every requirement and pinned URL before uv sees it. uv expands
``${NAME}`` in requirements wherever they come from (files, standard input, arguments): a
requirement with a `$` never reaches it (refused when submitted, and here again).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import rattler
import tomllib
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from uv import find_uv_bin

from .artifacts import PipPackage
from .buildenv import build_environment
from .buildlog import BuildLog
from .launcher import die_with_parent
from .solver import host_platform
from .spec import PipSourcePolicy, locked_pip_label

# conda subdir → the target triple uv resolves for.
PLATFORM_TRIPLES = {
    "linux-64": "x86_64-unknown-linux-gnu",
    "linux-aarch64": "aarch64-unknown-linux-gnu",
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
    "win-64": "x86_64-pc-windows-msvc",
}
# Wheel file name fragments that fit each platform, to pick the URL the lock file records.
_WHEEL_TAGS = {
    "linux-64": ("manylinux", "x86_64"),
    "linux-aarch64": ("manylinux", "aarch64"),
    "osx-64": ("macosx", "x86_64"),
    "osx-arm64": ("macosx", "arm64"),
    "win-64": ("win_amd64", ""),
}


class PipFailed(Exception):
    def __init__(self, output: str):
        super().__init__(output)
        self.output = output


def _python_version(records: Sequence[rattler.RepoDataRecord]) -> str | None:
    for record in records:
        if record.name.normalized == "python":
            return ".".join(str(record.version).split(".")[:2])
    return None


def _uv(*arguments: str) -> list[str]:
    """A uv command line that reads no uv.toml or pyproject.toml settings of anyone's."""
    return [find_uv_bin(), *arguments, "--no-config"]


def _run(
    command: list[str], log: BuildLog, stdin: str | None = None, passthrough: Sequence[str] = ()
) -> str:
    """Run uv with the build environment in an empty directory, writing its stderr to the build
    log line by line; return stdout."""
    with tempfile.TemporaryFile("w+") as stdout_file, tempfile.TemporaryDirectory() as cwd:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=stdout_file,
            stderr=subprocess.PIPE,
            text=True,
            env=build_environment(passthrough),
            cwd=cwd,
            preexec_fn=die_with_parent,  # a build killed with -9 takes uv with it
        )
        assert process.stdin is not None and process.stderr is not None
        process.stdin.write(stdin or "")
        process.stdin.close()
        errors = []
        for line in process.stderr:
            log.write(f"uv: {line.rstrip()}")
            errors.append(line)
        if process.wait() != 0:
            raise PipFailed("".join(errors) or f"uv exited with {process.returncode}")
        stdout_file.seek(0)
        return stdout_file.read()


def _wheel_for(platform: str, wheels: list[dict]) -> dict | None:
    pure = [w for w in wheels if w["url"].endswith("-none-any.whl")]
    if pure:
        return pure[0]
    system, arch = _WHEEL_TAGS.get(platform, ("", ""))
    for wheel in wheels:
        name = wheel["url"].rsplit("/", 1)[-1]
        if system in name and arch in name:
            return wheel
    return None


def resolve(
    requirements: Sequence[str],
    platform: str,
    python_version: str,
    log: BuildLog,
    *,
    sources: PipSourcePolicy = PipSourcePolicy(),
    passthrough: Sequence[str] = (),
) -> tuple[str, list[PipPackage]]:
    """Resolve for one platform: (the pylock.toml text, the pinned packages)."""
    triple = PLATFORM_TRIPLES.get(platform)
    if triple is None:
        raise PipFailed(f"pip dependencies cannot be resolved for {platform} (no uv target)")
    for requirement in requirements:
        sources.check_requirement(requirement)
    text = _run(
        _uv(
            "pip",
            "compile",
            "-",
            "--format",
            "pylock.toml",
            "--no-header",
            "--python-version",
            python_version,
            "--python-platform",
            triple,
            "--quiet",
            *sources.uv_arguments(),
        ),
        log,
        stdin="\n".join(requirements) + "\n",
        passthrough=passthrough,
    )
    packages = []
    for entry in tomllib.loads(text).get("packages", []):
        # A direct URL (`name @ https://...`) is an `archive` (wheel or source archive alike).
        chosen = (
            _wheel_for(platform, entry.get("wheels", []))
            or entry.get("sdist")
            or entry.get("archive")
        )
        if chosen is None and "vcs" in entry:
            vcs = entry["vcs"]
            chosen = {"url": f"{vcs['type']}+{vcs['url']}@{vcs.get('commit-id', '')}".rstrip("@")}
        if chosen is None and "directory" in entry:
            chosen = entry["directory"]
        if chosen is not None and "url" not in chosen and "path" in chosen:
            # A local file or directory (where `pip_allow_local` allows them): its file:// URL.
            chosen = {**chosen, "url": Path(chosen["path"]).resolve().as_uri()}
        if chosen is None:
            raise PipFailed(
                f"no wheel or source archive of {entry['name']} {entry['version']} fits {platform}"
            )
        packages.append(
            PipPackage(
                name=entry["name"],
                version=entry["version"],
                url=chosen["url"],
                sha256=chosen.get("hashes", {}).get("sha256"),
            )
        )
    return text, packages


def install_pip_packages(
    prefix: Path,
    requirements: Sequence[str],
    records: Mapping[str, Sequence[rattler.RepoDataRecord]],
    log: BuildLog,
    *,
    sources: PipSourcePolicy = PipSourcePolicy(),
    passthrough: Sequence[str] = (),
) -> dict[str, list[PipPackage]]:
    """Resolve for every platform, install the host's resolution; returns packages per platform.

    Every requirement is checked against `sources` first (`SpecError` naming it): a
    specification stored before the administrator tightened the settings is held to them."""
    for requirement in requirements:
        sources.check_requirement(requirement)
    resolved: dict[str, list[PipPackage]] = {}
    host = host_platform()
    for platform, platform_records in records.items():
        python_version = _python_version(platform_records)
        if python_version is None:
            raise PipFailed(
                f"pip dependencies need python among the conda dependencies (none for {platform})"
            )
        log.write(f"resolving pip dependencies for {platform} (python {python_version})")
        lock_text, resolved[platform] = resolve(
            requirements, platform, python_version, log, sources=sources, passthrough=passthrough
        )
        if platform == host:
            with tempfile.TemporaryDirectory() as directory:
                lock = Path(directory, "pylock.toml")
                lock.write_text(lock_text)
                _run(
                    _uv(
                        "pip",
                        "install",
                        "--python",
                        str(prefix / "bin" / "python"),
                        "--no-deps",
                        "-r",
                        str(lock),
                        *sources.uv_arguments(),
                    ),
                    log,
                    passthrough=passthrough,
                )
    return resolved


def _uv_error(output: str) -> str:
    """uv's error proper (from its first `error:` line), without the progress lines before it."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("error:"):
            return "\n".join(lines[index:])
    return output


def install_locked_pip_packages(
    prefix: Path,
    packages: Sequence[PipPackage],
    log: BuildLog,
    *,
    sources: PipSourcePolicy = PipSourcePolicy(),
    passthrough: Sequence[str] = (),
) -> None:
    """Install exactly the pip packages a lock file pins into `prefix`, after its conda packages.

    Nothing is resolved: each package comes from its URL (``name @ url``) with ``--no-deps`` (the
    lock file lists every pip package), checked against the lock file's sha256; when every
    package has one, hashes are required (``--require-hashes``). The entries were checked when
    the lock file was parsed (`spec.check_locked_pip_package`). Afterwards the installed versions
    must be the pinned ones. Raises `PipFailed` naming the package that cannot be installed so.
    Each URL must be one `sources` allows (`SpecError` naming the package), as when submitted.
    """
    if not packages:
        return
    for package in packages:
        sources.check_url(package.url or "", locked_pip_label(package.name, package.version))
    python = prefix / "bin" / "python"
    if not python.exists():
        pinned = ", ".join(f"{package.name} {package.version}" for package in packages)
        raise PipFailed(
            f"the lock file pins pip packages ({pinned}) but no python among its conda packages"
        )
    unhashed = [package.name for package in packages if not package.sha256]
    if unhashed:
        log.write(
            f"warning: the lock file has no sha256 for pip package(s) {', '.join(unhashed)}: "
            "installed from their URL without a hash check"
        )
    lines = [
        f"{package.name} @ {package.url}"
        + (f" --hash=sha256:{package.sha256}" if package.sha256 else "")
        for package in packages
    ]
    command = _uv("pip", "install", "--python", str(python), "--no-deps", *sources.uv_arguments())
    if not unhashed:
        command.append("--require-hashes")
    log.write(f"installing {len(packages)} pip packages pinned by the lock file")
    with tempfile.TemporaryDirectory() as directory:
        requirements = Path(directory, "requirements.txt")
        requirements.write_text("\n".join(lines) + "\n")
        try:
            _run([*command, "-r", str(requirements)], log, passthrough=passthrough)
        except PipFailed as error:
            # uv names a requirement as `name @ url`: say up front which pins failed.
            failed = ", ".join(
                f"{package.name} {package.version}"
                for package in packages
                if f"`{package.name} @" in error.output
            )
            raise PipFailed(
                f"the lock file's pip package(s) {failed or '(see the log)'} cannot be installed "
                f"as pinned: {_uv_error(error.output)}"
            ) from None
    # `name @ url` installs whatever version the file holds: it must be the one the lock names.
    listed = _run(
        _uv("pip", "list", "--python", str(python), "--format", "json"),
        log,
        passthrough=passthrough,
    )
    installed = {canonicalize_name(item["name"]): item["version"] for item in json.loads(listed)}
    for package in packages:
        version = installed.get(canonicalize_name(package.name))
        if version is None or not _same_version(version, package.version):
            raise PipFailed(
                f"pip package {package.name}: the lock file pins version {package.version}, "
                f"its URL {package.url} installed {version or 'nothing of that name'}"
            )


def _same_version(installed: str, pinned: str) -> bool:
    try:
        return Version(installed) == Version(pinned)
    except InvalidVersion:
        return installed == pinned
