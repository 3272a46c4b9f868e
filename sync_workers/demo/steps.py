"""The narrated scenario: each step changes one side as its user would, then polls both
sides (with a deadline) until the other side shows the result, and says what it saw.

The sandbox's push notifications and Outbound Messages reach the receiver, so the
pipeline runs as in production: receiver -> ingest -> reconcile -> provider APIs.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from ..celery_app import app
from .readback import dead_letter_for_event, dlq_list_output
from .scene import (
    CLIENT,
    Scene,
    Seen,
    StepFailed,
    StepResult,
    answered_429,
    contact_block,
    dropped_notifications,
    full_name,
    google_calls,
    pauses_after_429,
    tomorrow_at,
    utc,
    when,
)
from .supervisor import ChildExited

STORM_SIZE = 5
GOOGLE_RATE_LIMIT = {"error": {"code": 429, "message": "Rate Limit Exceeded", "errors": [
    {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}}


def booking(scene: Scene) -> Seen:
    start = tomorrow_at(9)
    event = scene.book("Intro call", start, 30)
    crm = scene.wait(lambda: scene.linked(event["id"]), "Salesforce Event linked both ways")
    contact = scene.sandbox.record("Contact", crm["WhoId"])
    scene.facts.update(event_id=event["id"], contact_id=crm["WhoId"], start=start)
    return Seen("contact and CRM event created, ids written back", (
        f"calendar: 'Intro call' {when(start)} with {CLIENT['email']} (event {event['id']})\n"
        f"-> Salesforce Contact {contact['Id']}: {full_name(contact)} <{contact['Email']}>\n"
        f"-> Salesforce Event {crm['Id']}: '{crm['Subject']}' "
        f"{when(utc(crm['StartDateTime']))}, {crm.get('Appointment_Status__c')}\n"
        f"<- the calendar event carries crm_event_id and crm_contact_id"))


def reschedule(scene: Scene) -> Seen:
    event_id = scene.needs("event_id", "booking")
    start = scene.facts["start"] + timedelta(hours=3)
    end = start + timedelta(minutes=45)
    scene.sandbox.edit_event(event_id, {"start": {"dateTime": start.isoformat()},
                                        "end": {"dateTime": end.isoformat()}})

    def moved():
        crm = scene.sandbox.crm_event_for(event_id)
        return crm if crm and utc(crm["StartDateTime"]) == start \
            and utc(crm["EndDateTime"]) == end else None
    crm = scene.wait(moved, "Salesforce Event at the new time")
    return Seen(f"CRM event moved to {start:%H:%M}-{end:%H:%M}", (
        f"calendar: moved to {when(start)}-{end:%H:%M}\n"
        f"-> Salesforce Event {crm['Id']}: {when(utc(crm['StartDateTime']))}-"
        f"{utc(crm['EndDateTime']):%H:%M}"))


def contact_rename(scene: Scene) -> Seen:
    event_id = scene.needs("event_id", "booking")
    contact_id = scene.facts["contact_id"]
    # The calendar write this causes finds its access token expired: one refresh, one retry.
    refreshes = scene.sandbox.google_refreshes()
    scene.sandbox.expire_google_tokens()
    scene.sandbox.update_record("Contact", contact_id, {"FirstName": "Ada", "LastName": "King"})
    block = scene.wait(lambda: contact_block(scene.sandbox.event(event_id), "Ada King"),
                       "contact block with the new name in the calendar event")
    refreshed = scene.sandbox.google_refreshes() - refreshes
    if refreshed != 1:
        raise StepFailed(f"{refreshed} token refreshes for one expired token (expected 1)")
    return Seen("the calendar's contact block says Ada King", (
        f"Salesforce: Contact {contact_id} renamed to Ada King "
        f"(an Outbound Message tells the receiver)\n"
        f"sandbox: the Google access token expired meanwhile -> refreshed once, call repeated\n"
        f"-> calendar event description:\n" + "\n".join("     " + line for line in block)))


def cancellation(scene: Scene) -> Seen:
    event_id = scene.needs("event_id", "booking")
    scene.sandbox.delete_event(event_id)

    def canceled():
        crm = scene.sandbox.crm_event_for(event_id)
        return crm if crm and crm.get("Appointment_Status__c") == "Canceled" else None
    crm = scene.wait(canceled, "Salesforce Event marked Canceled")
    return Seen("CRM event marked Canceled", (
        f"calendar: the rep deleted the event\n"
        f"-> Salesforce Event {crm['Id']}: Appointment_Status__c = Canceled "
        f"(kept as history, not deleted)"))


def rate_limit_storm(scene: Scene) -> Seen:
    before, calls_before = answered_429(scene), len(google_calls(scene))
    scene.sandbox.add_fault(kind="status", provider="google", path="^/calendar/v3/",
                            count=STORM_SIZE, status=429, headers={"Retry-After": "1"},
                            body=GOOGLE_RATE_LIMIT)
    event = scene.book("Follow-up", tomorrow_at(14), 30)
    crm = scene.wait(lambda: scene.linked(event["id"]), "Salesforce Event for the follow-up",
                     timeout=2 * scene.timeout)
    seen = answered_429(scene) - before
    pauses = pauses_after_429(google_calls(scene)[calls_before:])
    if seen < STORM_SIZE:
        raise StepFailed(f"only {seen} of {STORM_SIZE} calls answered 429: no storm happened")
    if any(pause < 1 for pause in pauses):
        raise StepFailed(f"Google was called sooner than Retry-After: pauses {pauses}")
    span = f"{min(pauses):.1f}-{max(pauses):.1f}s" if pauses else "-"
    return Seen(f"{seen} x 429 ridden out, the follow-up synced", (
        f"sandbox: the next {STORM_SIZE} Google Calendar API calls answer "
        f"429 Too Many Requests, Retry-After: 1\n"
        f"calendar: 'Follow-up' booked during the storm (event {event['id']})\n"
        f"sandbox request log: {seen} calls answered 429; after each, no worker called "
        f"the account for {span} (the fleet-wide pause, never less than Retry-After)\n"
        f"-> Salesforce Event {crm['Id']}: 'Follow-up' created once the storm passed"))


def lost_webhook(scene: Scene) -> Seen:
    dropped_before = dropped_notifications(scene)
    scene.sandbox.set_webhook_faults(drop_rate=1.0)
    try:
        event = scene.book("Pricing call", tomorrow_at(16), 30)
        scene.wait(lambda: dropped_notifications(scene) > dropped_before,
                   "dropped push notification in the sandbox's webhook log", timeout=10)
        scene.narrator.pause(3, guard=scene.guard)  # to show that nothing happens
        early = scene.sandbox.crm_event_for(event["id"])
    finally:
        scene.sandbox.set_webhook_faults()  # deliver again from now on
    app.send_task("sync.poll_all_accounts", kwargs={"all_now": True})
    crm = scene.wait(lambda: scene.linked(event["id"]), "Salesforce Event found by the poller")
    after_drop = ("a poll had already caught it (Beat's schedule came round)" if early
                  else "still no Salesforce Event: the pipeline never heard of the change")
    return Seen("notification dropped, the poller synced the booking", (
        f"sandbox: webhook drop rate 1.0; calendar: 'Pricing call' booked "
        f"(event {event['id']})\n"
        f"the push notification was dropped; 3s later: {after_drop}\n"
        f"sent sync.poll_all_accounts(all_now=True), standing in for Beat's hourly poll\n"
        f"-> Salesforce Event {crm['Id']}: 'Pricing call' created by the poller"))


def malformed_event(scene: Scene) -> Seen:
    start = tomorrow_at(11)
    event = scene.book("Imported call", start, 0)  # ends when it starts
    account = scene.accounts.calendar_account
    letter = scene.wait(lambda: dead_letter_for_event(account, event["id"]),
                        "dead letter for the zero-length event")
    if scene.sandbox.crm_event_for(event["id"]):
        raise StepFailed("the malformed event reached Salesforce")
    reason = letter.error_message.split(": ", 1)[-1]  # without "google event <id>: "
    return Seen(f"rejected, dead letter {letter.id}, nothing sent to the CRM", (
        f"calendar: 'Imported call' starts and ends at {when(start)} (zero length, "
        f"event {event['id']})\n"
        f"the listing rejected it ({reason}); the other events went on\n"
        f"-> dead letter {letter.id}, nothing written to Salesforce. "
        f"`sync-workers dlq list --status open` shows:\n"
        + dlq_list_output(letter.task_name)))


STEPS: tuple[tuple[str, str, Callable[[Scene], Seen]], ...] = (
    ("booking", "a client books a call in Google Calendar", booking),
    ("reschedule", "the rep moves the call", reschedule),
    ("contact rename", "the client is renamed in Salesforce", contact_rename),
    ("cancellation", "the rep deletes the call", cancellation),
    ("429 storm", "Google rate-limits us during a booking", rate_limit_storm),
    ("lost webhook", "a notification is lost, the poller catches up", lost_webhook),
    ("malformed event", "an event the loader rejects", malformed_event),
)


def play(scene: Scene) -> list[StepResult]:
    results = []
    for name, label, run in STEPS:
        scene.narrator.step(f"{name}: {label}")
        try:
            seen = run(scene)
        except ChildExited:
            raise
        except StepFailed as exc:
            scene.narrator.failed(str(exc))
            results.append(StepResult(name, False, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 (one broken step must not hide the rest)
            reason = f"{type(exc).__name__}: {exc}"
            scene.narrator.failed(reason)
            results.append(StepResult(name, False, reason))
            continue
        scene.narrator.ok(seen.outcome)
        scene.narrator.detail(seen.detail)
        results.append(StepResult(name, True, seen.outcome))
    return results
