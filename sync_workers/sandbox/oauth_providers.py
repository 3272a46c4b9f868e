"""What differs between the four authorization servers, as data plus small functions.

Token formats imitate the real ones closely enough to be recognisable in logs (Google
`ya29.`, Salesforce `<org id>!`), and are long and random so a test can search captured
logs for each one. Error bodies are the real ones (see /work/shared/providers/*.md).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from ..config import SANDBOX_CLIENTS

SALESFORCE_ORG_ID = "00D5g000000SbXqEAK"

# The default client of each provider; the demo and the tests use these. The service's
# settings default to the same clients outside production (config.SANDBOX_CLIENTS).
GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET = SANDBOX_CLIENTS["google"]
MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET = SANDBOX_CLIENTS["microsoft"]
SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET = SANDBOX_CLIENTS["salesforce"]
HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET = SANDBOX_CLIENTS["hubspot"]

# The user an authorize request approves as when it names none.
DEFAULT_SUBJECTS = {
    "google": "sandbox.user@example.com",
    "microsoft": "sandbox.user@example.com",
    "salesforce": "0055g00000Dx1AbAAJ",
    "hubspot": "sandbox.user@example.com",
}


def _rand(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class Profile:
    name: str
    default_client_id: str
    default_client_secret: str
    access_token_lifetime: int  # seconds; for Salesforce the default session timeout
    new_access: Callable[[], str]
    new_refresh: Callable[[], str]
    new_code: Callable[[], str]
    # What a refresh response carries: "omit" no refresh token, keep yours (Google);
    # "repeat" the same one (HubSpot); "always" a new one, the old one stays valid
    # (Microsoft); "client" a new one that kills the old if the client turned rotation on,
    # else none (Salesforce).
    rotation: str
    default_scope: str
    refresh_token_lifetime: int | None = None  # None: until revoked
    # Live refresh-token grants per user and client; a new one silently kills the oldest.
    max_live_grants: int | None = None


def _microsoft_access() -> str:
    # Graph access tokens are JWTs; only the shape matters to a client (they are opaque).
    head = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"RS256"}').rstrip(b"=").decode()
    return f"{head}.{_rand(96)}.{_rand(64)}"


PROFILES: dict[str, Profile] = {
    "google": Profile(
        "google", GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, 3599,
        new_access=lambda: f"ya29.{_rand(96)}", new_refresh=lambda: f"1//0{_rand(72)}",
        new_code=lambda: f"4/0{_rand(48)}", rotation="omit",
        default_scope="openid email https://www.googleapis.com/auth/calendar.events",
        max_live_grants=100),
    "microsoft": Profile(
        "microsoft", MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET, 3599,
        new_access=_microsoft_access, new_refresh=lambda: f"0.A{_rand(160)}",
        new_code=lambda: f"0.A{_rand(96)}", rotation="always",
        default_scope="openid profile email offline_access "
                      "https://graph.microsoft.com/Calendars.ReadWrite",
        refresh_token_lifetime=90 * 86400),  # sliding: each rotated token lives 90 days
    "salesforce": Profile(
        "salesforce", SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET, 2 * 3600,
        new_access=lambda: f"{SALESFORCE_ORG_ID[:15]}!{_rand(80)}",
        new_refresh=lambda: f"5Aep861{_rand(64)}", new_code=lambda: f"aPrx{_rand(48)}",
        rotation="client", default_scope="api refresh_token", max_live_grants=5),
    "hubspot": Profile(
        "hubspot", HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, 1800,
        new_access=lambda: f"CK{_rand(96)}", new_refresh=lambda: f"na1-{uuid.uuid4()}-{_rand(12)}",
        new_code=lambda: f"na1-{uuid.uuid4()}", rotation="repeat",
        default_scope="crm.objects.contacts.write crm.objects.contacts.read oauth"),
}


def wants_refresh_token(provider: str, scope: str, access_type: str | None) -> bool:
    """Whether the consent includes a refresh token, by each provider's rule."""
    scopes = scope.split()
    if provider == "google":
        return access_type == "offline"
    if provider == "microsoft":
        return "offline_access" in scopes
    if provider == "salesforce":  # no scope asked: the connected app's scopes, incl. refresh
        return not scopes or bool({"refresh_token", "offline_access", "full"} & set(scopes))
    return True  # HubSpot always sends one


# --- token responses -------------------------------------------------------------------


@dataclass
class Issued:
    """What the token endpoint just issued, input to a provider's response shape."""
    access_token: str
    refresh_token: str | None  # None: don't send one
    expires_in: int
    scope: str
    subject: str
    client_id: str
    client_secret: str
    issued_at: float
    nonce: str | None = None
    instance_url: str = ""  # Salesforce only
    issuer: str = ""


def token_response(provider: str, issued: Issued) -> dict[str, Any]:
    return _SHAPES[provider](issued)


