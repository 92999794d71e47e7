"""The specification model and `check_specification`: every problem, with its line and column,
by the same rules as `parse_specification`; the model's JSON Schema agrees with the rules."""

from __future__ import annotations

import re

import jsonschema
import pytest

from conda_store_jupyter.errors import SpecError
from conda_store_jupyter.spec import (
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    SPEC_KEYS,
    EnvironmentSpecification,
    Problem,
    SpecPolicy,
    check_specification,
    inspect_specification,
    parse_specification,
    specification_json_schema,
    validate_name,
)


def where(problems: list[Problem]) -> list[tuple[int | None, int | None, tuple]]:
    return [(problem.line, problem.column, problem.path) for problem in problems]


def test_valid_text_has_no_problem():
    text = "name: env\nchannels: [conda-forge]\ndependencies: [python, {pip: [rich]}]\n"
    assert check_specification(text) == []
    checked = inspect_specification(text)
    assert checked.spec == parse_specification(text) and checked.name == "env"


def test_unknown_field_is_on_its_own_line():
    problems = check_specification("name: x\ndependencies: [python]\nchanels: [conda-forge]\n")
    assert where(problems) == [(3, 1, ("chanels",))]
    assert problems[0].message.startswith("Unknown field 'chanels'; allowed fields: name,")
    # parse_specification keeps its one message naming them all.
    with pytest.raises(SpecError, match=r"unknown field\(s\) in specification: 'chanels'"):
        parse_specification("name: x\ndependencies: [python]\nchanels: [conda-forge]\n")


def test_every_problem_is_reported_where_it_is():
    text = (
        "name: x\n"  # 1
        "extra: 1\n"  # 2
        "dependencies:\n"  # 3
        "  - python\n"  # 4
        "  - numpy >>= 1\n"  # 5
        "  - 1.5\n"  # 6
        "  - pip:\n"  # 7
        "      - rich\n"  # 8
        "      - 7\n"  # 9
        "channels: [conda-forge, 'ftp://nope']\n"  # 10
        "variables:\n"  # 11
        "  PATH: /bin\n"  # 12
        "  OK: [1]\n"  # 13
    )
    problems = check_specification(text)
    assert where(problems) == [
        (2, 1, ("extra",)),
        (5, 5, ("dependencies", 1)),
        (6, 5, ("dependencies", 2)),
        (9, 9, ("dependencies", 3, "pip", 1)),
        (10, 25, ("channels", 1)),
        (12, 3, ("variables", "PATH")),
        (13, 7, ("variables", "OK")),
    ]
    messages = [problem.message for problem in problems]
    assert messages[1].startswith("dependencies[1] 'numpy >>= 1' is not a valid conda package")
    assert messages[2].startswith("dependencies[2] must be a conda package spec")
    assert messages[3] == "dependencies[3].pip[1] must be a string (a pip requirement), got int"
    assert messages[4].startswith("channels[1] 'ftp://nope' has an unsupported URL scheme")
    assert messages[5].startswith("variables: 'PATH' cannot be set by an environment")
    assert messages[6] == "variables.OK must be a string, number or boolean, got a list"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The parser's own mark: where it found out.
        ("name: env\ndependencies: [numpy, scipy\nchannels: []\n", (3, 9)),
        ("name: x\ndependencies:\n  - python\n  numpy: [\n", (4, 3)),
        ("name: a\nname: b\n", (2, 1)),
        ("name: &a x\ndescription: *a\n", (2, 14)),
        ("name: env\x00", (1, 10)),
        ("name: x\nvariables: {A: " + "9" * 100 + "}\n", (2, 16)),
    ],
)
def test_yaml_problems_have_the_parsers_position(text, expected):
    problems = check_specification(text)
    assert len(problems) == 1 and problems[0].path == ()
    assert (problems[0].line, problems[0].column) == expected
    with pytest.raises(SpecError) as raised:
        parse_specification(text)
    assert problems[0].message == raised.value.message


@pytest.mark.parametrize(
    "text",
    [
        "name: env\ndependencies: numpy",
        "name: env\ndependencies: [{pip: [a]}, {pip: [b]}]",
        "name: env\ndependencies: [{conda: [x]}]",
        "name: env\nvariables: {1A: x}",
        "name: env\ndescription: [x]",
        "name: 12",
        "name: ../x",
        "dependencies: [numpy]",
        "- numpy\n",
        "",
    ],
)
def test_the_first_problem_is_what_parse_specification_says(text):
    with pytest.raises(SpecError) as raised:
        parse_specification(text)
    assert check_specification(text)[0].message == raised.value.message


