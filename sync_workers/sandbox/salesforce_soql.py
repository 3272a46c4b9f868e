"""A SOQL subset: enough for incremental sync and lookups, with the real errors.

    SELECT f1, Parent.f2 | COUNT() FROM Object
    [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

cond: comparisons (= != <> < > <= >=), [NOT] IN (...), LIKE, NOT, parentheses, and AND/OR
(never mixed at one level without parentheses, as in SOQL). Literals are typed as in SOQL:
datetimes and dates unquoted, strings quoted; a mismatch is MALFORMED_QUERY. A datetime
literal needs Z or +hh:mm (the REST API's own "+0000" form is not a SOQL literal). Text
comparisons are case-insensitive. Unknown fields are INVALID_FIELD, unknown objects
INVALID_TYPE; anything else the parser doesn't know is MALFORMED_QUERY, never a crash.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .salesforce_common import SfError, parse_date, parse_datetime, sobject_of_id
from .salesforce_schema import FieldDef, SObjectType, find_type

MAX_OFFSET = 2000
# Fields reachable through a polymorphic lookup (Who, What, Event.Owner): those of the
# "Name" object, with their types (Field Reference, "Name": https://developer.salesforce.
# com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-
# name.html lists Alias, Email, FirstName, Id, IsActive, LastName, Name, Phone, Title, Type,
# Username...). Fields the parent record doesn't have read as null.
NAME_FIELD_TYPES = {"Id": "id", "Name": "string", "FirstName": "string",
                    "LastName": "string", "Email": "email", "Phone": "phone",
                    "Title": "string", "Type": "string", "Alias": "string",
                    "Username": "string", "IsActive": "boolean"}
NAME_FIELDS = tuple(NAME_FIELD_TYPES)
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"',
            "\\": "\\", "_": "\\_", "%": "\\%"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int

    def word(self) -> str:
        return self.text.lower() if self.kind == "ident" else ""


@dataclass
class Literal:
    kind: str  # string | number | date | datetime | boolean | null
    value: Any
    pos: int


@dataclass
class Cond:
    op: str  # = != < > <= >= in notin like  | and or not
    path: str = ""
    pos: int = 0
    values: list[Literal] = field(default_factory=list)
    parts: list["Cond"] = field(default_factory=list)


@dataclass
class Query:
    sobject: str
    sobject_pos: int
    select: list[tuple[str, int]]
    count: bool = False
    where: Cond | None = None
    order: list[tuple[str, int, bool, bool]] = field(default_factory=list)  # path,pos,desc,nulls1st
    limit: int | None = None
    offset: int = 0


def error(query: str, pos: int, code: str, message: str) -> SfError:
    """The real message layout: the query line, a caret, the position, the reason."""
    before = query[:pos]
    row = before.count("\n") + 1
    line_start = before.rfind("\n") + 1
    line = query[line_start:].split("\n", 1)[0]
    column = pos - line_start
    return SfError(400, code, f"\n{line}\n{' ' * column}^\nERROR at Row:{row}:Column:"
                              f"{column + 1}\n{message}")


def tokenize(query: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None:
            raise error(query, pos, "MALFORMED_QUERY", f"unexpected token: {query[pos]}")
        if m.lastgroup != "ws":
            tokens.append(Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.query, self.tokens, self.i = query, tokenize(query), 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise error(self.query, len(self.query), "MALFORMED_QUERY", "unexpected end of query")
        self.i += 1
        return token

    def fail(self, token: Token | None) -> SfError:
        if token is None:
            return error(self.query, len(self.query), "MALFORMED_QUERY", "unexpected end of query")
        return error(self.query, token.pos, "MALFORMED_QUERY", f"unexpected token: {token.text}")

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.word() == words[0]:
            for word in words:
                got = self.take()
                if got.word() != word:
                    raise self.fail(got)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.keyword(*words):
            raise self.fail(self.peek())

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.i += 1
            return True
        return False

    def ident(self) -> Token:
        token = self.take()
        if token.kind != "ident":
            raise self.fail(token)
        return token

    def parse(self) -> Query:
        self.expect("select")
        count, select = self.select_list()
        self.expect("from")
        sobject = self.ident()
        query = Query(sobject.text, sobject.pos, select, count)
        if self.keyword("where"):
            query.where = self.condition()
        if self.keyword("order", "by"):
            query.order = self.order_items()
        if self.keyword("limit"):
            query.limit = self.integer()
        if self.keyword("offset"):
            query.offset = self.integer()
        if self.peek() is not None:
            raise self.fail(self.peek())
        return query

    def select_list(self) -> tuple[bool, list[tuple[str, int]]]:
        first = self.peek()
        if first is not None and first.word() == "count" and self.tokens[self.i + 1:self.i + 2] \
                and self.tokens[self.i + 1].text == "(":
            self.i += 1
            self.punct("(")
            if not self.punct(")"):
                raise self.fail(self.peek())  # COUNT(field) aggregates are not emulated
            return True, []
        items = []
        while True:
            token = self.ident()
            if self.peek() is not None and self.peek().text == "(":
                raise self.fail(self.peek())  # functions (FIELDS(), toLabel()...) not emulated
            items.append((token.text, token.pos))
            if not self.punct(","):
                return False, items

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def order_items(self) -> list[tuple[str, int, bool, bool]]:
        items = []
        while True:
            token = self.ident()
            desc = self.keyword("desc")
            if not desc:
                self.keyword("asc")
            nulls_first = not desc  # SOQL default: ASC NULLS FIRST, DESC NULLS LAST
            if self.keyword("nulls"):
                word = self.take().word()
                if word not in ("first", "last"):
                    raise self.fail(self.tokens[self.i - 1])
                nulls_first = word == "first"
            items.append((token.text, token.pos, desc, nulls_first))
            if not self.punct(","):
                return items

    def condition(self) -> Cond:
        parts, joiner = [self.factor()], None
        while self.peek() is not None and self.peek().word() in ("and", "or"):
            token = self.take()
            if joiner is not None and token.word() != joiner:
                raise self.fail(token)  # SOQL demands parentheses to mix AND and OR
            joiner = token.word()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else Cond(joiner, parts=parts)

    def factor(self) -> Cond:
        if self.keyword("not"):
            return Cond("not", parts=[self.factor()])
        if self.punct("("):
            inner = self.condition()
            if not self.punct(")"):
                raise self.fail(self.peek())
            return inner
        return self.comparison()

    def comparison(self) -> Cond:
        path = self.ident()
        if self.keyword("not", "in"):
            return Cond("notin", path.text, path.pos, self.literal_list())
        if self.keyword("in"):
            return Cond("in", path.text, path.pos, self.literal_list())
        if self.keyword("like"):
            return Cond("like", path.text, path.pos, [self.literal()])
        op = self.take()
        if op.kind != "op":
            raise self.fail(op)
        return Cond("!=" if op.text == "<>" else op.text, path.text, path.pos, [self.literal()])

    def literal_list(self) -> list[Literal]:
        if not self.punct("("):
            raise self.fail(self.peek())
        values = [self.literal()]
        while self.punct(","):
            values.append(self.literal())
        if not self.punct(")"):
            raise self.fail(self.peek())
        return values

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal("string", _unescape(token.text[1:-1]), token.pos)
        if token.kind == "number":
            return Literal("number", float(token.text) if "." in token.text else int(token.text),
                           token.pos)
        if token.kind in ("datetime", "date"):
            value = parse_datetime(token.text, require_zone=True) if token.kind == "datetime" \
                else parse_date(token.text)
            if value is None:  # shaped like one, but not a real date (month 13...)
                raise error(self.query, token.pos, "MALFORMED_QUERY",
                            f"Invalid {token.kind}: {token.text}")
            return Literal(token.kind, value, token.pos)
        if token.word() in ("true", "false"):
            return Literal("boolean", token.word() == "true", token.pos)
        if token.word() == "null":
            return Literal("null", None, token.pos)
        raise self.fail(token)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def parse(query: str) -> Query:
    return _Parser(query).parse()


# --- resolution against the schema and evaluation ----------------------------------------

@dataclass
class Path:
    leaf: FieldDef
    relation: FieldDef | None = None  # the lookup on the queried object, for Parent.Field
    target: SObjectType | None = None  # None with a relation: a polymorphic (Name) lookup


class Engine:
    """Runs a parsed query against an Org's records."""

    def __init__(self, org, text: str, query: Query) -> None:
        self.org, self.text, self.q = org, text, query
        found = find_type(org.schema, query.sobject)
        if found is None:
            raise error(text, query.sobject_pos, "INVALID_TYPE",
                        f"sObject type '{query.sobject}' is not supported. If you are attempting "
                        "to use a custom object, be sure to append the '__c' after the entity "
                        "name. Please reference your WSDL or the describe call for the "
                        "appropriate names.")
        self.t: SObjectType = found

    def resolve(self, path: str, pos: int) -> Path:
        parts = path.split(".")
        if len(parts) == 1:
            return Path(self._field(self.t, parts[0], pos))
        relation = self.t.relationship(parts[0]) if len(parts) == 2 else None
        if relation is None:
            raise error(self.text, pos, "INVALID_FIELD",
                        f"Didn't understand relationship '{parts[0]}' in field path. If you are "
                        "attempting to use a custom relationship, be sure to append the '__r' "
                        "after the custom relationship name. Please reference your WSDL or the "
                        "describe call for the appropriate names.")
        if len(relation.reference_to) > 1:
            name = next((n for n in NAME_FIELDS if n.lower() == parts[1].lower()), None)
            if name is None:
                raise self._no_column(parts[1], "Name", pos)
            return Path(FieldDef(name, NAME_FIELD_TYPES[name], length=255), relation, None)
        target = self.org.schema.get(relation.reference_to[0])
        if target is None:  # lookups to objects the sandbox doesn't model (Profile...)
            raise self._no_column(parts[1], relation.reference_to[0], pos)
        return Path(self._field(target, parts[1], pos), relation, target)

    def _field(self, t: SObjectType, name: str, pos: int) -> FieldDef:
        f = t.field(name)
        if f is None:
            raise self._no_column(name, t.name, pos)
        return f

    def _no_column(self, name: str, entity: str, pos: int) -> SfError:
        return error(self.text, pos, "INVALID_FIELD",
                     f"No such column '{name}' on entity '{entity}'. If you are attempting to use "
                     "a custom field, be sure to append the '__c' after the custom field name. "
                     "Please reference your WSDL or the describe call for the appropriate names.")

    def value(self, rec: dict[str, Any], path: Path) -> Any:
        if path.relation is None:
            return rec.get(path.leaf.name)
        parent = self.parent(rec, path)
        if parent is None:
            return None
        if path.leaf.name == "Type":
            return sobject_of_id(parent["Id"])
        return parent.get(path.leaf.name)

    def parent(self, rec: dict[str, Any], path: Path) -> dict[str, Any] | None:
        parent_id = rec.get(path.relation.name)
        sobject = sobject_of_id(parent_id) if parent_id else None
        if sobject not in self.org.schema:
            return None
        return self.org.get(sobject, parent_id)
