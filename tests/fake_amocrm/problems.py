"""Errors the fake amoCRM raises while handling a request.

Handlers raise :class:`ApiError` (or :class:`ValidationFailed`); the server
turns them into ``application/problem+json`` responses shaped like the real
ones (``title``, ``type``, ``status``, ``detail`` and, for 400 validation
failures, ``validation-errors`` keyed by ``request_id``).
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "ErrInternalServer",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """A request the fake refuses; becomes a problem+json response."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, extra: JSON | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.extra = extra or {}

    def body(self) -> JSON:
        """The problem+json document for this error."""
        body: JSON = {
            "title": self.title,
            "type": f"https://httpstatus.es/{self.status}",
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class ValidationFailed(ApiError):
    """400 with ``validation-errors``: one entry per failing ``request_id``."""

    def __init__(self, errors: list[JSON]) -> None:
        super().__init__(400, "Request validation failed", extra={"validation-errors": errors})
        self.errors = errors


def problem(code: str, path: str, detail: str) -> JSON:
    """One element of a ``validation-errors[].errors`` list."""
    return {"code": code, "path": path, "detail": detail}


def not_expected(path: str) -> JSON:
    """The error for a key the API does not accept."""
    return problem("FieldNotExpected", path, "This field was not expected.")


def invalid_type(path: str, expected: str) -> JSON:
    """The error for a value of the wrong JSON type."""
    return problem("InvalidType", path, f"This value should be of type {expected}.")


def bad_choice(path: str, detail: str = "The value you selected is not a valid choice.") -> JSON:
    """The error for an id or enum that does not exist."""
    return problem("NotSupportedChoice", path, detail)
