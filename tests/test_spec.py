"""Specifications: parsing, validation, normalisation, hashing, policies and lock-file specs."""

from __future__ import annotations

import time

import pytest
import yaml
from rattler import BuildString, PackageRecord, RepoDataRecord

from conda_store_jupyter.artifacts import write_conda_lock
from conda_store_jupyter.errors import SpecError
from conda_store_jupyter.spec import (
    MAX_SPEC_BYTES,
    MAX_YAML_DEPTH,
    LockfileSpecification,
    Specification,
    SpecPolicy,
    apply_policy,
    parse_lockfile_specification,
    parse_specification,
    validate_name,
)

SPEC = """\
name: data-science   # the environment
description: numbers and frames
channels:
  - conda-forge
dependencies:
  - python   >=3.10
  - numpy
  - numpy
  - pip:
      - requests >=2
variables:
  OMP_NUM_THREADS: 4
  DEBUG: true
"""

# The same specification: other key order, flow style, no comments, other whitespace.
SPEC_REFORMATTED = """\
variables: {DEBUG: true, OMP_NUM_THREADS: '4'}
dependencies: ["python >=3.10", {pip: ["requests >=2"]}, numpy]
channels: [conda-forge]
name: data-science
"""


def spec_error(source) -> str:
    with pytest.raises(SpecError) as raised:
        parse_specification(source)
    assert raised.value.status_code == 400
    return raised.value.message


# ---------------------------------------------------------------------------------------------
# Valid specifications


def test_valid_spec_is_normalised():
    spec = parse_specification(SPEC)
    assert spec == Specification(
        name="data-science",
        channels=("conda-forge",),
        dependencies=("python >=3.10", "numpy"),
        pip=("requests >=2",),
        variables=(("DEBUG", "true"), ("OMP_NUM_THREADS", "4")),
        description="numbers and frames",
    )
    assert spec.to_dict() == {
        "name": "data-science",
        "channels": ["conda-forge"],
        "dependencies": ["python >=3.10", "numpy", {"pip": ["requests >=2"]}],
        "variables": {"DEBUG": "true", "OMP_NUM_THREADS": "4"},
    }
    assert spec.canonical_json() == (
        '{"channels":["conda-forge"],"dependencies":["python >=3.10","numpy",'
        '{"pip":["requests >=2"]}],"name":"data-science",'
        '"variables":{"DEBUG":"true","OMP_NUM_THREADS":"4"}}'
    )
    assert len(spec.sha256) == 64


def test_yaml_round_trip():
    spec = parse_specification(SPEC)
    assert parse_specification(spec.to_yaml()) == spec
    assert yaml.safe_load(spec.to_yaml())["description"] == "numbers and frames"


def test_dict_and_bytes_sources():
    spec = parse_specification(SPEC)
    assert parse_specification(SPEC.encode()) == spec
    assert parse_specification(yaml.safe_load(SPEC)) == spec


def test_formatting_does_not_change_the_hash():
    spec = parse_specification(SPEC)
    reformatted = parse_specification(SPEC_REFORMATTED)
    assert reformatted.description is None
    # Dependency order is kept (it is the user's), but the pip section is always last.
    assert reformatted.dependencies == ("python >=3.10", "numpy")
    assert reformatted.sha256 == spec.sha256


def test_different_dependencies_change_the_hash():
    base = parse_specification("name: env\ndependencies: [numpy]")
    assert parse_specification("name: env\ndependencies: [numpy, scipy]").sha256 != base.sha256
    assert parse_specification("name: env\ndependencies: [numpy >=2]").sha256 != base.sha256
    assert parse_specification("name: other\ndependencies: [numpy]").sha256 != base.sha256
    described = parse_specification("name: env\ndescription: hi\ndependencies: [numpy]")
    assert described.sha256 == base.sha256


def test_optional_fields_may_be_empty_and_prefix_is_ignored():
    spec = parse_specification("name: env\nchannels:\ndependencies:\nvariables:\nprefix: /opt/x\n")
    assert spec == Specification(name="env")
    assert spec.to_dict() == {"name": "env", "channels": [], "dependencies": []}


