"""Google's error answers for the Calendar emulator: one exception, rendered in Google's
body shape `{"error": {"errors": [{domain, reason, message, ...}], "code", "message"}}`.
Reasons and texts are Google's where they are known.
"""
from __future__ import annotations

from typing import Any


class GoogleApiError(Exception):
    """An error answer in Google's body shape; `status` is set only by the front end (401)."""

    def __init__(self, code: int, reason: str, message: str, *, domain: str = "global",
                 location: str | None = None, location_type: str | None = None,
                 top_message: str | None = None, status: str | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message, self.domain = code, reason, message, domain
        self.location, self.location_type = location, location_type
        self.top_message, self.status = top_message or message, status

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"domain": self.domain, "reason": self.reason,
                                "message": self.message}
        if self.location:
            item.update(locationType=self.location_type, location=self.location)
        error: dict[str, Any] = {"errors": [item], "code": self.code, "message": self.top_message}
        if self.status:
            error["status"] = self.status
        return {"error": error}


def not_found() -> GoogleApiError:
    return GoogleApiError(404, "notFound", "Not Found")


def duplicate() -> GoogleApiError:
    return GoogleApiError(409, "duplicate", "The requested identifier already exists.")


def deleted() -> GoogleApiError:
    return GoogleApiError(410, "deleted", "Resource has been deleted")


def invalid(message: str, location: str | None = None) -> GoogleApiError:
    return GoogleApiError(400, "invalid", message, location=location,
                          location_type="parameter" if location else None)


def required(message: str = "Required") -> GoogleApiError:
    return GoogleApiError(400, "required", message)


def bad_request(message: str = "Bad Request") -> GoogleApiError:
    return GoogleApiError(400, "badRequest", message)


def parse_error() -> GoogleApiError:
    return GoogleApiError(400, "parseError", "Parse Error")


def time_range_empty(location: str | None = None) -> GoogleApiError:
    return GoogleApiError(400, "timeRangeEmpty", "The specified time range is empty.",
                          domain="calendar", location=location,
                          location_type="parameter" if location else None)


def condition_not_met() -> GoogleApiError:
    return GoogleApiError(412, "conditionNotMet", "Precondition Failed",
                          location="If-Match", location_type="header")


def full_sync_required() -> GoogleApiError:
    return GoogleApiError(410, "fullSyncRequired",
                          "Sync token is no longer valid, a full sync is required.",
                          domain="calendar", location="syncToken", location_type="parameter")


def invalid_parameter(name: str, value: str, pattern: str) -> GoogleApiError:
    message = (f"Invalid value '{value}'. Values must match the following regular "
               f"expression: '{pattern}'")
    return GoogleApiError(400, "invalidParameter", message, location=name,
                          location_type="parameter")


_SEE = ("Expected OAuth 2 access token, login cookie or other valid authentication "
        "credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")


def missing_credentials() -> GoogleApiError:
    message = f"Request is missing required authentication credential. {_SEE}"
    return GoogleApiError(401, "required", "Login Required.", location="Authorization",
                          location_type="header", status="UNAUTHENTICATED", top_message=message)


def invalid_credentials() -> GoogleApiError:
    message = f"Request had invalid authentication credentials. {_SEE}"
    return GoogleApiError(401, "authError", "Invalid Credentials", location="Authorization",
                          location_type="header", status="UNAUTHENTICATED", top_message=message)


def forbidden_for_non_organizer() -> GoogleApiError:
    """An attendee's copy may not change what only the organizer sets. Reason and text as
    real API answers carry them (kewisch/gdata-provider issues #274, #366)."""
    return GoogleApiError(403, "forbiddenForNonOrganizer",
                          "Shared properties can only be changed by the organizer of the event.",
                          domain="calendar")
