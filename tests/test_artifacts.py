"""Build artifacts: conda-lock.yml (read back by conda-lock itself), @EXPLICIT, environment.yaml,
and installing exactly what a lock file pins."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import rattler
import yaml
from conda_lock.conda_lock import _render_lockfile_for_install
from conda_lock.lockfile import parse_conda_lock_file
from rattler.explicit_environment import ExplicitEnvironmentSpec

from conda_store_jupyter.artifacts import (
    PipPackage,
    read_locked_packages,
    records_from_lockfile,
    write_conda_lock,
    write_environment_yaml,
    write_explicit,
    write_lockfile_specification,
)
from conda_store_jupyter.errors import SpecError
from conda_store_jupyter.spec import (
    Specification,
    parse_lockfile_specification,
    parse_specification,
)

PLATFORMS = ("linux-64", "osx-arm64", "win-64")
EXPECTED = {"alpha": "1.1", "beta": "0.5", "gamma": "3.0"}
REPODATA = Path("/work/shared/data/repodata/conda-tests_index4_defaults-linux64+noarch_2018.json")
PIP = PipPackage(
    "requests",
    "2.32.3",
    "https://files.pythonhosted.org/packages/requests-2.32.3-py3-none-any.whl",
    "70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6",
)


@pytest.fixture
def gateway(tmp_path: Path) -> rattler.Gateway:
    return rattler.Gateway(cache_dir=tmp_path / "repodata-cache")


@pytest.fixture
def spec(local_channel: str) -> Specification:
    return parse_specification(
        {
            "name": "letters",
            "channels": [local_channel],
            "dependencies": ["gamma"],
            "variables": {"LETTERS": "abc"},
        }
    )


@pytest.fixture
def solved(local_channel: str, gateway: rattler.Gateway) -> dict[str, list[rattler.RepoDataRecord]]:
    """`gamma` solved for three platforms: its packages are noarch, so one channel serves all."""

    async def solve(platform: str) -> list[rattler.RepoDataRecord]:
        return await rattler.solve(
            [local_channel],
            ["gamma"],
            gateway=gateway,
            platforms=[platform, "noarch"],
            virtual_packages=[],
            timestamp_policy="allow-missing",
        )

    return {platform: asyncio.run(solve(platform)) for platform in PLATFORMS}


@pytest.fixture
def lock_path(tmp_path: Path, spec: Specification, solved) -> Path:
    path = tmp_path / "artifacts" / "conda-lock.yml"
    path.parent.mkdir()
    write_conda_lock(path, spec=spec, records=solved, pip={"linux-64": [PIP]})
    return path


# ---------------------------------------------------------------------------------------------
# conda-lock.yml


def test_lock_file_is_read_by_conda_lock(lock_path: Path, spec: Specification, solved) -> None:
    lockfile = parse_conda_lock_file(lock_path)

    assert sorted(lockfile.metadata.platforms) == list(PLATFORMS)
    assert lockfile.metadata.content_hash == {platform: spec.sha256 for platform in PLATFORMS}
    assert [channel.url for channel in lockfile.metadata.channels] == list(spec.channels)
    for platform in PLATFORMS:
        conda = {
            package.name: package
            for package in lockfile.package
            if package.platform == platform and package.manager == "conda"
        }
        assert {name: package.version for name, package in conda.items()} == EXPECTED
        by_name = {record.name.normalized: record for record in solved[platform]}
        for name, package in conda.items():
            assert package.url == by_name[name].url
            assert package.url.startswith(spec.channels[0] + "/noarch/")
            assert package.hash.md5 == by_name[name].md5.hex()
            assert package.hash.sha256 == by_name[name].sha256.hex()
            assert package.build == str(by_name[name].build)
            assert package.categories == {"main"}
        assert conda["beta"].dependencies == {"alpha": ">=1.1,<2"}
        assert conda["gamma"].dependencies == {"alpha": "", "beta": ""}

    pip = [package for package in lockfile.package if package.manager == "pip"]
    assert [(p.name, p.version, p.platform, p.url) for p in pip] == [
        (PIP.name, PIP.version, "linux-64", PIP.url)
    ]
    assert pip[0].hash.sha256 == PIP.sha256


def test_lock_file_is_what_conda_lock_install_reads(lock_path: Path) -> None:
    # `conda-lock install` renders the lock file into this explicit file and hands it to conda.
    with _render_lockfile_for_install(lock_path, force_platform="linux-64") as rendered:
        text = Path(rendered).read_text()
    explicit = ExplicitEnvironmentSpec.from_str(text)
    assert str(explicit.platform) == "linux-64"
    urls = [entry.url for entry in explicit.packages]
    assert [url.rsplit("/", 1)[1].split("-")[0] for url in urls] == ["alpha", "beta", "gamma"]
    assert all(
        re.search(r"\.tar\.bz2#[0-9a-f]{32}$", line)
        for line in text.splitlines()
        if line.startswith("file://")
    )
    assert f"# pip requests @ {PIP.url}#sha256={PIP.sha256}" in text


def test_lock_file_is_deterministic(tmp_path: Path, spec: Specification, solved) -> None:
    first, second = tmp_path / "one.yml", tmp_path / "two.yml"
    write_conda_lock(first, spec=spec, records=solved)
    reordered = {platform: list(reversed(solved[platform])) for platform in reversed(PLATFORMS)}
    write_conda_lock(second, spec=spec, records=reordered)
    assert first.read_text().replace("one.yml", "two.yml") == second.read_text()


def test_failed_write_leaves_the_old_artifact(lock_path: Path, spec: Specification, solved) -> None:
    before = lock_path.read_bytes()
    no_url = PipPackage("requests", "2.32.3")
    with pytest.raises(ValueError, match=r"requests 2\.32\.3: a conda-lock file needs its URL"):
        write_conda_lock(lock_path, spec=spec, records=solved, pip={"linux-64": [no_url]})
    with pytest.raises(ValueError, match=r"pip packages for platform.* osx-64"):
        write_conda_lock(lock_path, spec=spec, records=solved, pip={"osx-64": [PIP]})
    assert lock_path.read_bytes() == before
    assert [path.name for path in lock_path.parent.iterdir()] == ["conda-lock.yml"]


def test_lockfile_specification_is_written_back_unchanged(lock_path: Path, tmp_path: Path) -> None:
    spec = parse_lockfile_specification(lock_path.read_text(), "locked")
    path = tmp_path / "written.yml"
    write_lockfile_specification(path, spec)
    assert parse_lockfile_specification(path.read_text(), "locked").sha256 == spec.sha256
    assert read_locked_packages(path) == read_locked_packages(lock_path)


def test_read_locked_packages(lock_path: Path) -> None:
    from_path = read_locked_packages(lock_path)
    from_dict = read_locked_packages(yaml.safe_load(lock_path.read_text()))
    from_model = read_locked_packages(parse_conda_lock_file(lock_path))
    assert from_path == from_dict == from_model
    assert sorted(from_path) == list(PLATFORMS)
    # Install order: dependencies first, pip after conda.
    assert [p.name for p in from_path["linux-64"]] == ["alpha", "beta", "gamma", "requests"]
    assert [p.name for p in from_path["win-64"]] == ["alpha", "beta", "gamma"]


# ---------------------------------------------------------------------------------------------
# Installing a lock file without solving


def test_records_from_lockfile_install_the_same_packages(
    lock_path: Path, solved, gateway: rattler.Gateway, tmp_path: Path
) -> None:
    records = asyncio.run(records_from_lockfile(lock_path, "linux-64", gateway))
    assert [record.url for record in records] == sorted(r.url for r in solved["linux-64"])

    prefix = tmp_path / "env"
    asyncio.run(rattler.install(records, prefix, cache_dir=tmp_path / "pkgs", show_progress=False))
    installed = {
        record.name.normalized: str(record.version)
        for record in map(rattler.PrefixRecord.from_path, (prefix / "conda-meta").glob("*.json"))
    }
    assert installed == EXPECTED
    assert (prefix / "share" / "csj-test" / "gamma-3.0.txt").read_text() == "gamma 3.0\n"


def _lock_content(lock_path: Path) -> dict:
    return yaml.safe_load(lock_path.read_text())


def _linux_package(content: dict, name: str) -> dict:
    return next(
        package
        for package in content["package"]
        if package["name"] == name and package["platform"] == "linux-64"
    )


def test_lock_naming_a_missing_package_is_refused(
    lock_path: Path, gateway: rattler.Gateway
) -> None:
    content = _lock_content(lock_path)
    gamma = _linux_package(content, "gamma")
    gamma["name"], gamma["version"] = "delta", "9.9"
    gamma["url"] = gamma["url"].replace("gamma-3.0-", "delta-9.9-")
    with pytest.raises(SpecError) as raised:
        asyncio.run(records_from_lockfile(content, "linux-64", gateway))
    assert raised.value.message.startswith(
        "package(s) pinned by the lock file not found in their channel: delta 9.9 ("
    )
    assert "gamma" not in raised.value.message.replace(gamma["url"], "")


def test_lock_with_a_wrong_hash_is_refused(lock_path: Path, gateway: rattler.Gateway) -> None:
    content = _lock_content(lock_path)
    _linux_package(content, "beta")["hash"]["sha256"] = "0" * 64
    with pytest.raises(SpecError, match=r"beta 0\.5 .*the lock file pins 0{64}"):
        asyncio.run(records_from_lockfile(content, "linux-64", gateway))


def test_lock_without_the_platform_is_refused(lock_path: Path, gateway: rattler.Gateway) -> None:
    with pytest.raises(SpecError, match="no packages for osx-64; it locks linux-64, osx-arm64"):
        asyncio.run(records_from_lockfile(lock_path, "osx-64", gateway))


# ---------------------------------------------------------------------------------------------
# @EXPLICIT and environment.yaml


def test_explicit_file(tmp_path: Path, solved) -> None:
    path = tmp_path / "explicit.txt"
    write_explicit(path, list(reversed(solved["linux-64"])), platform="linux-64")
    lines = path.read_text().splitlines()
    assert "# platform: linux-64" in lines
    packages = lines[lines.index("@EXPLICIT") + 1 :]
    by_url = {record.url: record for record in solved["linux-64"]}
    assert [line.split("#")[0].rsplit("/", 1)[1].split("-")[0] for line in packages] == [
        "alpha",
        "beta",
        "gamma",
    ]
    for line in packages:
        url, md5 = line.split("#")
        assert md5 == by_url[url].md5.hex()
    explicit = ExplicitEnvironmentSpec.from_path(path)
    assert str(explicit.platform) == "linux-64"
    assert len(explicit.packages) == 3


def test_environment_yaml(tmp_path: Path, spec: Specification, solved) -> None:
    path = tmp_path / "environment.yaml"
    write_environment_yaml(path, spec=spec, records=solved["linux-64"], pip=[PIP])
    content = yaml.safe_load(path.read_text())
    assert content == {
        "name": "letters",
        "channels": list(spec.channels),
        "dependencies": [
            *(
                f"{r.name.normalized}={r.version}={r.build}"
                for r in sorted(solved["linux-64"], key=lambda r: r.name.normalized)
            ),
            {"pip": ["requests==2.32.3"]},
        ],
        "variables": {"LETTERS": "abc"},
    }
    assert content["dependencies"][0].startswith("alpha=1.1=h")
    # It is itself a valid specification, pinning the same packages.
    pinned = parse_specification(path.read_text())
    by_name = sorted(solved["linux-64"], key=lambda r: r.name.normalized)
    assert all(
        rattler.MatchSpec(dep).matches(r)
        for dep, r in zip(pinned.dependencies, by_name, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# Real channel metadata (no package files: solve and lock only)


@pytest.fixture
def defaults_repodata(tmp_path: Path) -> Iterator[list[rattler.SparseRepoData]]:
    """Anaconda defaults (2018) as one repodata.json per subdir, per the data set's README."""
    subdirs: dict[str, dict] = {"linux-64": {}, "noarch": {}}
    for file_name, record in json.loads(REPODATA.read_text()).items():
        noarch = record.get("subdir") == "noarch" or record.get("noarch")
        subdirs["noarch" if noarch else "linux-64"][file_name] = record
    channel = rattler.Channel("https://repo.anaconda.com/pkgs/main")
    sources = []
    for subdir, packages in subdirs.items():
        path = tmp_path / "defaults" / subdir / "repodata.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"info": {"subdir": subdir}, "packages": packages}))
        sources.append(rattler.SparseRepoData(channel, subdir, path))
    yield sources
    # Release the memory-mapped files now rather than at interpreter shutdown.
    for source in sources:
        source.close()


