"""Request options of the Graph emulator: Prefer headers and the OData query options.

Prefer (several headers or comma-separated): `outlook.timezone="<zone>"` (event-get.md),
`outlook.body-content-type="text|html"`, `odata.maxpagesize=N` (delta-query-events.md)
and `IdType="ImmutableId"` (outlook-immutable-id.md). $filter understands what the
service needs: `singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq
'...')` with eq, ne, contains and startswith on the value (id case-sensitive by name,
value case-insensitive, singlevaluelegacyextendedproperty-get.md), comparisons of plain
properties (`iCalUId eq '...'`, `start/dateTime ge '...'`), and/or/not and parentheses.
$expand takes `singleValueExtendedProperties($filter=id eq '...' [or id eq '...'])`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from .microsoft_graph_errors import GraphError, invalid_filter, time_zone_not_supported
from .microsoft_graph_events import SELECTABLE, extended_key
from .microsoft_graph_zones import zone_for

_PREFER_ITEM = re.compile(r'\s*([A-Za-z][\w.\-]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,;\s]*))?\s*')


@dataclass(frozen=True)
class Prefer:
    zone: ZoneInfo
    zone_name: str = "UTC"
    zone_asked: bool = False
    immutable: bool = False
    page_size: int | None = None
    body_type: str | None = None

    def applied(self) -> str | None:
        """The Preference-Applied header for what was honoured."""
        parts = []
        if self.zone_asked:
            parts.append(f'outlook.timezone="{self.zone_name}"')
        if self.body_type:
            parts.append(f'outlook.body-content-type="{self.body_type}"')
        if self.page_size is not None:
            parts.append(f"odata.maxpagesize={self.page_size}")
        return ", ".join(parts) or None


def parse_prefer(values: list[str]) -> Prefer:
    items: dict[str, str] = {}
    for header in values:
        for part in _split_unquoted(header):
            match = _PREFER_ITEM.fullmatch(part)
            if match:
                value = match[2] or ""
                if value.startswith('"'):
                    value = value[1:-1].replace('\\"', '"')
                items[match[1].lower()] = value
    zone_name = items.get("outlook.timezone")
    zone = ZoneInfo("UTC")
    if zone_name is not None:
        found = zone_for(zone_name)
        if found is None:
            raise time_zone_not_supported(zone_name)
        zone = found
    page = items.get("odata.maxpagesize")
    page_size = int(page) if page and page.isdigit() and int(page) > 0 else None
    body = items.get("outlook.body-content-type", "").lower() or None
    return Prefer(zone=zone, zone_name=zone_name or "UTC", zone_asked=zone_name is not None,
                  immutable=items.get("idtype", "").lower() == "immutableid",
                  page_size=page_size, body_type=body if body in ("text", "html") else None)


def _split_unquoted(text: str) -> list[str]:
    parts, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch in ",;" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


# --- the time window of calendarView and its delta --------------------------------------

_WINDOW_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?", re.I | re.A)


def parse_window(args: dict[str, str]) -> tuple[datetime, datetime]:
    """startDateTime/endDateTime (names in any case): an offset in the value counts, none
    means UTC; Prefer: outlook.timezone plays no part (user-list-calendarview.md)."""
    start = _window_time(args.get("startdatetime"), "StartDateTime")
    end = _window_time(args.get("enddatetime"), "EndDateTime")
    if end <= start:
        raise GraphError(400, "ErrorInvalidParameter",
                         "The value of parameter 'EndDateTime' must be later than "
                         "'StartDateTime'.")
    return start, end


def _window_time(value: str | None, name: str) -> datetime:
    match = _WINDOW_TIME.fullmatch((value or "").strip())
    if match is None:
        raise GraphError(400, "ErrorInvalidParameter",
                         f"The value '{value}' of parameter '{name}' is invalid.")
    day, hh, mm, ss, frac, offset = match.groups()
    try:
        when = datetime.fromisoformat(f"{day}T{hh or '00'}:{mm or '00'}:{ss or '00'}")
    except ValueError:
        raise GraphError(400, "ErrorInvalidParameter",
                         f"The value '{value}' of parameter '{name}' is invalid.") from None
    when = when.replace(microsecond=int((frac or "0").ljust(6, "0")[:6]))
    tz = timezone.utc
    if offset and offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return when.replace(tzinfo=tz).astimezone(timezone.utc)


# --- $select, $expand, $orderby, $top, $skip --------------------------------------------


def parse_select(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    for name in names:
        if name not in SELECTABLE:
            raise _unknown_property(name)
    return names


def parse_expand(value: str | None) -> tuple[tuple[str, ...], ...] | None:
    """The extended property keys asked for; () for all of them; None if not expanded."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*singleValueExtendedProperties\s*(?:\((.*)\))?\s*", value,
                         re.I | re.S)
    if match is None:
        raise _unknown_property(value.split("(")[0].strip())
    inner = (match[1] or "").strip()
    if not inner:
        return ()
    filter_match = re.fullmatch(r"\$filter\s*=\s*(.*)", inner, re.I | re.S)
    if filter_match is None:
        raise invalid_filter(inner)
    keys = []
    for clause in re.split(r"\s+or\s+", filter_match[1].strip(), flags=re.I):
        clause_match = re.fullmatch(r"\(?\s*id\s+eq\s+'((?:[^']|'')*)'\s*\)?", clause.strip(),
                                    re.I)
        key = extended_key(clause_match[1].replace("''", "'")) if clause_match else None
        if key is None:
            raise invalid_filter(clause)
        keys.append(key)
    return tuple(keys)


