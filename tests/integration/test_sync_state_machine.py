"""Random interleavings through the real pipeline (sandbox over HTTP, real worker processes,
real Postgres and Redis): bookings, reschedules, retitles and cancels in the calendar, some
with a colleague (a second connected rep) invited, who may decline, and a further guest
who joins and leaves; weekly series (2-3 occurrences) with one occurrence moved or
cancelled, the series retitled or ended early; time,
subject and location edits of the Event and contact renames, e-mail and company changes in
the CRM; polls of either side, repeated and in any order, and reconciles published past the
dedupe; injected 429s (Retry-After 0-1 s) and 503s.

After each example the work is drained (one poll of each side, then quiet) and then:
- both sides agree per the ownership table: the calendar's title, times and status are as
  the user left them and the CRM Event shows them; the CRM contact's name, e-mail and
  company are in the event's contact block and its e-mail among the attendees;
- exactly one CRM Event per live booking (at most one, canceled, per canceled one), no
  other Event, no two live contacts with one e-mail: a meeting in both reps' calendars is
  one CRM meeting, whose id the colleague's copy carries until the colleague declines,
  and its people are exactly its guests (the further guest related while invited, listed
  in the contact block after the contact);
- exactly one CRM Event per live occurrence of a series, with the occurrence's title and
  times (a moved or cancelled occurrence keeps its own title when the series is retitled),
  at most one, canceled, per occurrence cancelled or past the series' end, none for a
  series itself; occurrences carry no CRM ids and no contact block in the calendar;
- nothing was dead-lettered (the 503s injected stay within the retry budget);
- one more reconcile of every link writes nothing.
"""
from __future__ import annotations

import itertools
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sync_workers.sandbox import google_calendar as gcal
from sync_workers.sandbox import salesforce_admin as sf
from sync_workers.sandbox.core import FaultRule
from sync_workers.store import links
from sync_workers.store.db import cursor
from tests.integration.sync_support import (
    Pair,
    colleague_of,
    dead_letters,
    link_of,
    make_pair,
    reset_world,
    settle,
    utc,
)

pytestmark = pytest.mark.integration

MONDAY = datetime(2027, 3, 1, tzinfo=timezone.utc)
GUESTS = ("ada@client.example", "grace@client.example")  # few: bookings share contacts
COLLEAGUE = "robin@example.com"  # the second rep: a colleague, never a guest
FURTHER_GUEST = "alan@bletchley.example"  # joins and leaves bookings after the first guest
TITLES = ("Intro call", "Demo", "Follow-up", "Pricing")
NAMES = (("Ada", "King"), ("Grace", "Hopper"), ("Alan", "Turing"))
COMPANIES = ("Analytical Engines", "Bletchley Park")
API_PATHS = {"google": r"^/calendar/v3/", "salesforce": r"^/services/data/"}
# 503s spend the retry budget (3 runs in tests); with at most 2 outstanding no task can
# exhaust it, so any dead letter is a bug. 429s are waits and spend nothing.
MAX_OUTAGES = 2
DRAIN_TIMEOUT = 45

slots = st.builds(
    lambda day, hour, minutes: (MONDAY + timedelta(days=day, hours=hour),
                                MONDAY + timedelta(days=day, hours=hour, minutes=minutes)),
    st.integers(0, 4), st.integers(8, 17), st.sampled_from([30, 45, 60]))


@dataclass
class Booked:
    """A calendar event as its user left it: the calendar owns these fields."""

    title: str
    start: datetime
    end: datetime
    cancelled: bool = False
    colleague: bool = False  # the colleague is invited (and has not declined)
    further_guest: bool = False  # FURTHER_GUEST is invited


@dataclass
class Occurrence:
    """One occurrence of a series as its user left it; `original` (in its id) never moves."""

    original: datetime
    title: str
    start: datetime
    end: datetime
    cancelled: bool = False  # by its user, or cut off by the series' end
    is_exception: bool = False  # written on its own: no longer follows the series' edits


