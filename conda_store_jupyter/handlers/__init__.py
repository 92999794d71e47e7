"""REST routes, relative to the server's base_url (ExtensionApp prepends it)."""

from .status import StatusHandler

API_PREFIX = "conda-store/api/v1"

ROUTES = [
    (rf"{API_PREFIX}/?", StatusHandler),
]