def test_channels_urls_and_labels_are_accepted():
    channels = [
        "conda-forge",
        "conda-forge/label/dev",
        "https://conda.anaconda.org/bioconda",
        "file:///srv/channel",
    ]
    spec = parse_specification({"name": "env", "channels": channels, "dependencies": ["x"]})
    assert spec.channels == tuple(channels)


@pytest.mark.parametrize("name", ["a", "env-1.2_x", "A" * 128, "numpy.env", "_private"])
def test_valid_names(name):
    assert validate_name("namespace", name) == name


# ---------------------------------------------------------------------------------------------
# Invalid specifications


def test_malformed_yaml_names_the_line():
    message = spec_error("name: env\ndependencies: [numpy, scipy\nchannels: []\n")
    assert message.startswith("Invalid YAML:")
    assert "line 3" in message


def test_top_level_must_be_a_mapping():
    assert "must be a mapping" in spec_error("- numpy\n- scipy\n")
    assert "got a list" in spec_error("- numpy\n")
    assert "got nothing" in spec_error("")


def test_missing_name():
    assert "must have a 'name'" in spec_error("dependencies: [numpy]")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("team/env", "must not contain '/'"),
        ("..", "must not be '.' or '..'"),
        (".", "must not be '.' or '..'"),
        ("a\0b", "NUL"),
        ("x" * 300, "300 characters, at most 128"),
        ("", "must not be empty"),
        (".hidden", "must not start with '.' or '-'"),
        ("-rf", "must not start with '.' or '-'"),
        ("my env", "not ' '"),
        ("café", "not 'é'"),
    ],
)
def test_bad_names(name, expected):
    message = spec_error({"name": name})
    assert message.startswith("environment name")
    assert expected in message


def test_validate_name_names_the_kind():
    with pytest.raises(SpecError) as raised:
        validate_name("namespace", "a/b")
    assert raised.value.message == "namespace name 'a/b' is invalid: it must not contain '/'"


def test_name_must_be_a_string():
    assert "name must be a string" in spec_error("name: 12")
    assert "name must be a string" in spec_error("name: [a]")


def test_unknown_key_is_named():
    message = spec_error("name: env\ndependecies: [numpy]\nextra: 1\n")
    assert "'dependecies'" in message and "'extra'" in message
    assert "allowed fields" in message


def test_duplicate_keys_are_refused():
    assert "duplicate key 'name'" in spec_error("name: a\nname: b\n")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("name: env\ndependencies: numpy", "dependencies must be a list, got a string"),
        ("name: env\ndependencies: {numpy: 1}", "dependencies must be a list, got a mapping"),
        ("name: env\nchannels: conda-forge", "channels must be a list, got a string"),
        ("name: env\ndependencies: [1.5]", "dependencies[0] must be a conda package spec"),
        ("name: env\ndependencies: [{conda: [x]}]", "got a mapping with keys ['conda']"),
        ("name: env\ndependencies: [{pip: x}]", "pip must be a list"),
        ("name: env\ndependencies: [{pip: [1]}]", "dependencies[0].pip[0] must be a string"),
        ("name: env\ndependencies: [{pip: [a]}, {pip: [b]}]", "only one 'pip' section"),
        ("name: env\nchannels: [1]", "channels[0] must be a string"),
        ("name: env\nvariables: [A]", "variables must be a mapping"),
        ("name: env\nvariables: {A: [1]}", "variables.A must be a string, number or boolean"),
        ("name: env\nvariables: {1A: x}", "'1A' is not a valid environment variable name"),
        ("name: env\ndescription: [x]", "description must be a string"),
    ],
)
def test_type_errors_name_the_field(source, expected):
    assert expected in spec_error(source)


@pytest.mark.parametrize("dependency", ["numpy >>= 1", "", ">=1.0", "num*"])
def test_bad_match_spec_is_named(dependency):
    message = spec_error({"name": "env", "dependencies": ["numpy", dependency]})
    # Ours: which entry, and what it is not. The reason after it is rattler's, in its words.
    prefix = f"dependencies[1] {dependency!r} is not a valid conda package spec: "
    assert message.startswith(prefix), message
    assert message[len(prefix) :].strip(), message