@dataclass
class Series:
    occurrences: dict[str, Occurrence]  # by occurrence id, in order of original start
    until: datetime | None = None  # the end date the series was given, if any

    def in_rule(self) -> list[tuple[str, Occurrence]]:
        """The occurrences the recurrence still has (cancelled ones too)."""
        return [(i, o) for i, o in self.occurrences.items()
                if self.until is None or o.original <= self.until]


class SyncMachine(RuleBasedStateMachine):
    sandbox = None  # the session's sandbox and the test Redis, set by the test
    redis_db = None
    noted: ClassVar[Counter] = Counter()  # what the examples did, printed by the test (-s)
    events = Bundle("events")
    series = Bundle("series")

    def __init__(self) -> None:
        super().__init__()
        settle(self.redis_db, lambda: True, "the previous example's work", DRAIN_TIMEOUT)
        reset_world(self.sandbox, self.redis_db)
        self.pair: Pair = make_pair(self.sandbox)
        self.colleague: Pair = colleague_of(self.pair, COLLEAGUE)
        self.booked: dict[str, Booked] = {}
        self.booked_series: dict[str, Series] = {}
        self.outages = 0
        self.serial = itertools.count(1)

    # --- the calendar's user ---------------------------------------------------------------

    @initialize(target=events, title=st.sampled_from(TITLES), slot=slots,
                guest=st.sampled_from(GUESTS), colleague=st.booleans())
    def first_booking(self, title, slot, guest, colleague):
        return self.book(title, slot, guest, colleague)

    @rule(target=events, title=st.sampled_from(TITLES), slot=slots,
          guest=st.sampled_from(GUESTS), colleague=st.booleans())
    def book(self, title, slot, guest, colleague):
        start, end = slot
        event = self.pair.book(title=title, start=start,
                               minutes=int((end - start).total_seconds() // 60),
                               attendees=(guest, COLLEAGUE) if colleague else (guest,))
        self.booked[event["id"]] = Booked(title, start, end, colleague=colleague)
        self.noted[f"bookings with the colleague invited: {colleague}"] += 1
        return event["id"]

    @rule(event=events)
    def a_further_guest_joins_or_leaves(self, event):
        booked = self.booked[event]
        if booked.cancelled:
            return
        attendees = [a for a in self.pair.event(event).get("attendees", [])
                     if a["email"] != FURTHER_GUEST]
        if not booked.further_guest:
            attendees.append({"email": FURTHER_GUEST})
        self.pair.edit(event, attendees=attendees)
        booked.further_guest = not booked.further_guest
        self.noted[f"further guest {'joins' if booked.further_guest else 'leaves'}"] += 1

    # --- the calendar's user: recurring meetings --------------------------------------------

    @initialize(target=series, title=st.sampled_from(TITLES), slot=slots,
                guest=st.sampled_from(GUESTS), count=st.integers(0, 3))
    def maybe_a_first_series(self, title, slot, guest, count):
        # Half the examples start with a series, so its edits are drawn often enough.
        return self.book_series(title, slot, guest, count) if count >= 2 else multiple()

    @rule(target=series, title=st.sampled_from(TITLES), slot=slots,
          guest=st.sampled_from(GUESTS), count=st.integers(2, 3))
    def book_series(self, title, slot, guest, count):
        start, end = slot
        made = self.pair.book(title=title, start=start,
                              minutes=int((end - start).total_seconds() // 60),
                              time_zone="UTC", recurrence=[f"RRULE:FREQ=WEEKLY;COUNT={count}"],
                              attendees=(guest,))
        week = timedelta(days=7)
        self.booked_series[made["id"]] = Series({
            occurrence_id(made["id"], start + i * week):
                Occurrence(start + i * week, title, start + i * week, end + i * week)
            for i in range(count)})
        self.noted[f"series of {count}"] += 1
        return made["id"]

    @rule(series=series, which=st.integers(0, 2), days=st.integers(0, 2),
          hour=st.integers(8, 17), minutes=st.sampled_from([30, 45, 60]))
    def move_one_occurrence(self, series, which, days, hour, minutes):
        live = [(i, o) for i, o in self.booked_series[series].in_rule() if not o.cancelled]
        self.noted[f"move one occurrence: {bool(live)}"] += 1
        if not live:
            return
        event_id, occurrence = live[which % len(live)]
        start = occurrence.original.replace(hour=hour) + timedelta(days=days)
        end = start + timedelta(minutes=minutes)
        self.pair.edit(event_id, start={"dateTime": start.isoformat(), "timeZone": "UTC"},
                       end={"dateTime": end.isoformat(), "timeZone": "UTC"})
        occurrence.start, occurrence.end, occurrence.is_exception = start, end, True

    @rule(series=series, which=st.integers(0, 2))
    def cancel_one_occurrence(self, series, which):
        live = [(i, o) for i, o in self.booked_series[series].in_rule() if not o.cancelled]
        self.noted[f"cancel one occurrence: {bool(live)}"] += 1
        if not live:
            return
        event_id, occurrence = live[which % len(live)]
        self.pair.delete(event_id)
        occurrence.cancelled = occurrence.is_exception = True

    @rule(series=series, title=st.sampled_from(TITLES))
    def retitle_the_series(self, series, title):
        self.pair.edit(series, summary=title)
        self.noted["retitle a series"] += 1
        # The exceptions (moved or cancelled occurrences) keep their own fields, at
        # Google and in the sandbox (an exception is a record of its own).
        for occurrence in self.booked_series[series].occurrences.values():
            if not occurrence.is_exception and not occurrence.cancelled:
                occurrence.title = title

    @rule(series=series, keep=st.integers(1, 2))
    def end_the_series_early(self, series, keep):
        model = self.booked_series[series]
        in_rule = model.in_rule()
        self.noted[f"end a series early: {len(in_rule) > 1}"] += 1
        if len(in_rule) < 2:  # an UNTIL at or past the last occurrence would add more
            return
        kept = in_rule[:1 + (keep - 1) % (len(in_rule) - 1)]
        model.until = kept[-1][1].original + timedelta(hours=1)  # before the next one
        self.pair.edit(series, recurrence=[
            f"RRULE:FREQ=WEEKLY;UNTIL={model.until.strftime('%Y%m%dT%H%M%SZ')}"])
        for _, occurrence in in_rule[len(kept):]:
            occurrence.cancelled = True

    # --- the colleague: their copy of a meeting they were invited to ------------------------

    @rule(event=events)
    def colleague_declines(self, event):
        booked = self.booked[event]
        self.noted[f"colleague declines: {booked.colleague and not booked.cancelled}"] += 1
        if booked.colleague and not booked.cancelled:
            gcal.respond(self.pair.state, COLLEAGUE, event, "declined")
            booked.colleague = False

    @rule(event=events, slot=slots)
    def reschedule_in_calendar(self, event, slot):
        booked = self.booked[event]
        if not booked.cancelled:
            self.pair.edit(event, start={"dateTime": slot[0].isoformat()},
                           end={"dateTime": slot[1].isoformat()})
            booked.start, booked.end = slot

    @rule(event=events, title=st.sampled_from(TITLES))
    def retitle_in_calendar(self, event, title):
        booked = self.booked[event]
        if not booked.cancelled:
            self.pair.edit(event, summary=title)
            booked.title = title

    @rule(event=events)
    def cancel_in_calendar(self, event):
        booked = self.booked[event]
        if not booked.cancelled:
            self.pair.delete(event)
            booked.cancelled = True

    # --- the CRM's user: edits what the sync made, so it waits for the booking to sync ----

    @rule(event=events, what=st.sampled_from(["times", "subject", "location"]), slot=slots)
    def edit_event_in_crm(self, event, what, slot):
        crm = self._synced_crm_event(event)
        self.noted[f"edit_event_in_crm: {'applied' if crm else 'no CRM event yet'}"] += 1
        if crm is None:
            return
        change = {"times": {"StartDateTime": slot[0].isoformat(),
                            "EndDateTime": slot[1].isoformat()},
                  "subject": {"Subject": f"Edited in CRM {next(self.serial)}"},
                  "location": {"Location": f"Room {next(self.serial)}"}}[what]
        sf.update_as_user(self.pair.state, "Event", crm["Id"], change)

    @rule(event=events, name=st.sampled_from(NAMES))
    def rename_contact_in_crm(self, event, name):
        self._edit_contact(event, {"FirstName": name[0], "LastName": name[1]})

    @rule(event=events)
    def change_contact_email_in_crm(self, event):
        # A fresh address: two contacts sharing one would be the user's duplicate, not ours.
        self._edit_contact(event, {"Email": f"moved{next(self.serial)}@client.example"})

    @rule(event=events, company=st.sampled_from(COMPANIES))
    def change_contact_company_in_crm(self, event, company):
        if self._contact_id(event):
            account = sf.create_as_user(self.pair.state, "Account", {"Name": company})
            self._edit_contact(event, {"AccountId": account})

    # --- triggers and faults ---------------------------------------------------------------

    @rule(side=st.sampled_from(["calendar", "crm"]), times=st.integers(1, 3))
    def poll(self, side, times):
        for _ in range(times):
            self.pair.poll(side)

    @rule(times=st.integers(1, 2))
    def poll_the_colleagues_calendar(self, times):
        for _ in range(times):
            self.colleague.poll()

    @rule(times=st.integers(1, 2))
    def reconcile_every_link_past_the_dedupe(self, times):
        existing = links.for_account(self.pair.crm_account)
        self.noted[f"reconciles past the dedupe: {'sent' if existing else 'no link yet'}"] += 1
        for link in existing * times:
            self.pair.reconcile_now(link.link_id)

    @rule()
    def let_the_pipeline_catch_up(self):
        settle(self.redis_db, lambda: True, "the pipeline to catch up", DRAIN_TIMEOUT)

    @rule(provider=st.sampled_from(sorted(API_PATHS)), count=st.integers(1, 3),
          retry_after=st.integers(0, 1))
    def rate_limit(self, provider, count, retry_after):
        self._fault(provider, count, 429, {"Retry-After": str(retry_after)})

    @precondition(lambda self: self.outages < MAX_OUTAGES)
    @rule(provider=st.sampled_from(sorted(API_PATHS)), count=st.integers(1, MAX_OUTAGES))
    def outage(self, provider, count):
        count = min(count, MAX_OUTAGES - self.outages)
        self.outages += count
        self._fault(provider, count, 503, {})

    # --- the end of an example -------------------------------------------------------------

    def teardown(self):
        self.pair.poll()
        self.colleague.poll()
        self.pair.poll("crm")
        self._settle_or_explain(lambda: not self.disagreements(), "both sides to agree",
                                self.disagreements)
        letters = dead_letter_summaries()
        assert not letters, f"dead-lettered: {letters}"
        self._one_more_reconcile_of_every_link_writes_nothing()
        self._note_what_happened()

    def _settle_or_explain(self, predicate, what: str, explain) -> None:
        try:
            settle(self.redis_db, predicate, what, DRAIN_TIMEOUT)
        except AssertionError:
            details = explain() + dead_letter_summaries()
            if details:
                raise AssertionError(f"waiting for {what}:\n  " + "\n  ".join(details)) \
                    from None
            raise

    def _note_what_happened(self) -> None:
        self.noted[f"bookings per example: {len(self.booked)}"] += 1
        self.noted[f"series per example: {len(self.booked_series)}"] += 1
        for entry in self.pair.state.log.entries():
            if entry["fault"]:
                self.noted[f"faults served: {entry['status']}"] += 1

    def disagreements(self) -> list[str]:
        crm_events, contacts = self.pair.crm_events(), self.pair.contacts()
        occurrences = {i: o for s in self.booked_series.values()
                       for i, o in s.occurrences.items()}
        problems = duplicate_contacts(contacts) + unknown_crm_events(
            crm_events, {*self.booked, *occurrences}, set(self.booked_series))
        for event_id, booked in self.booked.items():
            mine = [e for e in crm_events if e["Calendar_Event_Id__c"] == event_id]
            problems += [f"{event_id}: {p}" for p in self._event_problems(event_id, booked, mine)]
        for event_id, occurrence in occurrences.items():
            mine = [e for e in crm_events if e["Calendar_Event_Id__c"] == event_id]
            problems += [f"{event_id}: {p}"
                         for p in self._occurrence_problems(event_id, occurrence, mine)]
        return problems

    def _occurrence_problems(self, event_id: str, occurrence: Occurrence,
                             crm_events: list[dict]) -> list[str]:
        """As for a single booking, less what occurrences do not carry: the link holds the
        ids, the calendar none of ours."""
        if len(crm_events) > 1:
            return [f"{len(crm_events)} CRM events"]
        crm = crm_events[0] if crm_events else None
        if occurrence.cancelled:  # past an end date it is no occurrence: not readable
            canceled = crm is None or crm["Appointment_Status__c"] == "Canceled"
            return [] if canceled else [f"CRM event still {crm['Appointment_Status__c']}"]
        calendar = self.pair.event(event_id)
        problems = as_the_user_left_it(calendar, occurrence) + carries_nothing_of_ours(calendar)
        if crm is None:
            return problems + ["no CRM event"]
        contact = sf.record(self.pair.state, "Contact", crm["WhoId"]) if crm["WhoId"] else None
        if contact is None or contact["IsDeleted"]:
            problems.append(f"CRM event has no live contact ({crm['WhoId']})")
        link = link_of(self.pair, event_id)
        if link is None or link.crm_event_id != crm["Id"]:
            problems.append(f"link {link} does not hold {crm['Id']}")
        return problems + crm_follows_calendar(crm, calendar)

    def _event_problems(self, event_id: str, booked: Booked, crm_events: list[dict]
                        ) -> list[str]:
        if len(crm_events) > 1:
            return [f"{len(crm_events)} CRM events"]
        crm = crm_events[0] if crm_events else None
        calendar = self.pair.event(event_id)
        if booked.cancelled:
            canceled = crm is None or crm["Appointment_Status__c"] == "Canceled"
            return [] if canceled else [f"CRM event still {crm['Appointment_Status__c']}"]
        problems = as_the_user_left_it(calendar, booked)
        if crm is None:
            return problems + ["no CRM event"]
        contact = sf.record(self.pair.state, "Contact", crm["WhoId"]) if crm["WhoId"] else None
        if contact is None or contact["IsDeleted"]:
            return problems + [f"CRM event has no live contact ({crm['WhoId']})"]
        return (problems + crm_follows_calendar(crm, calendar)
                + calendar_follows_contact(calendar, contact_card(self.pair, contact))
                + keys_tie_both(calendar, crm, link_of(self.pair, event_id))
                + self._people_problems(calendar, booked, crm)
                + self._colleague_problems(event_id, booked, crm))

    def _people_problems(self, calendar: dict, booked: Booked, crm: dict) -> list[str]:
        """The CRM meeting's people are its guests; the block lists the further one."""
        further = [c["Id"] for c in self.pair.contacts() if c["Email"] == FURTHER_GUEST] \
            if booked.further_guest else []
        related = {r["RelationId"] for r in sf.records(self.pair.state, "EventRelation")
                   if r["EventId"] == crm["Id"] and r.get("IsParent")}
        problems = [] if related == {crm["WhoId"], *further} else \
            [f"the CRM meeting relates {sorted(related)}, its guests are "
             f"{[crm['WhoId'], *further]}"]
        listed = further_cards(calendar.get("description") or "")
        if listed != ([FURTHER_GUEST] if booked.further_guest else []):
            problems.append(f"the contact block lists {listed} after the contact")
        return problems

    def _colleague_problems(self, event_id: str, booked: Booked, crm: dict) -> list[str]:
        """The colleague's copy: linked to the same CRM meeting while they attend, and
        detached (or never linked) once they declined."""
        copy = link_of(self.colleague, event_id)
        if not booked.colleague:
            return [] if copy is None or copy.status == "detached" else \
                [f"the colleague declined but their copy is {copy.role}/{copy.status}"]
        private = self.colleague.event(event_id).get("extendedProperties", {}).get(
            "private", {})
        problems = [] if copy is not None and copy.role == "copy" \
            and copy.crm_event_id == crm["Id"] else [f"the colleague's copy is linked as {copy}"]
        if private.get("crm_event_id") != crm["Id"]:
            problems.append(f"the colleague's copy carries {private}, not {crm['Id']}")
        return problems

    def _one_more_reconcile_of_every_link_writes_nothing(self):
        before = len(self.pair.writes())
        started = database_now()
        link_ids = [link.link_id for link in links.for_account(self.pair.crm_account)
                    if link.status != "detached"]
        for link_id in link_ids:
            self.pair.reconcile_now(link_id)
        self._settle_or_explain(
            lambda: reconciled_since(started) >= set(link_ids), "one more reconcile of every link",
            lambda: [f"link {i} not reconciled" for i in set(link_ids) - reconciled_since(started)])
        extra = [(w["method"], w["path"]) for w in self.pair.writes()[before:]]
        assert not extra, f"a converged pair was written to: {extra}"

    # --- helpers ------------------------------------------------------------------------------

    def _crm_event(self, event_id: str) -> dict | None:
        return next((e for e in self.pair.crm_events()
                     if e["Calendar_Event_Id__c"] == event_id), None)

    def _synced_crm_event(self, event_id: str) -> dict | None:
        """The booking's CRM Event, once the sync has made it (None if it never will: the
        event was canceled first)."""
        if self._crm_event(event_id) is None and not self.booked[event_id].cancelled:
            self.pair.poll()
            settle(self.redis_db, lambda: True, "the booking to sync", DRAIN_TIMEOUT)
        return self._crm_event(event_id)

    def _contact_id(self, event_id: str) -> str | None:
        crm = self._synced_crm_event(event_id)
        return crm["WhoId"] if crm else None

    def _edit_contact(self, event_id: str, fields: dict) -> None:
        contact_id = self._contact_id(event_id)
        self.noted[f"contact edit: {'applied' if contact_id else 'no contact yet'}"] += 1
        if contact_id:
            sf.update_as_user(self.pair.state, "Contact", contact_id, fields)

    def _fault(self, provider: str, count: int, status: int, headers: dict) -> None:
        self.pair.state.faults.add(FaultRule(kind="status", provider=provider, status=status,
                                             path=API_PATHS[provider], count=count,
                                             headers=headers))


# --- what agreement means, read from the raw records (not through the sync's own views) ----

def as_the_user_left_it(calendar: dict, booked: Booked | Occurrence) -> list[str]:
    seen = (calendar["status"], calendar.get("summary"), utc(calendar["start"]["dateTime"]),
            utc(calendar["end"]["dateTime"]))
    wanted = ("confirmed", booked.title, booked.start, booked.end)
    return [] if seen == wanted else [f"calendar is {seen}, its user left {wanted}"]


def crm_follows_calendar(crm: dict, calendar: dict) -> list[str]:
    seen = (crm["Subject"], utc(crm["StartDateTime"]), utc(crm["EndDateTime"]),
            crm.get("Location") or "", crm["Appointment_Status__c"])
    wanted = (calendar.get("summary"), utc(calendar["start"]["dateTime"]),
              utc(calendar["end"]["dateTime"]), calendar.get("location") or "", "Scheduled")
    return [] if seen == wanted else [f"CRM event is {seen}, the calendar says {wanted}"]


def contact_card(pair: Pair, contact: dict) -> dict[str, str]:
    account = sf.record(pair.state, "Account", contact["AccountId"]) \
        if contact.get("AccountId") else None
    name = " ".join(p for p in (contact.get("FirstName"), contact.get("LastName")) if p)
    card = {"Name": name, "Email": contact["Email"], "Company": account and account["Name"]}
    return {label: value for label, value in card.items() if value}


def _block_cards(description: str) -> list[dict[str, str]] | None:
    start, end = description.rfind("[CRM contact]"), description.rfind("[/CRM contact]")
    if start < 0 or end < start:
        return None
    cards: list[dict[str, str]] = [{}]
    for line in description[start:end].splitlines()[1:]:
        if line == "--":
            cards.append({})
        elif ": " in line:
            label, value = line.split(": ", 1)
            cards[-1][label] = value
    return cards


def calendar_block(description: str) -> dict[str, str] | None:
    """The block's first card: the meeting's contact."""
    cards = _block_cards(description)
    return cards[0] if cards else None


def further_cards(description: str) -> list[str]:
    """The e-mails of the block's further cards: the meeting's other people."""
    return [card.get("Email", "") for card in (_block_cards(description) or [{}])[1:]]


def calendar_follows_contact(calendar: dict, card: dict[str, str]) -> list[str]:
    problems = []
    block = calendar_block(calendar.get("description") or "")
    if block != card:
        problems.append(f"contact block is {block}, the CRM contact is {card}")
    attendees = {a["email"].lower() for a in calendar.get("attendees", [])}
    if card["Email"].lower() not in attendees:
        problems.append(f"{card['Email']} is not among the attendees {sorted(attendees)}")
    return problems


def keys_tie_both(calendar: dict, crm: dict, link) -> list[str]:
    private = calendar.get("extendedProperties", {}).get("private", {})
    wanted = {"crm_event_id": crm["Id"], "crm_contact_id": crm["WhoId"]}
    problems = [] if private == wanted else [f"event carries {private}, expected {wanted}"]
    if link is None or (link.crm_event_id, link.crm_contact_id) != (crm["Id"], crm["WhoId"]):
        problems.append(f"link {link} does not hold {wanted}")
    return problems


def carries_nothing_of_ours(calendar: dict) -> list[str]:
    """An occurrence written to becomes an exception, so the sync leaves it as it is."""
    private = calendar.get("extendedProperties", {}).get("private", {})
    problems = [f"occurrence carries {private}"] if private else []
    if calendar_block(calendar.get("description") or "") is not None:
        problems.append("occurrence has a contact block")
    return problems


def duplicate_contacts(contacts: list[dict]) -> list[str]:
    counts = Counter((c.get("Email") or "").lower() for c in contacts)
    return [f"{n} live contacts with e-mail {email!r}" for email, n in counts.items() if n > 1]


def unknown_crm_events(crm_events: list[dict], known: set[str], masters: set[str]
                       ) -> list[str]:
    """Events of no booking and no occurrence (one past a series' end is known: it must be
    canceled); a series itself is never a CRM meeting."""
    return [f"CRM event {e['Id']} is of the series itself ({e['Calendar_Event_Id__c']})"
            if e["Calendar_Event_Id__c"] in masters else
            f"CRM event {e['Id']} belongs to no booking ({e['Calendar_Event_Id__c']})"
            for e in crm_events if e["Calendar_Event_Id__c"] not in known]


def occurrence_id(series_id: str, start: datetime) -> str:
    return f"{series_id}_{start.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"


def dead_letter_summaries() -> list[str]:
    return [f"dead letter {d['task_name']} {d['kwargs']}: {d['error_type']} {d['error_message']}"
            for d in dead_letters()]


def database_now() -> datetime:
    with cursor() as cur:
        cur.execute("SELECT clock_timestamp() AS now")
        return cur.fetchone()["now"]


def reconciled_since(moment: datetime) -> set[int]:
    with cursor() as cur:
        cur.execute("SELECT id FROM sync_links WHERE reconciled_at >= %s", (moment,))
        return {row["id"] for row in cur.fetchall()}


MACHINE_SETTINGS = settings(
    # About a second per example (more with faults); SYNC_STATEFUL_EXAMPLES=200 digs deeper.
    max_examples=int(os.environ.get("SYNC_STATEFUL_EXAMPLES", "20")), stateful_step_count=8,
    deadline=None,
    # Shrinking would replay the real pipeline dozens of times; the failing example's
    # steps are printed as they are.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow])


def test_random_interleavings_converge_without_duplicates_or_extra_writes(
        sandbox, db, redis_db, session_worker):
    SyncMachine.sandbox, SyncMachine.redis_db = sandbox, redis_db
    try:
        run_state_machine_as_test(SyncMachine, settings=MACHINE_SETTINGS)
        print("\n".join(f"{n:4} {what}" for what, n in sorted(SyncMachine.noted.items())))
    finally:
        SyncMachine.sandbox = SyncMachine.redis_db = None
