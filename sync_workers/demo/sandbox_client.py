"""The sandbox's control API over HTTP: act as the users of Google Calendar and
Salesforce, read both sides, and turn the sandbox's faults on and off."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

TIMEOUT = 5.0


@dataclass
class SandboxClient:
    google: str  # origins, e.g. http://127.0.0.1:8901
    salesforce: str
    calendar_user: str = ""  # the Google user whose calendar the demo uses

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        resp = requests.request(method, url, timeout=TIMEOUT, **kwargs)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    # --- Google Calendar, as its user --------------------------------------------------
    def _events(self, event_id: str = "") -> str:
        base = (f"{self.google}/_sandbox/google/users/{quote(self.calendar_user, safe='@')}"
                f"/calendars/primary/events")
        return f"{base}/{quote(event_id)}" if event_id else base

    def create_event(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._events(), json=body)

    def edit_event(self, event_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", self._events(event_id), json=changes)

    def delete_event(self, event_id: str) -> dict[str, Any]:
        return self._call("DELETE", self._events(event_id))

    def event(self, event_id: str) -> dict[str, Any]:
        return self._call("GET", self._events(event_id))["event"]

    # --- Salesforce, as its user ---------------------------------------------------------
    def org_id(self) -> str:
        return self._call("GET", f"{self.salesforce}/_sandbox/salesforce/settings")["org_id"]

    def records(self, sobject: str) -> list[dict[str, Any]]:
        return self._call("GET", f"{self.salesforce}/_sandbox/salesforce/records/{sobject}")

    def record(self, sobject: str, record_id: str) -> dict[str, Any]:
        return self._call("GET",
                          f"{self.salesforce}/_sandbox/salesforce/records/{sobject}/{record_id}")

    def update_record(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self._call("PATCH", f"{self.salesforce}/_sandbox/salesforce/records/{sobject}/"
                            f"{record_id}", json={"fields": fields})

    def add_salesforce_user(self, email: str, first_name: str, last_name: str) -> str:
        """A user of the org, as its admin adds one in Setup; returns the User id."""
        return self._call("POST", f"{self.salesforce}/_sandbox/salesforce/users",
                          json={"email": email, "first_name": first_name,
                                "last_name": last_name})["id"]

    def crm_event_for(self, calendar_event_id: str) -> dict[str, Any] | None:
        found = [e for e in self.records("Event")
                 if e.get("Calendar_Event_Id__c") == calendar_event_id]
        return found[0] if found else None

    def add_outbound_message(self, sobject: str, url: str) -> str:
        """A workflow rule posting an Outbound Message to `url` on every save."""
        return self._call("POST", f"{self.salesforce}/_sandbox/salesforce/outbound-messages",
                          json={"sobject": sobject, "url": url,
                                "name": f"sync-workers demo: {sobject}"})["action_id"]

    def expire_google_tokens(self) -> int:
        """Every Google access token expires now, as an hour passing would."""
        return self._call("POST", f"{self.google}/_sandbox/oauth/expire", json={})["expired"]

    def google_refreshes(self) -> int:
        return self._call("GET", f"{self.google}/_sandbox/oauth/refresh-requests")["count"]

    # --- faults and logs (shared by every provider app; any origin answers) -------------
    def add_fault(self, **rule: Any) -> None:
        self._call("POST", f"{self.google}/_sandbox/faults", json=rule)

    def set_webhook_faults(self, **faults: Any) -> None:
        self._call("POST", f"{self.google}/_sandbox/webhooks/faults", json=faults)

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self._call("GET", f"{self.google}/_sandbox/webhooks")

    def requests_log(self) -> list[dict[str, Any]]:
        """Every provider request the sandbox served (not its control API)."""
        return self._call("GET", f"{self.google}/_sandbox/requests")
