"""The error tree every provider maps foreign exceptions into, at its boundary.

ReconcilerError
 ├── TemporaryError(retry_after)   worth retrying: throttling, 5xx, timeouts, a busy VMM job queue
 └── PermanentError                not worth retrying: a refused request, a missing dependency
      └── PreconditionError       the live object is not in a state the change needs (VM running)
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


class PreconditionError(PermanentError):
    """The change needs the object in another state (VM off, host in maintenance)."""
