"""The field mapping as data: loaded from YAML, checked once, then immutable.

Anything unknown (a key, a canonical name, a format) fails at load time, not mid-sync.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping

import yaml

from sync_workers.sync.fields import CANONICAL_FIELDS, CRM_KEYS

DEFAULT_PATH = Path(__file__).with_name("salesforce.yaml")
SOURCES = frozenset(CANONICAL_FIELDS + CRM_KEYS)
FORMATS = ("date", "datetime")


@dataclass(frozen=True)
class FieldRule:
    target: str
    source: str | None = None
    template: str | None = None
    value_map: Mapping[str, str] | None = None
    format: Literal["date", "datetime"] | None = None
    truncate: int | None = None

    @property
    def uses(self) -> frozenset[str]:
        """The canonical names this rule reads."""
        if self.template is None:
            return frozenset({self.source})
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.template)
                         if name)


@dataclass(frozen=True)
class SpanRule:
    all_day_flag: str
    start: str
    end: str
    date: str
    duration_minutes: str


@dataclass(frozen=True)
class ObjectMapping:
    name: str
    rules: tuple[FieldRule, ...]
    span: SpanRule | None
    defaults: Mapping[str, Any]
    external_id: str | None  # the upsert key field


@dataclass(frozen=True)
class FieldMapping:
    objects: Mapping[str, ObjectMapping]

    def object(self, name: str) -> ObjectMapping:
        try:
            return self.objects[name]
        except KeyError:
            raise ValueError(f"the mapping has no object {name!r}; "
                             f"it maps {sorted(self.objects)}") from None


def load_mapping(path: str | Path = DEFAULT_PATH) -> FieldMapping:
    return parse_mapping(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def parse_mapping(data: Any) -> FieldMapping:
    _keys(data, "mapping", required={"objects"})
    return FieldMapping(MappingProxyType({
        name: _object(name, spec) for name, spec in data["objects"].items()}))


def _object(name: str, spec: Any) -> ObjectMapping:
    where = f"objects.{name}"
    _keys(spec, where, required={"fields"}, optional={"span", "defaults", "external_id"})
    _keys(spec.get("defaults") or {}, f"{where}.defaults", optional=None)
    rules = tuple(_rule(f"{where}.fields.{target}", target, rule)
                  for target, rule in spec["fields"].items())
    span = spec.get("span")
    return ObjectMapping(name, rules, _span(f"{where}.span", span) if span else None,
                         MappingProxyType(dict(spec.get("defaults") or {})),
                         spec.get("external_id"))


def _rule(where: str, target: str, spec: Any) -> FieldRule:
    _keys(spec, where, optional={"from", "template", "map", "format", "truncate"})
    if ("from" in spec) == ("template" in spec):
        raise ValueError(f"{where}: give exactly one of 'from' and 'template'")
    value_map = spec.get("map")
    if value_map is not None:
        _keys(value_map, f"{where}.map", optional=None)
    rule = FieldRule(target, spec.get("from"), spec.get("template"),
                     None if value_map is None else MappingProxyType(dict(value_map)),
                     spec.get("format"), spec.get("truncate"))
    unknown = sorted(rule.uses - SOURCES)
    if unknown:
        raise ValueError(f"{where}: unknown canonical names {unknown}; known: {sorted(SOURCES)}")
    if rule.format is not None and rule.format not in FORMATS:
        raise ValueError(f"{where}: format must be one of {FORMATS}, not {rule.format!r}")
    if rule.truncate is not None and (not isinstance(rule.truncate, int) or rule.truncate < 1):
        raise ValueError(f"{where}: truncate must be a positive integer")
    return rule


def _span(where: str, spec: Any) -> SpanRule:
    _keys(spec, where, required={"all_day_flag", "timed", "all_day"})
    _keys(spec["timed"], f"{where}.timed", required={"start", "end"})
    _keys(spec["all_day"], f"{where}.all_day", required={"date", "duration_minutes"})
    return SpanRule(spec["all_day_flag"], spec["timed"]["start"], spec["timed"]["end"],
                    spec["all_day"]["date"], spec["all_day"]["duration_minutes"])


def _keys(spec: Any, where: str, *, required: set[str] = frozenset(),
          optional: set[str] | None = frozenset()) -> None:
    """`spec` must be a mapping; with `optional` None any keys are allowed."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(spec).__name__}")
    missing = sorted(required - set(spec))
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    if optional is not None:
        unknown = sorted(set(spec) - required - optional)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}")
