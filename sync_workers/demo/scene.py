"""The stage of the scenario: the sandbox, the demo's accounts, the narrator, and ways to
act as the users and read both sides."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, NamedTuple

from .accounts import DemoAccounts
from .progress import Narrator
from .sandbox_client import SandboxClient

CLIENT = {"email": "ada@client.example", "displayName": "Ada Lovelace"}


class StepFailed(Exception):
    pass


class Seen(NamedTuple):
    """What a step saw: one line for the step and the summary, then the details."""

    outcome: str
    detail: str


@dataclass(frozen=True)
class StepResult:
    name: str
    ok: bool
    detail: str  # one line for the summary


@dataclass
class Scene:
    sandbox: SandboxClient
    accounts: DemoAccounts
    narrator: Narrator
    guard: Callable[[], None]  # raises when a child process died
    timeout: float  # seconds a step may take to converge
    worker_log: Path  # retries are counted there
    facts: dict[str, Any] = field(default_factory=dict)  # what later steps build on

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float | None = None):
        timeout = timeout or self.timeout
        value = self.narrator.wait_until(predicate, timeout, guard=self.guard)
        if not value:
            raise StepFailed(f"no {what} within {timeout:.0f}s")
        return value

    def needs(self, fact: str, step: str) -> Any:
        if fact not in self.facts:
            raise StepFailed(f"not run: needs the {step} step")
        return self.facts[fact]

    def book(self, title: str, start: datetime, minutes: int) -> dict[str, Any]:
        """The rep creates an event with an external attendee in Google Calendar."""
        return self.sandbox.create_event({
            "summary": title, "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
            "attendees": [{"email": self.accounts.calendar_user, "organizer": True}, CLIENT]})

    def linked(self, event_id: str) -> dict[str, Any] | None:
        """The CRM event of `event_id` once both sides carry each other's ids."""
        crm = self.sandbox.crm_event_for(event_id)
        if not crm or not crm.get("WhoId"):
            return None
        private = self.sandbox.event(event_id).get("extendedProperties", {}).get("private", {})
        if same_id(private.get("crm_event_id"), crm["Id"]) and \
                same_id(private.get("crm_contact_id"), crm["WhoId"]):
            return crm
        return None


def answered_429(scene: Scene) -> int:
    return sum(1 for e in scene.sandbox.requests_log()
               if e["provider"] == "google" and e["status"] == 429)


def google_calls(scene: Scene) -> list[dict[str, Any]]:
    return [e for e in scene.sandbox.requests_log() if e["provider"] == "google"]


def pauses_after_429(calls: list[dict[str, Any]]) -> list[float]:
    """Seconds from each 429 answered to the next call the sandbox received: the pause the
    fleet-wide limiter kept (calls already on their way when it answered don't count)."""
    pauses = []
    for limited in (c for c in calls if c["status"] == 429):
        later = [c["started_at"] for c in calls
                 if c["started_at"] is not None and c["started_at"] > limited["at"]]
        if later:
            pauses.append(round(min(later) - limited["at"], 3))
    return pauses


def dropped_notifications(scene: Scene) -> int:
    return sum(1 for d in scene.sandbox.webhook_deliveries()
               if d["provider"] == "google" and "dropped" in d["outcomes"])


def contact_block(event: dict[str, Any], name: str) -> list[str] | None:
    description = event.get("description") or ""
    start, end = description.find("[CRM contact]"), description.find("[/CRM contact]")
    if start < 0 or end < 0 or name not in description[start:end]:
        return None
    return description[start:end + len("[/CRM contact]")].splitlines()


def same_id(a: str | None, b: str | None) -> bool:
    """Salesforce ids compare on their first 15 characters (18 adds a checksum)."""
    return bool(a and b and a[:15] == b[:15])


def full_name(record: dict[str, Any]) -> str:
    return " ".join(filter(None, (record.get("FirstName"), record.get("LastName"))))


def tomorrow_at(hour: int) -> datetime:
    day = datetime.now(timezone.utc) + timedelta(days=1)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("+0000", "+00:00").replace("Z", "+00:00"))


def when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%a %d %b %H:%M UTC")
