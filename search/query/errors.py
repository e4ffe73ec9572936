"""The engine's own errors: a code and a message for the user, in Japanese.

The engine says what is wrong; the caller decides what that means for it
(web/ maps each kind to an HTTP status, the CLI to a usage error).
"""


class QueryError(ValueError):
    """A request the engine will not answer."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class BadRequest(QueryError):
    """A parameter or query the engine cannot take (missing, malformed, out of range)."""


class NotFound(QueryError):
    """The item asked for is not in the index."""