def _google_shape(t: Issued) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": t.access_token, "expires_in": t.expires_in}
    if t.refresh_token:
        body["refresh_token"] = t.refresh_token
    body["scope"] = t.scope
    body["token_type"] = "Bearer"
    if "openid" in t.scope.split():
        body["id_token"] = id_token(t, "https://accounts.google.com",
                                    google_claims(t.subject, t.scope.split()))
    return body


def _microsoft_shape(t: Issued) -> dict[str, Any]:
    oidc = {"openid", "profile", "email", "offline_access"}
    scopes = t.scope.split()
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(s for s in scopes if s not in oidc),
        "expires_in": t.expires_in,
        "ext_expires_in": t.expires_in,
        "access_token": t.access_token,
    }
    if t.refresh_token:
        body["refresh_token"] = t.refresh_token
    if "openid" in scopes:
        body["id_token"] = id_token(t, f"{t.issuer}/v2.0",
                                    microsoft_claims(t.subject, t.scope.split()))
    return body


def _salesforce_shape(t: Issued) -> dict[str, Any]:
    identity = f"{t.instance_url}/id/{SALESFORCE_ORG_ID}/{t.subject}"
    issued_at = str(int(t.issued_at * 1000))
    # The real signature: HMAC-SHA256 over id + issued_at keyed with the consumer secret.
    mac = hmac.new(t.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
    body: dict[str, Any] = {"access_token": t.access_token}
    if t.refresh_token:
        body["refresh_token"] = t.refresh_token
    body.update({
        "signature": base64.b64encode(mac.digest()).decode(),
        "scope": t.scope,
        "instance_url": t.instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    })
    return body


def _hubspot_shape(t: Issued) -> dict[str, Any]:
    return {"token_type": "bearer", "refresh_token": t.refresh_token,
            "access_token": t.access_token, "expires_in": t.expires_in}


_SHAPES = {"google": _google_shape, "microsoft": _microsoft_shape,
           "salesforce": _salesforce_shape, "hubspot": _hubspot_shape}


def google_claims(subject: str, scopes: list[str]) -> dict[str, Any]:
    """Google's `sub` is an opaque numeric id, never the e-mail, which comes apart in
    `email` with the `email` scope (developers.google.com/identity/openid-connect)."""
    claims: dict[str, Any] = {"sub": str(10 ** 20 + _stable_number(f"google:{subject}")
                                         % 10 ** 20)}
    if "email" in scopes:
        claims.update(email=subject, email_verified=True)
    return claims


def microsoft_claims(subject: str, scopes: list[str]) -> dict[str, Any]:
    """Microsoft's `oid` is the user's object id (a GUID, the same for every app); `sub` is
    pairwise per app; the sign-in name `preferred_username` (the UPN, usually the e-mail)
    needs the `profile` scope, `email` the `email` scope (id token claims reference)."""
    claims: dict[str, Any] = {
        "oid": str(uuid.UUID(int=_stable_number(f"microsoft:oid:{subject}") % 2 ** 128)),
        "sub": base64.urlsafe_b64encode(hashlib.sha256(
            f"microsoft:sub:{subject}".encode()).digest()).rstrip(b"=").decode(),
        "tid": "9188040d-6c67-4c5b-b112-36a304b66dad"}
    if "profile" in scopes:
        claims["preferred_username"] = subject
    if "email" in scopes:
        claims["email"] = subject
    return claims


def _stable_number(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def id_token(t: Issued, issuer: str, identity: dict[str, Any]) -> str:
    """An unsigned-looking JWT with the usual claims; the sandbox does not sign it."""
    claims = {"iss": issuer, "aud": t.client_id, **identity,
              "iat": int(t.issued_at), "exp": int(t.issued_at) + t.expires_in}
    if t.nonce:
        claims["nonce"] = t.nonce
    parts = [{"alg": "RS256", "typ": "JWT", "kid": "sandbox"}, claims]
    encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode()
               for p in parts]
    return ".".join(encoded + [_rand(64)])


# --- errors ------------------------------------------------------------------------------
# Reasons: bad_code, code_reused, bad_verifier, missing_verifier (Google words it apart),
# bad_refresh, revoked, expired (Microsoft words it apart), bad_redirect, unknown_client,
# bad_secret, unsupported_grant, missing.
_FALLBACK = {"missing_verifier": "bad_verifier", "expired": "revoked"}

_GOOGLE = {
    "bad_code": (400, "invalid_grant", "Bad Request"),
    "code_reused": (400, "invalid_grant", "Bad Request"),
    "bad_verifier": (400, "invalid_grant", "Invalid code verifier."),
    "missing_verifier": (400, "invalid_grant", "Missing code verifier."),
    "bad_refresh": (400, "invalid_grant", "Bad Request"),
    "revoked": (400, "invalid_grant", "Token has been expired or revoked."),
    "bad_redirect": (400, "redirect_uri_mismatch", "Bad Request"),
    "unknown_client": (401, "invalid_client", "The OAuth client was not found."),
    "bad_secret": (401, "invalid_client", "Unauthorized"),
    "unsupported_grant": (400, "unsupported_grant_type", "Invalid grant_type: "),
    "missing": (400, "invalid_request", "Missing required parameter"),
}

_SALESFORCE = {
    "bad_code": (400, "invalid_grant", "invalid authorization code"),
    "code_reused": (400, "invalid_grant", "invalid authorization code"),
    "bad_verifier": (400, "invalid_grant", "invalid code verifier"),
    "bad_refresh": (400, "invalid_grant", "expired access/refresh token"),
    "revoked": (400, "invalid_grant", "expired access/refresh token"),
    "bad_redirect": (400, "redirect_uri_mismatch", "redirect_uri must match configuration"),
    "unknown_client": (400, "invalid_client_id", "client identifier invalid"),
    "bad_secret": (400, "invalid_client", "invalid client credentials"),
    "unsupported_grant": (400, "unsupported_grant_type", "grant type not supported"),
    "missing": (400, "invalid_request", "missing required parameter"),
}

# Microsoft: (status, error, AADSTS code, message).
_MICROSOFT = {
    "bad_code": (400, "invalid_grant", 9002313, "Invalid request. Request is malformed or "
                 "invalid."),
    "code_reused": (400, "invalid_grant", 54005, "OAuth2 Authorization code was already "
                    "redeemed, please retry with a new valid code or use an existing refresh "
                    "token."),
    "bad_verifier": (400, "invalid_grant", 501481, "The Code_Verifier does not match the "
                     "code_challenge supplied in the authorization request."),
    "bad_refresh": (400, "invalid_grant", 9002313, "Invalid request. Request is malformed "
                    "or invalid."),
    "revoked": (400, "invalid_grant", 50173, "The provided grant has expired due to it "
                "being revoked, a fresh auth token is needed. The user might have changed or "
                "reset their password. The grant was issued on '{issued}' and the "
                "TokensValidFrom date (before which tokens are not valid) for this user is "
                "'{now}'."),
    "expired": (400, "invalid_grant", 700082, "The refresh token has expired due to "
                "inactivity. The token was issued on {issued} and was inactive for 90.00:00:00."),
    "bad_redirect": (400, "invalid_request", 50011, "The redirect URI specified in the "
                     "request does not match the redirect URIs configured for the "
                     "application."),
    "unknown_client": (400, "unauthorized_client", 700016, "Application with identifier "
                       "'{client_id}' was not found in the directory."),
    "bad_secret": (401, "invalid_client", 7000215, "Invalid client secret provided. Ensure "
                   "the secret being sent in the request is the client secret value, not the "
                   "client secret ID, for a secret added to app '{client_id}'."),
    "unsupported_grant": (400, "unsupported_grant_type", 70003, "The app requested an "
                          "unsupported grant type."),
    "missing": (400, "invalid_request", 900144, "The request body must contain the "
                "following parameter: '{param}'."),
}

_HUBSPOT = {
    "bad_code": (400, "BAD_AUTH_CODE", "missing or unknown auth code"),
    "code_reused": (400, "BAD_AUTH_CODE", "missing or unknown auth code"),
    "bad_verifier": (400, "BAD_AUTH_CODE", "missing or unknown auth code"),
    "bad_refresh": (400, "BAD_REFRESH_TOKEN", "missing or invalid refresh token"),
    "revoked": (400, "BAD_REFRESH_TOKEN", "missing or invalid refresh token"),
    "bad_redirect": (400, "BAD_REDIRECT_URI", "redirect_uri does not match redirect_uri "
                     "used to generate auth code"),
    "unknown_client": (400, "BAD_CLIENT_ID", "missing or unknown client id"),
    "bad_secret": (400, "BAD_CLIENT_SECRET", "missing or invalid client secret"),
    "unsupported_grant": (400, "BAD_GRANT_TYPE", "missing or unknown grant type"),
    "missing": (400, "BAD_REQUEST", "missing required parameter"),
}


def token_error(provider: str, reason: str, now: float, **fmt: str) -> tuple[int, dict]:
    """(status, body) of the token endpoint's answer for `reason`, as the provider words it."""
    table = {"google": _GOOGLE, "microsoft": _MICROSOFT, "salesforce": _SALESFORCE,
             "hubspot": _HUBSPOT}[provider]
    if reason not in table:
        reason = _FALLBACK[reason]
    if provider == "microsoft":
        return _microsoft_error(reason, now, **fmt)
    if provider == "hubspot":
        status, code, message = _HUBSPOT[reason]
        return status, {"status": code, "message": message}
    status, error, description = table[reason]
    if reason == "unsupported_grant" and provider == "google":
        description += fmt.get("grant_type", "")
    return status, {"error": error, "error_description": description}


def _microsoft_error(reason: str, now: float, **fmt: str) -> tuple[int, dict]:
    status, error, code, message = _MICROSOFT[reason]
    stamp = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    fmt = {"issued": stamp, "now": stamp, "client_id": "", "param": "", **fmt}
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    description = (f"AADSTS{code}: {message.format(**fmt)} Trace ID: {trace} "
                   f"Correlation ID: {correlation} Timestamp: {stamp}")
    return status, {
        "error": error, "error_description": description, "error_codes": [code],
        "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