def test_bad_pip_requirement_is_named():
    message = spec_error({"name": "env", "dependencies": [{"pip": ["requests >>> 2"]}]})
    assert "dependencies[0].pip[0] 'requests >>> 2' is not a valid pip requirement" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "channel", ["ftp://example.org/ch", "/srv/channel", "../up", "conda forge", "a/../b"]
)
def test_bad_channels(channel):
    assert "channels[0]" in spec_error({"name": "env", "channels": [channel]})


def test_alias_bomb_is_refused_quickly():
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    started = time.monotonic()
    message = spec_error("name: laughs\n" + "\n".join(lines))
    assert time.monotonic() - started < 1
    assert message.startswith("YAML aliases are not allowed in a specification")
    assert "line 3" in message


def test_anchor_without_alias_is_harmless():
    assert parse_specification("name: &n env\n").name == "env"


@pytest.mark.parametrize("levels", [MAX_YAML_DEPTH + 1, 2_000, 100_000])
def test_deep_nesting_is_refused_with_our_limit(levels):
    # libyaml's composer would overflow the C stack on the deepest (a crash, not an exception);
    # PyYAML >= 6.0.4 stops at about 1,000 levels in its own words. Ours speaks in every case.
    deep = "name: env\ndependencies: " + "[" * levels + "]" * levels
    assert f"nested deeper than {MAX_YAML_DEPTH} levels" in spec_error(deep)


def test_deep_block_nesting_is_refused_with_our_limit():
    deep = (
        "name: env\nvariables:\n"
        + "".join("  " * level + f"k{level}:\n" for level in range(1, 60))
        + "  " * 60
        + "v: 1\n"
    )
    assert f"nested deeper than {MAX_YAML_DEPTH} levels" in spec_error(deep)