def parse_orderby(value: str | None) -> list[tuple[str, bool]]:
    if not value:
        return []
    out = []
    for part in value.split(","):
        bits = part.split()
        if not bits or len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in
                                         ("asc", "desc")):
            raise GraphError(400, "BadRequest", f"Invalid $orderby clause '{part}'.")
        if bits[0].split("/")[0] not in SELECTABLE:
            raise _unknown_property(bits[0])
        out.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
    return out


def parse_count(value: str | None, name: str, default: int | None) -> int | None:
    if value is None:
        return default
    if not value.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{value}' for {name}.")
    return int(value)


def path_value(doc: Any, path: str) -> Any:
    for part in path.split("/"):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def _unknown_property(name: str) -> GraphError:
    return GraphError(400, "RequestBroker--ParseUri",
                      f"Could not find a property named '{name}' on type "
                      "'microsoft.graph.event'.")


# --- $filter ----------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|([():,])|(-?\d+(?:\.\d+)?(?![\w/]))|"
                    r"([A-Za-z_$][\w/.\-]*))")
_OPS = ("eq", "ne", "gt", "ge", "lt", "le")

# What a filter sees of an event: its JSON, and its extended properties (key, value).
Subject = tuple[dict[str, Any], list[tuple[tuple[str, ...], str]]]
Predicate = Callable[[Subject], bool]


def parse_filter(text: str | None) -> Predicate | None:
    if not text:
        return None
    tokens = _tokenize(text)
    parser = _FilterParser(tokens, text)
    predicate = parser.expression()
    if parser.pos != len(tokens):
        raise invalid_filter(text)
    return predicate


