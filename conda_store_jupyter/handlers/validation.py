"""The rules of specifications, served: the panel checks what is typed with these, never with a
copy of its own.

GET `schema/specification/`: the JSON Schema of an environment specification (from the pydantic
model; `$defs.Name` is the rule of namespace and environment names).
POST `validate/specification/`: every problem of a specification (with its line and column),
of a namespace and of an environment name, under the store's policy. Nothing is built or
written: a problem is an answer (`valid: false`), not an HTTP error. With `"solve": true` (the
panel's "Check"), a specification without other problems is also solved as a build would solve
it: `solved`, the `packages` it would install, and the solver's complaints as problems at the
lines of the dependencies they concern (service/check.py). Solving needs `environment::solve` in
`namespace` (default: the caller's primary namespace), as the dry-run solve does: 403 without.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import SpecError
from ..spec import (
    Specification,
    inspect_specification,
    specification_json_schema,
    validate_name,
)
from .base import CondaStoreHandler
from .specifications import require_solve

FIELDS = {"specification", "is_lockfile", "namespace", "environment_name", "solve"}
NAMES = (("namespace", "namespace"), ("environment_name", "environment"))


class SpecificationSchemaHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish_ok(specification_json_schema())


class SpecificationValidationHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body(FIELDS)
        specification = body.get("specification")
        if specification is not None and not isinstance(specification, (str, dict)):
            raise SpecError("specification must be the environment YAML as a string (or an object)")
        is_lockfile = body.get("is_lockfile", False)
        if not isinstance(is_lockfile, bool):
            raise SpecError("is_lockfile must be true or false")
        solve = body.get("solve", False)
        if not isinstance(solve, bool):
            raise SpecError("solve must be true or false")
        namespace = body.get("namespace")
        if solve and (namespace is None or valid_name("namespace", namespace)):
            # An invalid name is a problem of the answer, and nothing is solved then.
            require_solve(self, namespace)

        problems: list[dict[str, Any]] = []

        def problem(field: str, message: str) -> None:
            problems.append(
                {"message": message, "line": None, "column": None, "path": [], "field": field}
            )

        for field, kind in NAMES:
            if body.get(field) is not None:
                try:
                    validate_name(kind, body[field])
                except SpecError as error:
                    problem(field, error.message)
        environment_name = body.get("environment_name")
        # What submitting refuses before reading a lock file (as POST specification/ does).
        if is_lockfile and specification is not None:
            if not isinstance(specification, str):
                problem("specification", "a lock file specification must be the lock file's text")
                specification = None
            elif environment_name is None:
                problem("environment_name", "a lock file specification needs an environment name")
        name = None
        checked = None
        if specification is not None:
            checked = await self.run(
                inspect_specification,
                specification,
                policy=self.service.policy,
                is_lockfile=is_lockfile,
                environment_name=environment_name if isinstance(environment_name, str) else None,
            )
            name = checked.name
            problems += [
                {**found.to_json(), "field": "specification"} for found in checked.problems
            ]
        answer: dict[str, Any] = {"solved": False, "packages": []}
        if solve and not problems and checked and isinstance(checked.spec, Specification):
            # A lock file is installed as it is: nothing to solve.
            answer = await self.service.check_by_solving(specification, checked.spec)
            problems += answer.pop("problems")
        self.finish_ok({"valid": not problems, "problems": problems, "name": name, **answer})


def valid_name(kind: str, name: object) -> bool:
    try:
        validate_name(kind, name)
    except SpecError:
        return False
    return True
