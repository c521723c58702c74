"""amoCRM/Kommo REST API v4 adapter: HTTP client, tokens, rate limit, errors.

This package knows HTTP and the remote's rules only; it imports nothing from
``tui_crm.storage``/``services`` and nothing from Textual. The sync engine
maps local records on top of :class:`AmoClient`.
"""

from __future__ import annotations

from .client import AmoClient, embedded_items
from .errors import (
    AmoAuthError,
    AmoError,
    AmoForbidden,
    AmoLockedOut,
    AmoNotFound,
    AmoPaymentRequired,
    AmoRateLimited,
    AmoRequestError,
    AmoServerError,
    AmoTokenStoreError,
    AmoUnavailable,
    AmoValidationError,
    BatchProgress,
)
from .ratelimit import RateLimiter
from .tokens import (
    MemoryTokenStore,
    OAuthApp,
    SecretTokenStore,
    TokenManager,
    TokenPair,
    TokenStore,
    exchange_code,
    refresh,
)

__all__ = [
    "AmoAuthError",
    "AmoClient",
    "AmoError",
    "AmoForbidden",
    "AmoLockedOut",
    "AmoNotFound",
    "AmoPaymentRequired",
    "AmoRateLimited",
    "AmoRequestError",
    "AmoServerError",
    "AmoTokenStoreError",
    "AmoUnavailable",
    "AmoValidationError",
    "BatchProgress",
    "SecretTokenStore",
    "MemoryTokenStore",
    "OAuthApp",
    "RateLimiter",
    "TokenManager",
    "TokenPair",
    "TokenStore",
    "embedded_items",
    "exchange_code",
    "refresh",
]
