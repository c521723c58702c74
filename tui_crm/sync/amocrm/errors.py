"""Errors of the amoCRM/Kommo adapter, each with a message a user can act on.

Every class derives from :class:`AmoError` (itself a
:class:`~tui_crm.domain.errors.CrmError`, so the CLI prints the message as
is). Attributes tell the sync engine what happened:

* ``status``: the HTTP status, None when no response came back;
* ``request_id``: the server's ``X-Request-Id`` (quote it to support);
* ``maybe_applied``: a write was sent and no answer says whether it was
  applied (dropped connection, timeout, 5xx on POST/PATCH). The engine must
  reconcile (look the records up) before sending it again; amoCRM does not
  deduplicate by ``request_id``;
* ``batch``: for ``post_batch``/``patch_batch``, which items were done,
  which chunk failed and which were never sent (:class:`BatchProgress`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tui_crm.domain.errors import CrmError

JSON = dict[str, Any]


@dataclass
class BatchProgress:
    """Where a chunked batch write stopped.

    ``done`` holds the ``_embedded`` echo items of the chunks that succeeded,
    ``failed`` the items of the chunk that raised (applied or not: see
    ``maybe_applied`` on the error), ``not_sent`` the items never sent.
    """

    done: list[JSON] = field(default_factory=list)
    failed: list[JSON] = field(default_factory=list)
    not_sent: list[JSON] = field(default_factory=list)


class AmoError(CrmError):
    """Base class of every adapter error; ``str()`` is the user-facing message."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        detail: str | None = None,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.detail = detail
        self.maybe_applied = maybe_applied
        self.batch: BatchProgress | None = None


class AmoAuthError(AmoError):
    """No usable token: not connected, refresh token used/revoked, or 401 after a refresh."""


class AmoTokenStoreError(AmoError):
    """The OS keyring is missing, locked or refused to store the tokens."""


class AmoForbidden(AmoError):
    """403 with a JSON body: insufficient rights, or the IP is not whitelisted."""


class AmoLockedOut(AmoForbidden):
    """403 from the gateway: amoCRM blocked API access for the account. Never retried."""


class AmoPaymentRequired(AmoError):
    """402: the account's paid or trial period has ended."""


class AmoRateLimited(AmoError):
    """429 persisted through the retries, or the server asked for a longer wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AmoServerError(AmoError):
    """5xx from amoCRM (a 504 on a write usually means the batch was too large)."""


class AmoUnavailable(AmoError):
    """No response: connection refused, DNS failure, timeout, connection dropped."""


class AmoNotFound(AmoError):
    """404: unknown route or record."""


class AmoValidationError(AmoError):
    """400: amoCRM rejected the data; ``validation_errors`` lists them per request_id."""

    def __init__(self, message: str, *, validation_errors: list[JSON] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.validation_errors: list[JSON] = validation_errors or []

    def errors_for(self, request_id: str) -> list[JSON]:
        """The ``errors`` entries reported for one ``request_id``."""
        for entry in self.validation_errors:
            if str(entry.get("request_id")) == str(request_id):
                return list(entry.get("errors") or [])
        return []


class AmoRequestError(AmoError):
    """Any other 4xx (405, 413, 422...): the request itself is wrong."""


def json_body(response: httpx.Response) -> Any:
    """The response body parsed as JSON, or None (HTML pages, empty bodies)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def request_label(response: httpx.Response, method: str) -> str:
    """``METHOD /path`` of the request a response answers (named in every error)."""
    try:
        path = response.request.url.path
    except RuntimeError:  # a response built without a request
        path = ""
    return f"{method.upper()} {path}".strip()


def error_from_response(response: httpx.Response, *, method: str) -> AmoError:
    """The :class:`AmoError` for a non-success response (the caller raises it); its message
    starts with the request (``POST /api/v4/leads/custom_fields: ...``) so a person can tell
    which call failed."""
    error = _error_for_status(response, method=method)
    label = request_label(response, method)
    if label:
        error.message = f"{label}: {error.message}"
        error.args = (error.message,)
    return error


def _error_for_status(response: httpx.Response, *, method: str) -> AmoError:
    status = response.status_code
    body = json_body(response)
    problem = body if isinstance(body, dict) else {}
    detail_value = problem.get("detail") or problem.get("title")
    detail = str(detail_value) if detail_value else None
    request_id = response.headers.get("X-Request-Id") or (str(problem["trace_id"]) if problem.get("trace_id") else None)
    write = method.upper() not in ("GET", "HEAD")
    where = f" (request id {request_id})" if request_id else ""
    common: dict[str, Any] = {"status": status, "request_id": request_id, "detail": detail}
    if status == 401:
        return AmoAuthError(f"amoCRM rejected the access token (HTTP 401){where}. Reconnect the amoCRM integration.", **common)
    if status == 402:
        return AmoPaymentRequired(
            "The amoCRM account's paid or trial period has ended (HTTP 402), so the API refuses requests. "
            "Renew the subscription in amoCRM, then sync again.",
            **common,
        )
    if status == 403:
        if problem:
            return AmoForbidden(
                f"amoCRM refused access (HTTP 403: {detail or 'forbidden'}){where}. The integration's user may lack "
                "the rights for this, or the account accepts API calls only from whitelisted IP addresses.",
                **common,
            )
        return AmoLockedOut(
            "amoCRM has blocked API access for this account (HTTP 403), usually after repeated rate-limit "
            "violations. Sync has stopped and will not retry. Ask amoCRM support to lift the block, then sync again.",
            **common,
        )
    if status == 404:
        return AmoNotFound(f"amoCRM has no such record or address (HTTP 404){where}: {detail or response.url.path}.", **common)
    if status == 429:
        return AmoRateLimited(
            f"amoCRM is rate-limiting requests (HTTP 429){where}. Wait a few minutes, then sync again.", **common
        )
    if status == 400:
        errors = problem.get("validation-errors")
        return AmoValidationError(
            f"amoCRM rejected the data (HTTP 400: {detail or 'bad request'}){where}.",
            validation_errors=errors if isinstance(errors, list) else None,
            **common,
        )
    if status >= 500:
        hint = " The batch may be too large: send fewer records per request." if status == 504 and write else ""
        unsure = " The write may or may not have been applied." if write else ""
        return AmoServerError(
            f"amoCRM server error (HTTP {status}{': ' + detail if detail else ''}){where}.{unsure}{hint}",
            maybe_applied=write,
            **common,
        )
    return AmoRequestError(f"amoCRM refused the request (HTTP {status}{': ' + detail if detail else ''}){where}.", **common)
