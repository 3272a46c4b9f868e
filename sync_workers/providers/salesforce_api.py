"""One Salesforce REST call as an account, and SOQL with its paging.

Every request goes through `auth.authorized_request` (bearer token, one refresh after a
401 INVALID_SESSION_ID) and `ProviderHttp` (X-Request-ID, timeouts, our error types).
Two response hooks see every answer, the refused ones included: the pacing records the
API usage, and the API's error list (`[{"errorCode","message","fields"}]`) is kept on the
error we raise, for the adapter's own decisions (a stale describe, a record already gone).
Tasks still decide by error type only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

import requests

from ..auth import authorized_request
from ..config import Settings
from ..reliability.errors import InvalidInput, Permanent, SyncError
from ..reliability.http import ProviderHttp
from .salesforce_pacing import ApiPacing

PROVIDER = "salesforce"
_VERSIONED_PATH = re.compile(r"^/services/data/v[\d.]+/")


@dataclass(frozen=True)
class ApiError:
    code: str
    message: str
    fields: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()  # DUPLICATES_DETECTED: the matching records' ids


def api_errors(error: BaseException) -> tuple[ApiError, ...]:
    return getattr(error, "salesforce_errors", ())


def error_codes(error: BaseException) -> frozenset[str]:
    return frozenset(e.code for e in api_errors(error))


def error_fields(error: BaseException, code: str) -> frozenset[str]:
    """The fields the API's errors with this code name."""
    return frozenset(name for e in api_errors(error) if e.code == code for name in e.fields)


class SalesforceApi:
    def __init__(self, account_id: int, http: ProviderHttp, pacing: ApiPacing,
                 settings: Settings | None) -> None:
        self.account_id = account_id
        self.http = http
        self.pacing = pacing
        self.settings = settings

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """`path` is relative to the versioned API base (`sobjects/Event/...`)."""
        answer = _LastErrors()
        try:
            resp = authorized_request(self.account_id, self.http, method, path,
                                      settings=self.settings,
                                      hooks={"response": [self.pacing.observe, answer.keep]},
                                      **kwargs)
        except SyncError as error:
            error.salesforce_errors = answer.errors
            raise
        if resp.status_code == 300:  # an external id that several records hold
            raise Permanent(f"{method} {path}: several records match",
                            provider=PROVIDER, status=300)
        return resp

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """The records of a SOQL query, every page (the server keeps the result as of the
        first page, so records sharing a timestamp across a page boundary are all read)."""
        page = self.call("GET", "queryAll" if include_deleted else "query",
                         params={"q": soql}).json()
        while True:
            records, next_url = _page_parts(page)
            yield from records
            if next_url is None:
                return
            if not _VERSIONED_PATH.match(next_url):  # a path on our instance, nothing else
                raise InvalidInput(f"salesforce query answer: nextRecordsUrl {next_url[:80]!r}"
                                   " is not a path of this instance's API")
            page = self.call("GET", _VERSIONED_PATH.sub("", next_url)).json()


class _LastErrors:
    """The error list of the last answer to one call (a 401 may precede the retry)."""

    def __init__(self) -> None:
        self.errors: tuple[ApiError, ...] = ()

    def keep(self, resp: requests.Response, *args, **kwargs) -> None:
        self.errors = _parse_errors(resp) if resp.status_code >= 400 else ()


def _parse_errors(resp: requests.Response) -> tuple[ApiError, ...]:
    try:
        body = resp.json()
    except ValueError:
        return ()
    if not isinstance(body, list):
        return ()
    return tuple(ApiError(str(e.get("errorCode", "")), str(e.get("message", "")),
                          tuple(e.get("fields") or ()), _duplicates(e))
                 for e in body if isinstance(e, dict))


def duplicates_of(error: BaseException) -> tuple[str, ...]:
    """The records a duplicate rule says the refused one duplicates, best match first."""
    return tuple(i for e in api_errors(error) if e.code == "DUPLICATES_DETECTED"
                 for i in e.duplicates)


def _duplicates(entry: dict[str, Any]) -> tuple[str, ...]:
    """duplicateResult.matchResults[].matchRecords[].record.Id of a DUPLICATES_DETECTED.
    Older API versions spell the key "duplicateResut" (recorded answers up to v56)."""
    result = entry.get("duplicateResult") or entry.get("duplicateResut")
    if not isinstance(result, dict):
        return ()
    found = []
    for match in result.get("matchResults") or ():
        for record in (match.get("matchRecords") or ()) if isinstance(match, dict) else ():
            rid = (record.get("record") or {}).get("Id") if isinstance(record, dict) else None
            if isinstance(rid, str):
                found.append(rid)
    return tuple(found)


def _page_parts(page: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(page, dict) or not isinstance(page.get("records"), list):
        raise InvalidInput("salesforce query answer: expected an object with records[]")
    next_url = None if page.get("done", True) else page.get("nextRecordsUrl")
    if next_url is not None and not isinstance(next_url, str):
        raise InvalidInput("salesforce query answer: nextRecordsUrl is not a string")
    return page["records"], next_url
