"""The error tree every provider maps foreign exceptions into, at its boundary.

ReconcilerError
 ├── TemporaryError(retry_after)   worth retrying: throttling, 5xx, timeouts, a busy VMM job queue
 └── PermanentError(code)          not worth retrying: a refused request, a missing dependency
      ├── NotFoundError            the object asked for does not exist (ARM 404, a VMM ObjectNotFound record)
      └── PreconditionError        the live object is not in a state the change needs (VM running)

"Absent" is decided in one place: a provider's boundary raises ``NotFoundError`` for a missing object, and a
read that meets it answers None (``providers.base.absent_as_none``).
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """Base of the errors the engine understands."""


class TemporaryError(ReconcilerError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ReconcilerError):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class NotFoundError(PermanentError):
    """The object (or the parent a call goes through: a resource group, a VMM cloud) does not exist."""

    def __init__(self, message: str, *, code: str = "NotFound") -> None:
        super().__init__(message, code=code)


class PreconditionError(PermanentError):
    """The change needs the object in another state (VM off, host in maintenance)."""