def test_oversized_spec_is_refused_without_parsing():
    huge = "name: env\ndependencies:\n" + "  - [[[[" * (10 * MAX_SPEC_BYTES // 8)
    started = time.monotonic()
    for source in (huge, huge.encode()):
        message = spec_error(source)
        assert "too large" in message
        assert f"{len(huge):,}" in message and f"{MAX_SPEC_BYTES:,} bytes" in message
    assert time.monotonic() - started < 1


def test_size_limit_counts_bytes():
    # Under the limit in characters, over it in UTF-8 bytes.
    text = "name: env\ndescription: " + "é" * (MAX_SPEC_BYTES // 2 + 1)
    assert "bytes" in spec_error(text)


def test_non_utf8_bytes():
    message = spec_error(b"name: env\ndescription: caf\xe9\n")
    # Ours: what is wrong and where (the byte after "caf"); the codec's reason between is Python's.
    assert message.startswith("specification is not valid UTF-8: "), message
    assert message.endswith(" at byte 26"), message


def test_control_characters_and_surrogates():
    # Ours: the prefix and the position of the NUL; PyYAML's problem text between is its own.
    message = spec_error("name: env\x00")
    assert message.startswith("Invalid YAML: "), message
    assert message.endswith(" (character 9)"), message
    assert "not valid Unicode" in spec_error("name: \udc80")


# ---------------------------------------------------------------------------------------------
# Policy


def test_default_channels_apply_only_when_none_given():
    policy = SpecPolicy(channels=("conda-forge",))
    bare = parse_specification("name: env\ndependencies: [numpy]")
    assert apply_policy(bare, policy).channels == ("conda-forge",)
    own = parse_specification("name: env\nchannels: [bioconda]\ndependencies: [numpy]")
    assert apply_policy(own, policy).channels == ("bioconda",)


def test_forbidden_channel_is_refused():
    policy = SpecPolicy(allowed_channels=("conda-forge", "file:///srv/channel/"))
    spec = parse_specification("name: env\nchannels: [conda-forge, bioconda]\ndependencies: [x]")
    with pytest.raises(SpecError) as raised:
        apply_policy(spec, policy)
    assert raised.value.message == (
        "channel bioconda is not allowed; allowed channels: conda-forge, file:///srv/channel/"
    )
    # `channel::package` names a channel too.
    sneaky = parse_specification("name: env\nchannels: [conda-forge]\ndependencies: [bioconda::x]")
    with pytest.raises(SpecError, match=r"channel https://conda\.anaconda\.org/bioconda/ is not"):
        apply_policy(sneaky, policy)


def test_allowed_channels_compare_normalised():
    policy = SpecPolicy(allowed_channels=("conda-forge", "file:///srv/channel/"))
    spec = parse_specification(
        {
            "name": "env",
            "channels": ["https://conda.anaconda.org/conda-forge/", "file:///srv/channel"],
            "dependencies": ["conda-forge::numpy"],
        }
    )
    assert apply_policy(spec, policy) == spec


def test_policy_packages():
    policy = SpecPolicy(
        default_packages=("python",),
        required_packages=("ipykernel",),
        included_packages=("ipykernel >=6", "pip"),
        pip_included_packages=("uv",),
        pip_required_packages=("requests",),
    )
    spec = parse_specification(
        "name: env\ndependencies: [numpy, ipykernel 7.*, {pip: [Requests==2.0]}]"
    )
    applied = apply_policy(spec, policy)
    # Defaults only apply to an empty list; included only when the name is absent.
    assert applied.dependencies == ("numpy", "ipykernel 7.*", "pip")
    assert applied.pip == ("Requests==2.0", "uv")

    empty = apply_policy(
        parse_specification("name: env\ndependencies: [{pip: [requests]}]"), policy
    )
    assert empty.dependencies == ("python", "ipykernel >=6", "pip")


def test_required_packages_are_named_when_missing():
    policy = SpecPolicy(required_packages=("python", "ipykernel"))
    spec = parse_specification("name: env\ndependencies: [numpy]")
    with pytest.raises(SpecError) as raised:
        apply_policy(spec, policy)
    assert raised.value.message == (
        "the specification must include the conda package(s) python, ipykernel"
    )
    with pytest.raises(SpecError, match="pip package"):
        apply_policy(spec, SpecPolicy(pip_required_packages=("requests",)))


def test_pip_default_packages():
    policy = SpecPolicy(pip_default_packages=("rich",))
    applied = apply_policy(parse_specification("name: env\ndependencies: [python]"), policy)
    assert applied.pip == ("rich",)


def test_hash_reflects_the_applied_policy():
    spec = parse_specification("name: env\ndependencies: [numpy]")
    applied = apply_policy(spec, SpecPolicy(channels=("conda-forge",), included_packages=("pip",)))
    assert applied.sha256 != spec.sha256
    explicit = parse_specification("name: env\nchannels: [conda-forge]\ndependencies: [numpy, pip]")
    assert applied.sha256 == explicit.sha256
    assert apply_policy(applied, SpecPolicy()) == applied


def test_invalid_policy_is_a_configuration_error():
    with pytest.raises(ValueError, match=r"CondaStore\.allowed_channels"):
        SpecPolicy(allowed_channels=("ftp://nope",))
    with pytest.raises(ValueError, match=r"CondaStore\.default_packages"):
        SpecPolicy(default_packages=("numpy >>= 1",))


# ---------------------------------------------------------------------------------------------
# Lock-file specifications

CHANNEL = "https://example.org/channel"


def record(name: str, version: str, *depends: str) -> RepoDataRecord:
    """A record as a channel would describe it (no I/O: these tests only write and parse)."""
    build = "h0123abc_0"
    file_name = f"{name}-{version}-{build}.tar.bz2"
    package = PackageRecord(
        name=name,
        version=version,
        build=BuildString(build),
        build_number=0,
        subdir="noarch",
        noarch="generic",
        depends=list(depends),
        md5=bytes.fromhex(f"{len(name):02x}" * 16),
        sha256=bytes.fromhex(f"{len(version):02x}" * 32),
    )
    return RepoDataRecord(package, file_name, f"{CHANNEL}/noarch/{file_name}", f"{CHANNEL}/")


@pytest.fixture
def lock_text(tmp_path) -> str:
    spec = parse_specification({"name": "env", "channels": [CHANNEL], "dependencies": ["beta"]})
    records = [record("alpha", "1.1"), record("beta", "0.5", "alpha >=1.1,<2")]
    path = tmp_path / "conda-lock.yml"
    write_conda_lock(path, spec=spec, records={"linux-64": records, "win-64": records})
    return path.read_text()


def test_lockfile_spec_parses(lock_text):
    spec = parse_lockfile_specification(lock_text, "locked", description="from a lock")
    assert isinstance(spec, LockfileSpecification)
    assert spec.name == "locked"
    assert spec.platforms == ("linux-64", "win-64")
    assert spec.lockfile["version"] == 1
    packages = {(p["name"], p["platform"]): p for p in spec.lockfile["package"]}
    assert packages["beta", "win-64"]["dependencies"] == {"alpha": ">=1.1,<2"}
    assert spec.to_dict() == {"name": "locked", "lockfile": spec.lockfile}
    assert LockfileSpecification.from_dict(spec.to_dict()).sha256 == spec.sha256
    assert len(spec.sha256) == 64
    assert parse_lockfile_specification(lock_text.encode(), "locked", "from a lock") == spec


def test_lockfile_spec_hash_ignores_formatting(lock_text):
    spec = parse_lockfile_specification(lock_text, "locked")
    content = yaml.safe_load(lock_text)
    content["package"].reverse()
    reformatted = yaml.safe_dump(content, default_flow_style=True)
    assert parse_lockfile_specification(reformatted, "locked").sha256 == spec.sha256
    assert parse_lockfile_specification(lock_text, "other").sha256 != spec.sha256


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("version: 1\npackage: [oops", "Invalid YAML"),
        ("- a\n- b\n", "not a conda-lock file: expected a mapping"),
        ("name: env\ndependencies: [numpy]\n", "not a conda-lock file: it has no 'version'"),
        ("version: 7\npackage: []\nmetadata: {}\n", "unsupported conda-lock file version 7"),
        # Ours: the prefix and the field (pydantic's reason after it is in its own words).
        ("version: 1\npackage: []\n", "invalid conda-lock file: metadata: "),
        (b"\x00\xff\xfe", "not valid UTF-8"),
        ("version: 1\na: &x [1]\nb: *x\n", "YAML aliases are not allowed"),
    ],
)
def test_garbage_lockfile_is_refused(source, expected):
    with pytest.raises(SpecError) as raised:
        parse_lockfile_specification(source, "env")
    assert expected in raised.value.message


