"""Parse, validate, normalise and hash specifications (conda environment YAML or conda-lock files).

A specification is identified by the sha256 of its canonical JSON, so two texts that differ only
in formatting, comments or key order are the same specification. Policies (default and allowed
channels, default/required/included packages) are applied before hashing: the stored
specification says exactly what was built.

Everything here is pure: parsing only, no I/O, no solving. By concern:

- names.py: namespace and environment names (`validate_name`, `NAME_PATTERN`).
- yamlload.py: the hardened YAML loader and the size limits of every form.
- entries.py: the rules of one entry (channel, match spec, pip requirement, variable).
- model.py: the pydantic model of an environment specification, `Specification`,
  `parse_specification`.
- check.py: every problem of a text with its line and column (`check_specification`).
- solvecheck.py: a failed solve's explanation as problems at the lines of the dependencies.
- lockfile.py: conda-lock files as specifications.
- policy.py: the store's policy (`SpecPolicy`, `PipSourcePolicy`, `apply_policy`).
"""

from __future__ import annotations

from .check import Checked, check_specification, inspect_specification
from .entries import DENIED_VARIABLE_PREFIXES, DENIED_VARIABLES, variable_name_problem
from .lockfile import (
    LOCKFILE_VERSION,
    MAX_LOCKFILE_BYTES,
    LockfileSpecification,
    check_locked_pip_package,
    locked_pip_label,
    parse_conda_lock,
    parse_lockfile_specification,
    split_package_url,
)
from .model import (
    MAX_SPEC_ENTRIES,
    SPEC_KEYS,
    EnvironmentSpecification,
    Problem,
    Specification,
    parse_specification,
    specification_json_schema,
)
from .names import _NAME_CHARS, MAX_NAME_LENGTH, NAME_PATTERN, name_json_schema, validate_name
from .policy import (
    PYPI_FILES_HOST,
    PYPI_INDEX_URL,
    PipSourcePolicy,
    SpecPolicy,
    apply_policy,
    check_channels_allowed,
    check_pip_sources,
)
from .yamlload import MAX_NUMBER_CHARACTERS, MAX_SPEC_BYTES, MAX_YAML_DEPTH, YAMLProblem

__all__ = [
    "DENIED_VARIABLES",
    "DENIED_VARIABLE_PREFIXES",
    "LOCKFILE_VERSION",
    "MAX_LOCKFILE_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_NUMBER_CHARACTERS",
    "MAX_SPEC_BYTES",
    "MAX_SPEC_ENTRIES",
    "MAX_YAML_DEPTH",
    "NAME_PATTERN",
    "PYPI_FILES_HOST",
    "PYPI_INDEX_URL",
    "SPEC_KEYS",
    "_NAME_CHARS",
    "Checked",
    "EnvironmentSpecification",
    "LockfileSpecification",
    "PipSourcePolicy",
    "Problem",
    "SpecPolicy",
    "Specification",
    "YAMLProblem",
    "apply_policy",
    "check_channels_allowed",
    "check_locked_pip_package",
    "check_pip_sources",
    "check_specification",
    "inspect_specification",
    "locked_pip_label",
    "name_json_schema",
    "parse_conda_lock",
    "parse_lockfile_specification",
    "parse_specification",
    "specification_json_schema",
    "split_package_url",
    "validate_name",
    "variable_name_problem",
]
