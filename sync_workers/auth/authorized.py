"""Provider calls as an account, with the one allowed recovery from a 401.

401 (AuthExpired) -> invalidate the token, refresh once, repeat the call once. A second 401
propagates as AuthExpired: the task's retry policy decides, nothing loops here.
"""
from __future__ import annotations

import logging
from typing import Any

import requests

from ..config import Settings
from ..reliability.errors import AuthExpired
from ..reliability.http import ProviderHttp
from .stored import Token
from .tokens import get_valid_token, invalidate

log = logging.getLogger(__name__)


def authorized_request(account_id: int, http: ProviderHttp, method: str, url_or_path: str, *,
                       settings: Settings | None = None, headers: dict[str, str] | None = None,
                       **kwargs: Any) -> requests.Response:
    """`http.request` with the account's bearer token; a relative path is joined to the
    token's API base URL (for Salesforce, the instance URL from the token response)."""
    token = get_valid_token(account_id, settings)
    try:
        return _send(http, token, method, url_or_path, headers, kwargs)
    except AuthExpired:
        log.info("access token rejected, refreshing once",
                 extra={"account_id": account_id, "provider": token.provider})
        invalidate(token, settings)
        token = get_valid_token(account_id, settings)
        return _send(http, token, method, url_or_path, headers, kwargs)


def _send(http: ProviderHttp, token: Token, method: str, url_or_path: str,
          headers: dict[str, str] | None, kwargs: dict[str, Any]) -> requests.Response:
    return http.request(method, token.url(url_or_path),
                        headers={**(headers or {}), **token.authorization}, **kwargs)