def test_lockfile_without_md5_is_refused(lock_text):
    content = yaml.safe_load(lock_text)
    package = content["package"][0]
    del package["hash"]["md5"]
    with pytest.raises(SpecError) as raised:
        parse_lockfile_specification(yaml.safe_dump(content), "env")
    # Ours: the field and the package it belongs to. The rule (conda packages need an MD5) is
    # conda-lock's, and so are its words after this.
    label = f"{package['name']} {package['version']}, {package['manager']}"
    assert raised.value.message.startswith(
        f"invalid conda-lock file: package.0.hash ({label}): "
    ), raised.value.message


def test_lockfile_packages_must_be_for_listed_platforms(lock_text):
    content = yaml.safe_load(lock_text)
    content["metadata"]["platforms"] = ["linux-64"]
    with pytest.raises(SpecError, match=r"platform.* win-64 not listed"):
        parse_lockfile_specification(yaml.safe_dump(content), "env")


def test_lockfile_spec_name_is_validated(lock_text):
    with pytest.raises(SpecError, match="must not contain '/'"):
        parse_lockfile_specification(lock_text, "a/b")


def test_lockfile_channels_follow_the_policy(lock_text):
    spec = parse_lockfile_specification(lock_text, "env")
    assert apply_policy(spec, SpecPolicy(allowed_channels=(CHANNEL,))) is spec
    with pytest.raises(SpecError, match=f"channel {CHANNEL} is not allowed"):
        apply_policy(spec, SpecPolicy(allowed_channels=("conda-forge",)))