def test_lock_file_from_real_metadata(tmp_path: Path, defaults_repodata) -> None:
    records = asyncio.run(
        rattler.solve(
            defaults_repodata,
            ["python=3.6", "numpy", "pandas", "scipy"],
            platforms=["linux-64", "noarch"],
            virtual_packages=[],
            timestamp_policy="allow-missing",
        )
    )
    spec = parse_specification(
        "name: science\nchannels: [https://repo.anaconda.com/pkgs/main]\n"
        "dependencies: [python=3.6, numpy, pandas, scipy]\n"
    )
    path = tmp_path / "conda-lock.yml"
    write_conda_lock(path, spec=spec, records={"linux-64": records})

    lockfile = parse_conda_lock_file(path)
    locked = {package.name: package for package in lockfile.package}
    assert len(locked) == len(records) > 20
    assert locked["python"].version.startswith("3.6.")
    assert {"numpy", "numpy-base", "pandas", "scipy", "mkl", "openssl"} <= locked.keys()
    numpy = locked["numpy"]
    assert numpy.url.startswith("https://repo.anaconda.com/pkgs/main/linux-64/numpy-")
    assert re.fullmatch(r"[0-9a-f]{32}", numpy.hash.md5)
    assert re.fullmatch(r"[0-9a-f]{64}", numpy.hash.sha256)
    assert numpy.dependencies["python"] == ">=3.6,<3.7.0a0"
    # A dependency pinned to a build keeps the version part, as conda-lock writes it.
    assert numpy.dependencies["numpy-base"] == f"=={numpy.version}"

    write_explicit(tmp_path / "explicit.txt", records)
    lines = (tmp_path / "explicit.txt").read_text().splitlines()
    assert "# platform: linux-64" in lines
    assert len([line for line in lines if re.search(r"\.tar\.bz2#[0-9a-f]{32}$", line)]) == len(
        records
    )