def _tokenize(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise invalid_filter(text)
        pos = match.end()
        literal, punct, number, word = match.groups()
        if literal is not None:
            out.append(("str", literal[1:-1].replace("''", "'")))
        elif punct is not None:
            out.append((punct, punct))
        elif number is not None:
            out.append(("num", float(number)))
        else:
            out.append(("word", word))
    return out


class _FilterParser:
    def __init__(self, tokens: list[tuple[str, Any]], text: str,
                 variable: str | None = None) -> None:
        self.tokens, self.text, self.pos, self.variable = tokens, text, 0, variable

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", None)

    def take(self, kind: str | None = None) -> tuple[str, Any]:
        token = self.peek()
        if token[0] == "end" or (kind is not None and token[0] != kind):
            raise invalid_filter(self.text)
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token[0] == "word" and str(token[1]).lower() == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> Predicate:
        left = self.conjunction()
        while self.keyword("or"):
            right = self.conjunction()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.unary()
        while self.keyword("and"):
            right = self.unary()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.unary()
            return lambda s: not inner(s)
        if self.peek()[0] == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        kind, word = self.take("word")
        if self.peek()[0] == "(" and word.lower().endswith("/any"):
            return self.any_clause(word[:-4])
        if self.peek()[0] == "(" and word.lower() in ("contains", "startswith"):
            return self.function(word.lower())
        op = str(self.take("word")[1]).lower()
        if op not in _OPS:
            raise invalid_filter(self.text)
        literal = self.literal()
        return self.comparison(word, op, literal)

    def literal(self) -> Any:
        kind, value = self.take()
        if kind in ("str", "num"):
            return value
        if kind == "word" and str(value).lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[str(value).lower()]
        raise invalid_filter(self.text)

    def function(self, name: str) -> Predicate:
        self.take("(")
        path = str(self.take("word")[1])
        self.take(",")
        literal = self.literal()
        self.take(")")
        if not isinstance(literal, str):
            raise invalid_filter(self.text)
        getter = self.getter(path)
        needle = literal.lower()

        def check(subject: Subject) -> bool:
            value = getter(subject)
            if not isinstance(value, str):
                return False
            return needle in value.lower() if name == "contains" else \
                value.lower().startswith(needle)
        return check

    def any_clause(self, collection: str) -> Predicate:
        if collection.lower() != "singlevalueextendedproperties" or self.variable:
            raise invalid_filter(self.text)
        self.take("(")
        variable = str(self.take("word")[1])
        self.take(":")
        start = self.pos
        depth = 1
        while depth:
            kind, _ = self.take()
            depth += {"(": 1, ")": -1}.get(kind, 0)
        inner_tokens = self.tokens[start:self.pos - 1]
        inner = _FilterParser(inner_tokens, self.text, variable)
        predicate = inner.expression()
        if inner.pos != len(inner_tokens):
            raise invalid_filter(self.text)

        def check(subject: Subject) -> bool:
            doc, extended = subject
            return any(predicate(({"__ep__": (key, value)}, [])) for key, value in extended)
        return check

    def getter(self, path: str) -> Callable[[Subject], Any]:
        if self.variable is not None:
            head, _, tail = path.partition("/")
            if head != self.variable or tail.lower() not in ("id", "value"):
                raise invalid_filter(self.text)
            index = 0 if tail.lower() == "id" else 1
            return lambda subject: subject[0]["__ep__"][index]
        if path.split("/")[0] not in SELECTABLE:
            raise invalid_filter(self.text)
        return lambda subject: path_value(subject[0], path)

    def comparison(self, path: str, op: str, literal: Any) -> Predicate:
        getter = self.getter(path)
        is_ep_id = self.variable is not None and path.lower().endswith("/id")
        is_ep_value = self.variable is not None and path.lower().endswith("/value")
        if is_ep_id:
            wanted = extended_key(literal)
            if wanted is None or op not in ("eq", "ne"):
                raise invalid_filter(self.text)
            return lambda s: (getter(s) == wanted) == (op == "eq")

        def check(subject: Subject) -> bool:
            value = getter(subject)
            left, right = value, literal
            if is_ep_value and isinstance(left, str) and isinstance(right, str):
                left, right = left.lower(), right.lower()
            if op == "eq":
                return left == right
            if op == "ne":
                return left != right
            if left is None or right is None or type(left) is not type(right):
                return False
            return {"gt": left > right, "ge": left >= right, "lt": left < right,
                    "le": left <= right}[op]
        return check
