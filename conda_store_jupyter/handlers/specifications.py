"""POST `specification/`: create or update an environment (answers with the build id at once);
GET `specification/?channel=&conda=&pip=`: a dry-run solve."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import SpecError
from ..spec import validate_name
from .base import CondaStoreHandler

FIELDS = {
    "namespace",
    "specification",
    "is_lockfile",
    "environment_name",
    "environment_description",
}


def require_solve(handler: CondaStoreHandler, namespace: str | None) -> None:
    """Solving costs the server real work: it needs `environment::solve` in the namespace asked
    for (by default the caller's primary namespace), as in conda-store. 403 otherwise."""
    if namespace is None:
        namespace = handler.primary_namespace
    handler.caller.require("environment::solve", validate_name("namespace", namespace))


class SpecificationHandler(CondaStoreHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body(FIELDS, required={"specification"})
        namespace = body.get("namespace") or self.conda_store.default_namespace
        if not isinstance(namespace, str):
            raise SpecError("namespace must be a string")
        namespace = self.name_argument("namespace", namespace)
        specification = body["specification"]
        if not isinstance(specification, (str, dict)):
            raise SpecError("specification must be the environment YAML as a string (or an object)")
        is_lockfile = body.get("is_lockfile", False)
        if not isinstance(is_lockfile, bool):
            raise SpecError("is_lockfile must be true or false")
        for field in ("environment_name", "environment_description"):
            if body.get(field) is not None and not isinstance(body[field], str):
                raise SpecError(f"{field} must be a string")
        environment_name = body.get("environment_name") or None
        # Creating and updating need the same role; which one this is is known only after
        # parsing, so check with the name the request gives (or the spec's, below).
        self.caller.require("environment::create", namespace, environment_name or "*")
        build = await self.run(
            self.service.submit_specification,
            namespace,
            specification,
            is_lockfile=is_lockfile,
            environment_name=environment_name,
            description=body.get("environment_description"),
            caller=self.caller,
        )
        self.finish_ok({"build_id": build.id})

    @web.authenticated
    @authorized
    async def get(self) -> None:
        require_solve(self, self.optional_name_argument("namespace", "namespace"))
        # conda-store's client (`conda-store solve`) sends `channels`; its server reads `channel`.
        channels = self.list_argument("channel") + self.list_argument("channels")
        conda = self.list_argument("conda")
        pip = self.list_argument("pip")
        if not conda:
            raise SpecError("give at least one conda package to solve: ?conda=python&conda=numpy")
        packages = await self.service.dry_run_solve(channels, conda, pip)
        # conda-store's client reads the result from a top-level "solve" key.
        self.finish_ok({"packages": packages}, solve=packages)
