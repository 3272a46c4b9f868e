"""The Salesforce identity URL: `GET|POST /id/<org id>/<user id>`, the token response's `id`.

What Salesforce documents ("Identity URLs", https://help.salesforce.com/s/articleView?id=
xcloud.remoteaccess_using_openid.htm; "Using Identity URLs", https://developer.salesforce.
com/docs/atlas.en-us.mobile_sdk.meta/mobile_sdk/oauth_using_identity_urls.htm):

- the access token comes in the Authorization header (Bearer, or the legacy OAuth scheme)
  or as the `oauth_token` parameter;
- the answer describes the queried user and org: id (the URL queried), asserted_user
  (whether the token was issued for this identity), user_id, organization_id, username,
  nick_name, display_name, email, email_verified, first_name, last_name, timezone, photos,
  addr_*, mobile_phone, status, urls (SOAP and REST endpoints, `{version}` in place of the
  version unless the `version` parameter names one or `latest`), active, user_type
  (STANDARD), language, locale, utcOffset (milliseconds), last_modified_date,
  is_app_installed (true for a token from an OAuth flow);
- "Client access to the identity URL for one user doesn't provide the same identity URL
  access to another user in the same org unless" the token has the `full` or `api` scope
  and is for an internal user with API Enabled who can see the other user. The sandbox's
  users are all internal, API enabled and visible to each other, so the scope decides.

Errors are one word of plain text, not the REST API's JSON array. A token the service does
not accept is `403 Bad_OAuth_Token` (as clients meet it: jsforce retries on the code, the
Drupal salesforce module's issue #3191597 quotes the 403). The other codes are those of the
error table of the "Identity URLs" help page (not in the copies the search returned, so
unconfirmed here): 403 Missing_OAuth_Token, 403 Wrong_Org, 404 Bad_Id (an unknown user id
gives 404: SalesforceMobileSDK-ReactNative issue #361), 404 No_Access, 404 Inactive,
406 Invalid_Version. Only JSON is emulated (`format=xml` answers JSON too).
Identity requests don't count against the org's API allowance.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, Response, request

from .core import SandboxState
from .oauth_store import store_for
from .salesforce_common import fmt_datetime, normalize_id, now_seconds
from .salesforce_sobjects import json_response
from .salesforce_store import Org

PROVIDER = "salesforce"
# Every sandbox user's time zone is GMT (salesforce_events): utcOffset is 0 ms.
_UTC_OFFSETS_MS = {"GMT": 0}


class IdentityError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


def register(app: Flask, state: SandboxState, org_of: Callable[[SandboxState], Org],
             versions: tuple[str, ...]) -> None:
    def view(org_id: str, user_id: str) -> Response:
        try:
            return json_response(identity(state, org_of(state), org_id, user_id, versions))
        except IdentityError as exc:
            return Response(exc.code, exc.status, content_type="text/plain;charset=UTF-8")
    app.add_url_rule("/id/<org_id>/<user_id>", "sf_identity", view, methods=["GET", "POST"])


def _token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.values.get("oauth_token") or request.values.get("access_token") or None


def identity(state: SandboxState, org: Org, org_id: str, user_id: str,
             versions: tuple[str, ...]) -> dict[str, Any]:
    token = _token()
    if token is None:
        raise IdentityError(403, "Missing_OAuth_Token")
    with state.lock:
        live = store_for(state, PROVIDER).live_token(token, "access", state.clock.time())
        if live is None:
            raise IdentityError(403, "Bad_OAuth_Token")
        grant = live[1]
        now = now_seconds(state.clock)
        if normalize_id(org_id) != org.org_id:
            raise IdentityError(403, "Wrong_Org")
        caller = org.acting_user(grant.subject, now)  # first: it may add the token's user
        if not caller["IsActive"]:  # a deactivated user's sessions are over
            raise IdentityError(403, "Bad_OAuth_Token")
        target = org.user(user_id)
        if target is None:
            raise IdentityError(404, "Bad_Id")
        asserted = caller["Id"] == target["Id"]
        if not asserted:
            scopes = set(grant.scope.split())
            # No scope asked: the connected app's scopes, which include api (oauth_providers).
            if scopes and not scopes & {"api", "full"}:
                raise IdentityError(404, "No_Access")
            if not target["IsActive"]:
                raise IdentityError(404, "Inactive")
        version = _version(request.values.get("version"), versions)
        return _body(org, target, asserted, version)


def _version(asked: str | None, versions: tuple[str, ...]) -> str:
    if not asked:
        return "{version}"
    if asked == "latest":
        return versions[-1]
    if asked not in versions:
        raise IdentityError(406, "Invalid_Version")
    return asked


def _body(org: Org, user: dict[str, Any], asserted: bool, version: str) -> dict[str, Any]:
    origin = request.host_url.rstrip("/")
    data = f"{origin}/services/data/v{version}"
    soap = f"{origin}/services/Soap"
    return {
        "id": f"{origin}{request.path}",  # "the same URL that was queried"
        "asserted_user": asserted,
        "user_id": user["Id"],
        "organization_id": org.org_id,
        "username": user["Username"],
        "nick_name": user["CommunityNickname"],
        "display_name": user["Name"],
        "email": user["Email"],
        "email_verified": True,
        "first_name": user["FirstName"],
        "last_name": user["LastName"],
        "timezone": user["TimeZoneSidKey"],
        "photos": {"picture": f"{origin}/profilephoto/005/F",
                   "thumbnail": f"{origin}/profilephoto/005/T"},
        "addr_street": None, "addr_city": None, "addr_state": None, "addr_country": None,
        "addr_zip": None,
        "mobile_phone": None,
        "mobile_phone_verified": False,
        "status": {"created_date": None, "body": None},
        "urls": {
            "enterprise": f"{soap}/c/{version}/{org.org_id}",
            "metadata": f"{soap}/m/{version}/{org.org_id}",
            "partner": f"{soap}/u/{version}/{org.org_id}",
            "rest": f"{data}/",
            "sobjects": f"{data}/sobjects/",
            "search": f"{data}/search/",
            "query": f"{data}/query/",
            "recent": f"{data}/recent/",
            "profile": f"{origin}/{user['Id']}",
        },
        "active": bool(user["IsActive"]),
        "user_type": "STANDARD" if user["UserType"] == "Standard" else user["UserType"].upper(),
        "language": user["LanguageLocaleKey"],
        "locale": user["LocaleSidKey"],
        "utcOffset": _UTC_OFFSETS_MS.get(user["TimeZoneSidKey"], 0),
        "last_modified_date": fmt_datetime(user["LastModifiedDate"]),
        "is_app_installed": True,
    }