def test_positions_of_names_sections_and_keys():
    text = "name: .hidden\ndependencies: [{pip: [a]}, {pip: [b]}]\nvariables:\n  1A: x\n"
    assert where(check_specification(text)) == [
        (1, 7, ("name",)),
        (2, 28, ("dependencies", 1)),  # the second pip section
        (4, 3, ("variables", "1A")),  # the name's own position
    ]
    missing = check_specification("dependencies: [numpy]\n")
    assert [problem.message for problem in missing] == ["specification must have a 'name'"]


def test_a_parsed_mapping_has_paths_but_no_positions():
    problems = check_specification({"name": "x", "dependencies": ["ok", "a >>= 1"]})
    assert where(problems) == [(None, None, ("dependencies", 1))]


def test_policy_problems_are_placed_on_their_entries():
    policy = SpecPolicy(allowed_channels=("conda-forge",), required_packages=("python",))
    text = (
        "name: x\n"
        "channels:\n"
        "  - conda-forge\n"
        "  - bioconda\n"
        "dependencies:\n"
        "  - python\n"
        "  - bioconda::samtools\n"
        "  - pip:\n"
        "      - 'six @ https://example.org/six-1.0-py3-none-any.whl'\n"
    )
    problems = check_specification(text, policy=policy)
    assert where(problems) == [
        (4, 5, ("channels", 1)),
        (7, 5, ("dependencies", 1)),
        (9, 9, ("dependencies", 2, "pip", 0)),
    ]
    assert problems[0].message == ("channel bioconda is not allowed; allowed channels: conda-forge")
    assert "host example.org is not an allowed pip source" in problems[2].message
    # What only the whole specification can say is at its start.
    missing = check_specification("name: x\ndependencies: [numpy]\n", policy=policy)
    assert where(missing) == [(1, 1, ())]
    assert missing[0].message.startswith("the specification must include the conda package")
    assert check_specification("name: x\ndependencies: [python]\n", policy=policy) == []


def test_lock_file_problems():
    problems = check_specification("version: 1\npackage: [oops", is_lockfile=True)
    assert len(problems) == 1 and problems[0].message.startswith("Invalid YAML")
    assert problems[0].line is not None and problems[0].column is not None
    refused = check_specification("version: 2\n", is_lockfile=True, environment_name="x")
    assert [problem.message for problem in refused] == [
        "unsupported conda-lock file version 2; version 1 is supported"
    ]


# ---------------------------------------------------------------------------------------------
# The JSON Schema


def test_schema_fields_are_the_specifications():
    schema = specification_json_schema()
    assert set(schema["properties"]) == set(SPEC_KEYS) == set(EnvironmentSpecification.model_fields)
    assert schema["additionalProperties"] is False and schema["required"] == ["name"]
    validator = jsonschema.Draft202012Validator(schema)
    text_spec = {
        "name": "env",
        "channels": ["conda-forge"],
        "dependencies": ["python >=3.10", {"pip": ["rich"]}],
        "variables": {"A": 1, "B": "x", "C": True},
        "description": None,
    }
    assert list(validator.iter_errors(text_spec)) == []
    # `channels:` with nothing after it is YAML's null, and fine.
    assert list(validator.iter_errors({"name": "env", "channels": None, "variables": None})) == []
    assert list(validator.iter_errors({"name": "env", "chanels": []}))
    assert list(validator.iter_errors({"name": "env", "dependencies": [{"conda": ["x"]}]}))
    assert list(validator.iter_errors({"name": "env", "variables": {"1A": "x"}}))


@pytest.mark.parametrize(
    "name",
    ["a", "env-1.2_x", "_p", "A" * MAX_NAME_LENGTH, "A" * (MAX_NAME_LENGTH + 1), "", ".", "..",
     ".hidden", "-rf", "a/b", "a\0b", "my env", "café", "a:b", "ok.", "1"],
)  # fmt: skip
def test_the_schemas_name_rule_is_validate_names(name):
    schema = specification_json_schema()
    for rule in (schema["properties"]["name"], schema["$defs"]["Name"]):
        by_schema = (
            re.search(rule["pattern"], name) is not None
            and rule["minLength"] <= len(name) <= rule["maxLength"]
        )
        assert rule["pattern"] == NAME_PATTERN
        try:
            validate_name("namespace", name)
            valid = True
        except SpecError:
            valid = False
        assert by_schema == valid, name
