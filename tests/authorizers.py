"""Authorizers used by tests through `ServerApp.authorizer_class`."""

from jupyter_server.auth.authorizer import Authorizer


class DenyAllAuthorizer(Authorizer):
    def is_authorized(self, handler, user, action, resource) -> bool:
        return False
