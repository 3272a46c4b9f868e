from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_workers.sync import (
    ContactCard,
    parse_contact_block,
    parse_contact_cards,
    render_contact_block,
    replace_contact_block,
)

ADA = ContactCard("Ada Lovelace", "ada@example.com", "Analytical Engines")


@pytest.mark.parametrize("description, expected", [
    ("", None),
    ("just notes", None),
    ("[CRM contact]\nName: Ada Lovelace\nEmail: ada@example.com\nCompany: Analytical Engines\n"
     "[/CRM contact]", ADA),
    ("notes\n\n[CRM contact]\nName: Ada\n[/CRM contact]", ContactCard("Ada")),
    ("[CRM contact]\nEmail:  ADA@Example.com \n[/CRM contact]",
     ContactCard(email="ada@example.com")),
    ("[CRM contact]\nName: Ada\n", None),  # no end marker: not ours
    # Google's editor turned our lines into HTML and escaped the ampersand:
    ("<p>notes</p>[CRM contact]<br>Name: Ada<br>Company: R &amp; D<br>[/CRM contact]",
     ContactCard("Ada", company="R & D")),
    ("[CRM contact]<div>Name: Ada</div><div>Email: a@x.io</div>[/CRM contact]",
     ContactCard("Ada", "a@x.io")),
    ("[CRM contact]\nCompany: A &amp; B <i>x</i>\n[/CRM contact]",  # plain: taken literally
     ContactCard(company="A &amp; B <i>x</i>")),
])
def test_parse(description, expected):
    assert parse_contact_block(description) == expected


@pytest.mark.parametrize("description, expected", [
    ("", "[CRM contact]\nName: Ada\n[/CRM contact]"),
    ("notes", "notes\n\n[CRM contact]\nName: Ada\n[/CRM contact]"),
    ("<b>notes</b>", "<b>notes</b><br><br>[CRM contact]<br>Name: Ada<br>[/CRM contact]"),
    ("a\n\n[CRM contact]\nName: Old\n[/CRM contact]\nafter",
     "a\n\n[CRM contact]\nName: Ada\n[/CRM contact]\nafter"),
])
def test_replace_writes_the_block_and_keeps_the_users_text(description, expected):
    assert replace_contact_block(description, ContactCard("Ada")) == expected


@pytest.mark.parametrize("description, expected", [
    ("notes\n\n[CRM contact]\nName: Ada\n[/CRM contact]", "notes"),
    ("<b>notes</b><br><br>[CRM contact]<br>Name: Ada<br>[/CRM contact]", "<b>notes</b>"),
    ("[CRM contact]\nName: Ada\n[/CRM contact]\nwritten after", "\nwritten after"),
    ("no block", "no block"),
])
def test_removing_the_block_restores_the_users_text(description, expected):
    assert replace_contact_block(description, None) == expected
    assert replace_contact_block(description, ContactCard()) == expected


def test_html_values_are_escaped():
    assert render_contact_block(ContactCard(company="<R&D>"), as_html=True) == \
        "[CRM contact]<br>Company: &lt;R&amp;D&gt;<br>[/CRM contact]"


user_texts = st.text(alphabet="ab <>/&;\n[]pbr", max_size=30).filter(
    lambda text: "[CRM contact]" not in text and "[/CRM contact]" not in text)
values = st.none() | st.text(alphabet="aB &<>;#\n\t:", max_size=12)
cards = st.builds(ContactCard, values, values, values)


@given(user_texts, cards, cards)
def test_whatever_we_write_reads_back_and_removes_cleanly(text, first, second):
    once = replace_contact_block(text, first)
    twice = replace_contact_block(once, second)
    assert parse_contact_block(twice) == (None if second.is_empty else second)
    assert replace_contact_block(twice, second) == twice
    assert replace_contact_block(twice, None) == text


@pytest.mark.parametrize("user_text", ["Agenda: pricing", "<b>Agenda</b>: pricing"],
                         ids=["plain", "html"])
def test_every_person_of_the_meeting_has_a_card_in_the_block(user_text):
    ada = ContactCard("Ada Lovelace", "ada@example.com", "Analytical Engines")
    others = (ContactCard("Grace Hopper", "grace@navy.example"), ContactCard(None, "x@y.org"))
    written = replace_contact_block(user_text, ada, others)
    assert parse_contact_cards(written) == (ada, *others)
    assert parse_contact_block(written) == ada
    assert replace_contact_block(written, None) == user_text
