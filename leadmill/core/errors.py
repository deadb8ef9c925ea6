"""Domain errors: raised by services, mapped to clear messages by the edge (views, API)."""


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    ``code`` is stable (API clients match on it); ``message`` is a sentence for a person.
    """

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, field_errors: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field_errors = field_errors or {}


class NotFound(DomainError):
    code = "not_found"


class ValidationFailed(DomainError):
    """Input broke a rule; ``field_errors`` maps each field to its messages."""

    code = "invalid"


class Conflict(DomainError):
    """The request contradicts the state of a row (already done, in use, merged away)."""

    code = "conflict"


class PermissionDenied(DomainError):
    code = "forbidden"
