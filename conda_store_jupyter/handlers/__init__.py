"""REST routes, relative to the server's base_url (ExtensionApp prepends it).

Path segments, names and build ids alike, are matched loosely (`[^/]+`) and validated in the
handler, so a hostile name or id gets a JSON 400 naming the problem rather than a bare HTML 404.
"""

from .builds import (
    BuildArtifactHandler,
    BuildCancelHandler,
    BuildDiffHandler,
    BuildHandler,
    BuildKernelHandler,
    BuildListHandler,
    BuildLogHandler,
    BuildLogStreamHandler,
    BuildPackagesHandler,
    BuildRecordHandler,
    BuildRestoreHandler,
)
from .environments import EnvironmentHandler, EnvironmentListHandler, EnvironmentLockfileHandler
from .gc import GcHandler
from .home import ServiceHomeHandler
from .kernels import KernelListHandler
from .kernelspecs import KernelSpecsHandler
from .namespaces import NamespaceHandler, NamespaceListHandler
from .openapi import OpenAPIHandler
from .roles import NamespaceRoleHandler, NamespaceRolesHandler
from .search import ChannelHandler, PackageHandler
from .specifications import SpecificationHandler
from .status import PermissionHandler, StatusHandler
from .tokens import TokenHandler
from .transfer import (
    EnvironmentExportHandler,
    ImportHandler,
    MoveHandler,
    NamespaceExportHandler,
)
from .usage import UsageHandler
from .validation import SpecificationSchemaHandler, SpecificationValidationHandler
from .watched import WatchedHandler

API_PREFIX = "conda-store/api/v1"
_NAME = r"([^/]+)"
_ID = r"([^/]+)"  # validated by CondaStoreHandler.id_argument (400 if not a number)

# Pages for a browser, outside the API (which answers 403 rather than send anyone to log in).
PAGES = [(r"conda-store/?", ServiceHomeHandler)]

ROUTES = [
    (rf"{API_PREFIX}/?", StatusHandler),
    (rf"{API_PREFIX}/openapi.json", OpenAPIHandler),
    (rf"{API_PREFIX}/permission/?", PermissionHandler),
    (rf"{API_PREFIX}/namespace/?", NamespaceListHandler),
    (rf"{API_PREFIX}/namespace/{_NAME}/?", NamespaceHandler),
    (rf"{API_PREFIX}/namespace/{_NAME}/roles/?", NamespaceRolesHandler),
    (rf"{API_PREFIX}/namespace/{_NAME}/export/?", NamespaceExportHandler),
    (rf"{API_PREFIX}/namespace/{_NAME}/role/?", NamespaceRoleHandler),
    (rf"{API_PREFIX}/environment/?", EnvironmentListHandler),
    (rf"{API_PREFIX}/environment/import/?", ImportHandler),
    (rf"{API_PREFIX}/environment/{_NAME}/{_NAME}/export/?", EnvironmentExportHandler),
    (rf"{API_PREFIX}/environment/{_NAME}/{_NAME}/(copy|rename)/?", MoveHandler),
    (rf"{API_PREFIX}/environment/{_NAME}/{_NAME}/lockfile/?", EnvironmentLockfileHandler),
    (rf"{API_PREFIX}/environment/{_NAME}/{_NAME}/?", EnvironmentHandler),
    (rf"{API_PREFIX}/specification/?", SpecificationHandler),
    (rf"{API_PREFIX}/schema/specification/?", SpecificationSchemaHandler),
    (rf"{API_PREFIX}/validate/specification/?", SpecificationValidationHandler),
    (rf"{API_PREFIX}/build/?", BuildListHandler),
    (rf"{API_PREFIX}/build/{_ID}/?", BuildHandler),
    (rf"{API_PREFIX}/build/{_ID}/cancel/?", BuildCancelHandler),
    (rf"{API_PREFIX}/build/{_ID}/restore/?", BuildRestoreHandler),
    (rf"{API_PREFIX}/build/{_ID}/record/?", BuildRecordHandler),
    (rf"{API_PREFIX}/build/{_ID}/kernel/?", BuildKernelHandler),
    (rf"{API_PREFIX}/build/{_ID}/packages/?", BuildPackagesHandler),
    (rf"{API_PREFIX}/build/{_ID}/logs/?", BuildLogHandler),
    (rf"{API_PREFIX}/build/{_ID}/logs/stream/?", BuildLogStreamHandler),
    (rf"{API_PREFIX}/build/{_ID}/(lockfile|yaml|explicit|archive)/?", BuildArtifactHandler),
    (rf"{API_PREFIX}/build/{_ID}/diff/{_ID}/?", BuildDiffHandler),
    (rf"{API_PREFIX}/channel/?", ChannelHandler),
    (rf"{API_PREFIX}/package/?", PackageHandler),
    (rf"{API_PREFIX}/kernels/?", KernelListHandler),
    (rf"{API_PREFIX}/kernelspecs/?", KernelSpecsHandler),
    (rf"{API_PREFIX}/watched/?", WatchedHandler),
    (rf"{API_PREFIX}/usage/?", UsageHandler),
    (rf"{API_PREFIX}/gc/?", GcHandler),
    (rf"{API_PREFIX}/token/?", TokenHandler),
]
