"""The CRM-owned contact data, carried in the calendar event's description as a block.

    ...the user's own text, never touched...

    [CRM contact]
    Name: Ada Lovelace
    Email: ada@example.com
    Company: Analytical Engines
    --
    Name: Grace Hopper
    Email: grace@example.com
    [/CRM contact]

The first card is the meeting's contact (the CRM's WhoId); a "--" line starts the card of
each further person the meeting is related to, in the guests' order.

Google descriptions may hold HTML (the web editor writes it). When the user's text is
HTML the block is written with `<br>` and escaped values; the parser tells the two forms
apart by the block itself (our plain block always has newlines, our HTML block never
has), so whatever we write reads back exactly, and a block that Google's editor turned
into HTML reads back too.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

from .fields import normalize

START = "[CRM contact]"
END = "[/CRM contact]"
_LABELS = ("Name", "Email", "Company")
_NEXT = "--"  # starts the next person's card
_PLAIN_GAP = "\n\n"
_HTML_GAP = "<br><br>"
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
_HTML_LINE_BREAK = re.compile(r"<br\s*/?>|</?(?:p|div)\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class ContactCard:
    """What the block shows; values are normalised like the canonical contact fields."""

    name: str | None = None
    email: str | None = None
    company: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalize("contact_name", self.name))
        object.__setattr__(self, "email", normalize("contact_email", self.email))
        object.__setattr__(self, "company", normalize("contact_company", self.company))

    @property
    def is_empty(self) -> bool:
        return self.name is None and self.email is None and self.company is None


def render_contact_block(card: ContactCard, *, as_html: bool,
                         others: tuple[ContactCard, ...] = ()) -> str:
    lines: list[str] = []
    for index, each in enumerate((card, *others)):
        if index:
            lines.append(_NEXT)
        values = (each.name, each.email, each.company)
        lines += [f"{label}: {html.escape(value, quote=False) if as_html else value}"
                  for label, value in zip(_LABELS, values) if value is not None]
    return ("<br>" if as_html else "\n").join([START, *lines, END])


def parse_contact_block(description: str) -> ContactCard | None:
    """The meeting's contact in `description`, or None when it carries no block."""
    cards = parse_contact_cards(description)
    return cards[0] if cards else None


def parse_contact_cards(description: str) -> tuple[ContactCard, ...]:
    """Every card of the block in `description`, the contact first; () without a block."""
    bounds = _find_block(description)
    if bounds is None:
        return ()
    body = description[bounds[0] + len(START):bounds[1] - len(END)]
    is_html = "\n" not in body
    if is_html:
        body = _HTML_TAG.sub("", _HTML_LINE_BREAK.sub("\n", body))
    groups: list[dict[str, str]] = [{}]
    for line in body.split("\n"):
        if line.strip() == _NEXT:
            groups.append({})
            continue
        label, colon, value = line.strip().partition(":")
        if colon and label in _LABELS:
            groups[-1][label] = html.unescape(value) if is_html else value
    return tuple(ContactCard(g.get("Name"), g.get("Email"), g.get("Company")) for g in groups)


def replace_contact_block(description: str, card: ContactCard | None,
                          others: tuple[ContactCard, ...] = ()) -> str:
    """`description` with its block set to `card` and `others` (removed when `card` is None
    or empty); the text outside the block stays as it was, so removing the block restores
    the user's text."""
    bounds = _find_block(description)
    before, after = (description, "") if bounds is None \
        else (description[:bounds[0]], description[bounds[1]:])
    if card is None or card.is_empty:
        if bounds is None:
            return description
        for gap in (_PLAIN_GAP, _HTML_GAP):
            if before.endswith(gap):
                before = before[:-len(gap)]
                break
        return before + after
    as_html = bool(_HTML_TAG.search(before + after))
    block = render_contact_block(card, as_html=as_html, others=others)
    if bounds is None and before:
        before += _HTML_GAP if as_html else _PLAIN_GAP
    return before + block + after


def _find_block(description: str) -> tuple[int, int] | None:
    """Start and end offsets of our block; the last one wins (it is the one we append)."""
    start = description.rfind(START)
    if start < 0:
        return None
    end = description.find(END, start)
    if end < 0:
        return None
    return start, end + len(END)
