"""The rules of specifications, served: the panel checks what is typed with these, never with a
copy of its own.

GET `schema/specification/`: the JSON Schema of an environment specification (from the pydantic
model; `$defs.Name` is the rule of namespace and environment names).
POST `validate/specification/`: every problem of a specification (with its line and column),
of a namespace and of an environment name, under the store's policy. Nothing is built or
written: a problem is an answer (`valid: false`), not an HTTP error.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import SpecError
from ..spec import inspect_specification, specification_json_schema, validate_name
from .base import CondaStoreHandler

FIELDS = {"specification", "is_lockfile", "namespace", "environment_name"}
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
        self.finish_ok({"valid": not problems, "problems": problems, "name": name})
