"""Domain errors of the service layer. Handlers map them to HTTP statuses in one place; the CLI
and workers print their message. Every message names the problem in words a user can act on."""


class CondaStoreError(Exception):
    """Base of every error the service layer raises on purpose."""

    status_code = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SpecError(CondaStoreError):
    """The specification (or another input) is invalid: malformed YAML, unknown field, bad name..."""

    status_code = 400


class Forbidden(CondaStoreError):
    """The caller lacks the role, or the policy forbids it (e.g. a channel not allowed)."""

    status_code = 403


class NotFound(CondaStoreError):
    status_code = 404


class Conflict(CondaStoreError):
    """The request contradicts the current state (delete the current build, cancel a finished one)."""

    status_code = 409
