"""`CondaStore`: the service configuration shared by the server extension, the CLI and workers.

Every tunable of the store lives here as a traitlet, so `c.CondaStore.channels = [...]` works the
same in `jupyter_server_config.py`, on the command line and in `jupyter conda-store`.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from traitlets import (
    Bool,
    Dict,
    Enum,
    Float,
    Integer,
    List,
    TraitError,
    Unicode,
    default,
    validate,
)
from traitlets.config import LoggingConfigurable


class ConfigList(List):
    """A list trait that also takes a whole list in one command-line value.

    traitlets documents `--CondaStore.channels=a --CondaStore.channels=b`. When the extension is
    loaded by `jupyter server` or `jupyter lab`, whose command line does not know this class, a
    single value arrives unparsed and `'["a", "b"]'` (the form people type) would become one
    channel named `["a", "b"]`. A value written as a JSON or Python list is read as that list.
    """

    def from_string(self, s: str) -> list:
        text = s.strip()
        if text.startswith("[") and text.endswith("]"):
            for parse in (json.loads, ast.literal_eval):
                try:
                    value = parse(text)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, list):
                    return self.from_string_list([str(item) for item in value])
            raise TraitError(f"{text!r} is not a list of strings")
        return super().from_string(s)


class CondaStore(LoggingConfigurable):
    """Where the store lives and which channels and policies apply to every environment."""

    store_dir = Unicode(
        help="Directory holding build prefixes, artifacts and the shared package cache.",
    ).tag(config=True)

    database_url = Unicode(
        help="SQLAlchemy URL of the store's database (default: a SQLite file in store_dir). "
        "Shared deployments use PostgreSQL, e.g. postgresql+psycopg://user@host/db.",
    ).tag(config=True)

    executor = Enum(
        ["local", "celery"],
        default_value="local",
        help="Where builds run. local: in child processes of this server. celery: on "
        "`jupyter conda-store worker` processes (any number, on any machines sharing store_dir "
        "and database_url), reached through celery_broker_url; the server only enqueues. "
        "celery needs PostgreSQL (database_url) and a broker.",
    ).tag(config=True)

    celery_broker_url = Unicode(
        "",
        help="The Celery broker servers enqueue builds on and workers take them from, e.g. "
        "redis://127.0.0.1:6379/0. Needed when executor is celery.",
    ).tag(config=True)

    remote_url = Unicode(
        help="The conda-store URL of a central service (e.g. a JupyterHub's, "
        "https://hub.example.org/services/conda-store/conda-store/). Set, this server keeps no "
        "store and builds nothing: its API (the panel, the client, the CLI) is forwarded there "
        "with remote_token. Default: $CONDA_STORE_URL, which a JupyterHub spawner sets.",
    ).tag(config=True)

    remote_token = Unicode(
        help="The credential remote_url is called with. Default: $CONDA_STORE_TOKEN, else, in a "
        "JupyterHub user's server, $JUPYTERHUB_API_TOKEN (the user's own).",
    ).tag(config=True)

    @default("remote_url")
    def _default_remote_url(self) -> str:
        return os.environ.get("CONDA_STORE_URL", "")

    channels = ConfigList(
        Unicode(),
        default_value=["conda-forge"],
        help="Channels used when a specification names none (names or URLs, e.g. file:///...).",
    ).tag(config=True)

    allowed_channels = ConfigList(
        Unicode(),
        default_value=[],
        help="Channels a specification may use. Empty means any channel is allowed.",
    ).tag(config=True)

    default_namespace = Unicode(
        "default",
        help="Namespace used when a request names none.",
    ).tag(config=True)

    storage_threshold = Integer(
        1024**3,
        min=0,
        help="Bytes that must stay free on the store's disk: below this, new builds are refused "
        "with a clear message (507) instead of starting only to fail half way. 0: no check.",
    ).tag(config=True)

    keep_builds = Integer(
        0,
        min=0,
        help="Retention: the newest this many completed builds of each environment keep their "
        "prefix; older ones are collected by garbage collection (`jupyter conda-store gc`, and "
        "every gc_interval): prefix and conda-pack archive removed, log, lock file and "
        "specification kept, restorable from the lock file. An environment's current build and "
        "a build a kernel runs are never collected. 0: no count rule.",
    ).tag(config=True)

    keep_days = Float(
        0,
        min=0,
        help="Retention: completed builds that ended less than this many days ago keep their "
        "prefix. With keep_builds too, a build either rule keeps is kept. 0: no age rule (and "
        "with keep_builds 0 as well, no build is collected).",
    ).tag(config=True)

    gc_interval = Float(
        3600.0,
        min=0,
        help="Seconds between garbage collections, run by one process of the deployment: "
        "builds by the retention rules (keep_builds, keep_days), then package cache entries no "
        "prefix uses (gc_package_cache). 0: only `jupyter conda-store gc` collects.",
    ).tag(config=True)

    gc_package_cache = Bool(
        True,
        help="Garbage collection removes package cache entries that no prefix on disk uses "
        "(never while a build is queued or running).",
    ).tag(config=True)

    namespace_quota = Integer(
        0,
        min=0,
        help="Bytes each namespace's builds may hold (the sum of its prefixes' sizes, collected "
        "builds not counted): a new build in a namespace over it is refused (507). 0: none. "
        "namespace_quotas overrides it per namespace.",
    ).tag(config=True)

    namespace_quotas = Dict(
        value_trait=Integer(min=0),
        default_value={},
        help="Per-namespace quotas in bytes, e.g. {'alice': 10 * 1024**3, 'team-ml': 0} (0: "
        "none), over namespace_quota.",
    ).tag(config=True)

    def quota_of(self, namespace: str) -> int:
        """The quota of a namespace in bytes (0: none): the one rule, for builds and usage."""
        return self.namespace_quotas.get(namespace, self.namespace_quota)

    watch_paths = ConfigList(
        Unicode(),
        help="Environment specification files, and directories of them (*.yml, *.yaml, "
        "searched recursively), each built into `filesystem_namespace` when it appears or "
        "changes (watch.py). One process of the deployment watches them.",
    ).tag(config=True)

    filesystem_namespace = Unicode(
        "filesystem", help="The namespace of the environments of `watch_paths`."
    ).tag(config=True)

    watch_deletes_environments = Bool(
        False,
        help="When a watched file is deleted, delete its environment too (by default it is "
        "left as it is).",
    ).tag(config=True)

    default_packages = ConfigList(
        Unicode(),
        help="Conda packages added to a specification that lists no conda dependencies.",
    ).tag(config=True)

    required_packages = ConfigList(
        Unicode(),
        help="Conda packages every specification must name (by package name); others are refused.",
    ).tag(config=True)

    included_packages = ConfigList(
        Unicode(),
        help="Conda packages added to every specification that does not name them already.",
    ).tag(config=True)

    pip_default_packages = ConfigList(Unicode(), help="As default_packages, for pip.").tag(
        config=True
    )
    pip_required_packages = ConfigList(Unicode(), help="As required_packages, for pip.").tag(
        config=True
    )
    pip_included_packages = ConfigList(Unicode(), help="As included_packages, for pip.").tag(
        config=True
    )

    # Where pip packages may come from (spec.PipSourcePolicy): checked when a specification or
    # lock file is submitted, and again by the build, which passes the index and wheel-only
    # settings to uv.
    pip_index_url = Unicode(
        "https://pypi.org/simple",
        help="The package index pip dependencies are resolved against (uv --default-index).",
    ).tag(config=True)
    pip_extra_index_urls = ConfigList(
        Unicode(), help="More package indexes, after pip_index_url (uv --index)."
    ).tag(config=True)
    pip_allowed_hosts = ConfigList(
        Unicode(),
        default_value=["files.pythonhosted.org"],
        help="Hosts a direct pip URL (`name @ https://host/...`, a lock file's pip URL) may "
        "name, as glob patterns ('*' for any host, 'host:port' for one port). The hosts of "
        "pip_index_url and pip_extra_index_urls are always allowed; any other is refused.",
    ).tag(config=True)
    pip_allow_vcs = Bool(
        False,
        help="Allow `name @ git+https://host/...` (and hg+, svn+, bzr+) from an allowed host. "
        "A checkout is built: its build backend runs during the build.",
    ).tag(config=True)
    pip_allow_local = Bool(
        False,
        help="Allow pip requirements naming files or directories of the machine the build runs "
        "on (`name @ file:///...`, paths). Refused by default: editors must not reach the "
        "builder's files, nor make it run a local directory's build backend.",
    ).tag(config=True)
    pip_only_binary = Bool(
        False,
        help="Install binary wheels only (uv --only-binary :all:): no source distribution, VCS "
        "checkout or local directory is ever built, so no package's code runs during a build.",
    ).tag(config=True)
    build_environment_passthrough = ConfigList(
        Unicode(),
        help="Environment variables (names or glob patterns, e.g. CC, PIP_CERT) that builds "
        "get from the server's or worker's environment, beyond the fixed allow list of "
        "conda_store_jupyter.buildenv (PATH, HOME, locale, TMPDIR, proxies, CA bundles). "
        "Everything else is kept from builds. What passes is visible to build-time code (a "
        "source distribution's build backend) unless pip_only_binary is set.",
    ).tag(config=True)

    solve_platforms = ConfigList(
        Unicode(),
        help="Platforms every build solves for, so its lock file works there too (e.g. "
        "linux-64, osx-arm64, win-64). The host platform is always solved and installed.",
    ).tag(config=True)

    build_artifacts = ConfigList(
        Unicode(),
        default_value=["lockfile", "yaml", "explicit"],
        help="Artifacts written by every build: any of lockfile (conda-lock.yml), yaml "
        "(environment.yaml with exact pins), explicit (@EXPLICIT spec), archive (conda-pack).",
    ).tag(config=True)

    solve_timeout = Float(600.0, help="Seconds one solve may take before the build fails.").tag(
        config=True
    )

    role_bindings = Dict(
        value_trait=List(Unicode()),
        default_value=None,
        allow_none=True,
        help="Roles (viewer, editor, admin) per entity pattern 'namespace/environment', "
        "with {username} replaced by the caller's name and {group} by each of their JupyterHub "
        "groups (one binding per group), e.g. "
        "{'{username}/*': ['admin'], '{group}/*': ['editor'], 'default/*': ['viewer'], "
        "'team-*/*': ['editor']}. "
        "Default: the server's user is admin of everything inside JupyterLab (personal mode); "
        "{username}/* admin, {group}/* editor and default/* viewer under `jupyter conda-store` "
        "(shared mode). JupyterHub admins are admins of every namespace.",
    ).tag(config=True)

    token_max_lifetime = Float(
        30 * 24 * 3600.0,
        help="Seconds a token minted with POST token/ may live at most (a token minted with "
        "another token: no longer than that one).",
    ).tag(config=True)

    @validate("role_bindings")
    def _validate_role_bindings(self, proposal: dict) -> dict | None:
        from .auth import check_bindings

        if proposal["value"] is not None:
            try:
                check_bindings(proposal["value"])
            except ValueError as error:
                raise TraitError(f"CondaStore.role_bindings: {error}") from None
        return proposal["value"]

    @default("solve_platforms")
    def _default_solve_platforms(self) -> list[str]:
        from .solver import host_platform

        return [host_platform()]

    @validate("solve_platforms")
    def _validate_solve_platforms(self, proposal: dict) -> list[str]:
        from .errors import SpecError
        from .solver import validate_platform

        try:
            return [validate_platform(platform) for platform in proposal["value"]]
        except SpecError as error:
            raise TraitError(f"CondaStore.solve_platforms: {error.message}") from None

    @validate("build_artifacts")
    def _validate_build_artifacts(self, proposal: dict) -> list[str]:
        known = ("lockfile", "yaml", "explicit", "archive")
        unknown = [name for name in proposal["value"] if name not in known]
        if unknown:
            raise TraitError(
                f"CondaStore.build_artifacts: unknown artifact(s) {unknown}; known: {known}"
            )
        return list(proposal["value"])

    @default("store_dir")
    def _default_store_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "conda-store")

    @default("database_url")
    def _default_database_url(self) -> str:
        # In .db/: no namespace can be named like a dot-directory, so none ever shares a path
        # with the database or the files SQLite keeps beside it (-wal, -shm). A store made
        # before keeps its database where it is (those names are reserved there).
        legacy = Path(self.store_dir, "conda-store.sqlite")
        if legacy.exists():
            return f"sqlite:///{legacy}"
        return f"sqlite:///{Path(self.store_dir, '.db', 'conda-store.sqlite')}"

    @validate("store_dir")
    def _validate_store_dir(self, proposal: dict) -> str:
        return os.path.abspath(os.path.expanduser(proposal["value"]))

    @validate("default_namespace")
    def _validate_default_namespace(self, proposal: dict) -> str:
        from .errors import SpecError
        from .spec import validate_name

        try:
            return validate_name("namespace", proposal["value"])
        except SpecError as error:
            raise TraitError(f"CondaStore.default_namespace: {error.message}") from None

    def deployment_problem(self) -> str | None:
        """What stops this configuration from running, said so that the reader knows what to
        set; None if nothing. Checked by the server and by every worker at start."""
        if self.storage_class == "s3" and not self.s3_bucket:  # artifact storage (storage.py)
            return (
                "CondaStore.storage_class is 's3' but CondaStore.s3_bucket is not set: set it to "
                "the bucket build artifacts go to, e.g. --CondaStore.s3_bucket=conda-store"
            )
        if self.executor != "celery":
            return None
        if not self.celery_broker_url:
            return (
                "CondaStore.executor is 'celery' but CondaStore.celery_broker_url is not set: "
                "set it to the broker the workers use, e.g. "
                "--CondaStore.celery_broker_url=redis://127.0.0.1:6379/0"
            )
        if self.database_url.startswith("sqlite"):
            return (
                "CondaStore.executor is 'celery' but CondaStore.database_url is SQLite "
                f"({self.database_url}), which only one machine can use: set it to the "
                "PostgreSQL database every server and worker shares, e.g. "
                "--CondaStore.database_url=postgresql+psycopg://conda_store@db-host/conda_store"
            )
        return None

    # -- artifact storage (storage.py) ------------------------------------------------------
    storage_class = Enum(
        ["local", "s3"],
        default_value="local",
        help="Where build artifacts (log, lock file, environment YAML, @EXPLICIT file, "
        "conda-pack archive) are kept once their build has ended. local: in store_dir. s3: "
        "uploaded to s3_bucket (any S3-protocol server), local copies removed, downloads "
        "redirected to presigned URLs. s3 needs boto3 (pip install conda-store-jupyter[s3]).",
    ).tag(config=True)
    s3_bucket = Unicode("", help="The bucket of storage_class 's3'; it must exist.").tag(
        config=True
    )
    s3_prefix = Unicode(
        "", help="Key prefix in s3_bucket: objects are <prefix>/<path relative to store_dir>."
    ).tag(config=True)
    s3_endpoint_url = Unicode(
        "", help="The S3 endpoint (MinIO, Ceph, ...), e.g. https://minio.example.org. Empty: AWS."
    ).tag(config=True)
    s3_region = Unicode("", help="The bucket's region. Empty: boto3's default.").tag(config=True)
    s3_access_key_id = Unicode(
        "",
        help="Access key of s3_bucket. Empty: boto3's credential chain (AWS_* variables, "
        "~/.aws, an instance or pod role).",
    ).tag(config=True)
    s3_secret_access_key = Unicode(
        "", help="Secret key of s3_access_key_id. Empty: boto3's credential chain."
    ).tag(config=True)
    s3_presigned_url_expiry = Integer(
        600, min=1, help="Seconds a download's presigned URL (the redirect's target) is valid."
    ).tag(config=True)
