"""The connect flow without a browser, for the sandbox (whose authorize endpoint approves
at once): GET start -> 302 to the provider -> 302 back to the callback -> GET callback.

A cookie-keeping session plays the browser, so the receiver's state cookie works as it
would for a person.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests


class ConnectFailed(Exception):
    pass


def connect_without_browser(start_url: str, sandbox_user: str | None = None,
                            timeout: float = 10.0) -> dict[str, Any]:
    """Run the flow from a connect link's start URL; returns the callback's JSON answer."""
    with requests.Session() as browser:
        to_provider = _redirect(browser.get(start_url, allow_redirects=False, timeout=timeout),
                                "start")
        if sandbox_user:  # which sandbox user approves; real providers ignore the parameter
            to_provider += ("&" if "?" in to_provider else "?") + \
                urlencode({"sandbox_user": sandbox_user})
        to_callback = _redirect(browser.get(to_provider, allow_redirects=False,
                                            timeout=timeout), "authorize")
        answer = browser.get(to_callback, allow_redirects=False, timeout=timeout)
        if answer.status_code != 200:
            raise ConnectFailed(f"callback answered {answer.status_code}: {_reason(answer)}")
        return answer.json()


def _redirect(resp: requests.Response, step: str) -> str:
    if resp.status_code != 302 or "Location" not in resp.headers:
        raise ConnectFailed(f"{step} answered {resp.status_code}, not a redirect: "
                            f"{_reason(resp)}")
    return resp.headers["Location"]


def _reason(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(body.get("error") or body) if isinstance(body, dict) else str(body)[:200]
