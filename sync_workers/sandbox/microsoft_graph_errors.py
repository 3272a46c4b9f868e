"""Microsoft Graph error answers: `{"error": {"code", "message", "innerError"}}`.

The shape is the OData error of learn.microsoft.com/graph/errors; codes and messages are
the ones the real Outlook API sends where they are known (quoted from real answers in
microsoftgraph/microsoft-graph-docs issues and Q&A), else the documented generic codes.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def body(self, request_id: str, client_request_id: str | None,
             now: datetime) -> dict[str, Any]:
        inner = {"date": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                 "request-id": request_id,
                 "client-request-id": client_request_id or request_id}
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}


def new_request_id() -> str:
    return str(uuid.uuid4())


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def unreadable_body() -> GraphError:
    return GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure "
                      "Content-Type header is set and payload is of valid JSON format.")


def unknown_property(name: str, type_name: str = "microsoft.graph.event") -> GraphError:
    # OData's answer to a body property the type does not define.
    return GraphError(400, "RequestBodyRead",
                      f"The property '{name}' does not exist on type '{type_name}'. Make sure "
                      "to only use property names that are defined by the type or mark the "
                      "type as open type.")


def validation_failure() -> GraphError:
    return GraphError(400, "ErrorPropertyValidationFailure",
                      "At least one property failed validation.")


def time_zone_not_supported(value: Any) -> GraphError:
    shown = "" if value is None else value
    return GraphError(400, "TimeZoneNotSupportedException",
                      "A valid TimeZone value must be specified. The following TimeZone value "
                      f"is not supported: '{shown}'.")


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def id_malformed() -> GraphError:
    return GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")


def access_denied() -> GraphError:
    return GraphError(403, "ErrorAccessDenied",
                      "Access is denied. Check credentials and try again.")


def change_key_mismatch() -> GraphError:
    return GraphError(412, "ErrorIrresolvableConflict",
                      "The send or update operation could not be performed because the change "
                      "key passed in the request does not match the current change key for the "
                      "item.")


def missing_token() -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", "Access token is empty.",
                      {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})


def invalid_token() -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken",
                      "Access token has expired or is not yet valid.",
                      {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})


def unsupported_query(names: list[str], resource: str = "Events") -> GraphError:
    listed = ", ".join(names)
    return GraphError(400, "ErrorInvalidUrlQuery",
                      f"The following parameters are not supported with change tracking over "
                      f"the '{resource}' resource: '{listed}'.")


def invalid_filter(clause: str) -> GraphError:
    return GraphError(400, "ErrorInvalidUrlQueryFilter",
                      f"The query filter contains one or more invalid nodes: {clause}")


def missing_time_window() -> GraphError:
    return GraphError(400, "ErrorInvalidParameter",
                      "This request requires a time window specified by the query string "
                      "parameters StartDateTime and EndDateTime.")


def sync_state_not_found(generation: int, highest: int) -> GraphError:
    # Code and text as a real calendarView delta answered an evicted token (410 Gone,
    # microsoftgraph/microsoft-graph-docs#2350); the docs spell the code syncStateNotFound.
    return GraphError(410, "SyncStateNotFound",
                      f"The sync state generation is not found; generation={generation};"
                      f"[highest={highest}].")


def resync_required(location: str) -> GraphError:
    # delta-query-overview "Synchronization reset": 410 with a Location of the initial query.
    return GraphError(410, "resyncRequired",
                      "The delta token is no longer valid, and the app must reset the sync "
                      "state.", {"Location": location})


def throttled(retry_after: int, message: str) -> GraphError:
    return GraphError(429, "ApplicationThrottled", message,
                      {"Retry-After": str(max(1, int(retry_after)))})


def subscription_not_found() -> GraphError:
    return GraphError(404, "ResourceNotFound", "The object was not found.")


def not_a_respondable_meeting() -> GraphError:
    return GraphError(400, "ErrorInvalidRequest",
                      "Your request can't be completed. You can't respond to a meeting you "
                      "organized.")
