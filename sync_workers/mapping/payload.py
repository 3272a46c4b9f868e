"""build_payload(): canonical values -> a Salesforce record body, checked against the
object's describe. Pure: the describe and today's date come from the caller.

Where the org would reject the body, we prefer a loud warning to a failed sync when a
safe value exists, through `warn(event, **fields)`:
- `salesforce_required_field_defaulted` (object, field, value, source: configured|type):
  a required-on-create field nobody maps got a default;
- `salesforce_picklist_value_replaced` (object, field, value, replacement, problem:
  inactive|unknown): a value the org refuses was replaced by the configured default;
- `salesforce_null_for_required_field_dropped` (object, field): None for a non-nillable field
  was left out.
Without a safe value the call raises: `InvalidInput` for a value the org refuses,
`Permanent` for a mapping that does not fit the org (a mapped field it lacks).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Callable, Mapping

from sync_workers.reliability.errors import InvalidInput, Permanent
from sync_workers.sync.fields import CANONICAL_FIELDS, SPAN_FIELDS

from .config import FieldMapping, FieldRule, SpanRule

Warn = Callable[..., None]
TEXT_TYPES = frozenset({"string", "textarea", "phone", "url", "email", "combobox",
                        "encryptedstring"})
_NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})
_MINUTES_PER_DAY = 24 * 60


def build_payload(object_name: str, canonical_values: Mapping[str, Any],
                  describe: Mapping[str, Any], mapping: FieldMapping, *, creating: bool,
                  warn: Warn, today: date) -> dict[str, Any]:
    """The body for a create (`creating`) or an update of `object_name`. Canonical names
    the object does not map are ignored (one patch may feed Event and Contact)."""
    spec = mapping.object(object_name)
    described = _described_fields(object_name, describe)
    rules = {rule.target: rule for rule in spec.rules}
    payload: dict[str, Any] = {}
    if spec.span is not None and any(name in canonical_values for name in SPAN_FIELDS):
        payload.update(_span_fields(spec.span, canonical_values))
    for rule in spec.rules:
        # The sync's own text (a template) goes into a record it creates, never over what a
        # person may have written since: an update leaves the field alone.
        if rule.template is not None and not creating:
            continue
        if rule.uses <= set(canonical_values):
            payload[rule.target] = _mapped_value(rule, canonical_values)

    body: dict[str, Any] = {}
    for name, value in payload.items():
        field = described.get(name)
        if field is None:
            raise Permanent(f"the mapping writes {object_name}.{name}, which this org's "
                            f"describe does not have")
        if not field.get("createable" if creating else "updateable", False):
            continue
        if value is None and not field.get("nillable", True):
            warn("salesforce_null_for_required_field_dropped", object=object_name, field=name)
            continue
        body[name] = _fitted(object_name, field, value, rules.get(name), spec.defaults, warn)
    if creating:
        body.update(_required_defaults(object_name, described, body, spec.defaults, warn, today))
    return body


def max_lengths(object_name: str, describe: Mapping[str, Any], mapping: FieldMapping
                ) -> dict[str, int]:
    """The longest text the CRM keeps per canonical field: pass it to plan() as
    `crm_max_lengths`, so that a title cut to fit counts as converged."""
    described = _described_fields(object_name, describe)
    limits = {}
    for rule in mapping.object(object_name).rules:
        field = described.get(rule.target)
        if rule.source not in CANONICAL_FIELDS or rule.value_map or rule.format \
                or field is None or field["type"] not in TEXT_TYPES:
            continue
        limit = _max_length(field, rule)
        if limit:
            limits[rule.source] = limit
    return limits


def _described_fields(object_name: str, describe: Mapping[str, Any]
                      ) -> dict[str, Mapping[str, Any]]:
    fields = describe.get("fields") if isinstance(describe, Mapping) else None
    if not isinstance(fields, list) or not all(
            isinstance(field, Mapping) and "name" in field and "type" in field
            for field in fields):
        raise InvalidInput(f"{object_name} describe: expected fields[] with name and type")
    return {field["name"]: field for field in fields}


def _span_fields(span: SpanRule, values: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in SPAN_FIELDS if name not in values]
    if missing:
        raise ValueError(f"start, end and all_day are written together; missing {missing}")
    start, end = values["start"], values["end"]
    if values["all_day"]:
        return {span.all_day_flag: True, span.date: start.isoformat(),
                span.duration_minutes: (end - start).days * _MINUTES_PER_DAY}
    return {span.all_day_flag: False, span.start: _datetime_text(start),
            span.end: _datetime_text(end)}


def _mapped_value(rule: FieldRule, values: Mapping[str, Any]) -> Any:
    if rule.template is not None:
        value: Any = rule.template.format_map(
            {name: "" if values[name] is None else values[name] for name in rule.uses})
    else:
        value = values[rule.source]
    if rule.value_map is not None and value is not None:
        if value not in rule.value_map:
            raise Permanent(f"{rule.target}: the mapping's map has no entry for {value!r}; "
                            f"it knows {sorted(rule.value_map)}")
        value = rule.value_map[value]
    if rule.format == "date" and isinstance(value, date):
        value = (value.astimezone(timezone.utc).date() if isinstance(value, datetime)
                 else value).isoformat()
    elif rule.format == "datetime" and isinstance(value, datetime):
        value = _datetime_text(value)
    return value


def _fitted(object_name: str, field: Mapping[str, Any], value: Any, rule: FieldRule | None,
            defaults: Mapping[str, Any], warn: Warn) -> Any:
    """`value` as the org accepts it: picklists checked, text cut to length."""
    name = field["name"]
    if field["type"] == "picklist" and value is not None:
        active = [entry["value"] for entry in field.get("picklistValues", [])
                  if entry.get("active")]
        if value not in active:
            known = any(entry["value"] == value for entry in field.get("picklistValues", []))
            problem = "inactive" if known else "unknown"
            if name not in defaults:
                raise InvalidInput(f"{object_name}.{name}: picklist value {value!r} is "
                                   f"{problem} in this org (active: {active}) and the mapping "
                                   f"configures no usable default for it")
            warn("salesforce_picklist_value_replaced", object=object_name, field=name,
                 value=value, replacement=defaults[name], problem=problem)
            return _fitted(object_name, field, defaults[name], rule, {}, warn)
    if field["type"] in TEXT_TYPES and isinstance(value, str):
        value = value[:_max_length(field, rule)]
    return value


def _max_length(field: Mapping[str, Any], rule: FieldRule | None) -> int | None:
    """The field's length, or the mapping's tighter cap; None: unlimited."""
    lengths = [limit for limit in (field.get("length"), rule.truncate if rule else None)
               if limit]
    return min(lengths) if lengths else None


def _required_defaults(object_name: str, described: Mapping[str, Mapping[str, Any]],
                       body: Mapping[str, Any], defaults: Mapping[str, Any], warn: Warn,
                       today: date) -> dict[str, Any]:
    """Values for required-on-create fields (createable, not nillable, not defaulted on
    create) that the body lacks: the configured default, else one by type."""
    filled = {}
    for name, field in described.items():
        required = field.get("createable") and not field.get("nillable", True) \
            and not field.get("defaultedOnCreate")
        if not required or name in body:
            continue
        if name in defaults:
            value, source = defaults[name], "configured"
        else:
            value, source = _type_default(object_name, field, today), "type"
        filled[name] = _fitted(object_name, field, value, None, {}, warn)
        warn("salesforce_required_field_defaulted", object=object_name, field=name,
             value=filled[name], source=source)
    return filled


def _type_default(object_name: str, field: Mapping[str, Any], today: date) -> Any:
    kind = field["type"]
    if kind in {"string", "textarea", "phone", "combobox", "encryptedstring"}:
        return "-"
    if kind == "boolean":
        return False
    if kind in _NUMBER_TYPES:
        return 0
    if kind == "date":
        return today.isoformat()
    if kind == "datetime":
        return f"{today.isoformat()}T00:00:00Z"
    if kind == "picklist":
        active = [entry for entry in field.get("picklistValues", []) if entry.get("active")]
        chosen = next((entry for entry in active if entry.get("defaultValue")),
                      active[0] if active else None)
        if chosen is not None:
            return chosen["value"]
    raise Permanent(f"{object_name}.{field['name']} is required on create, nobody maps it, "
                    f"and a {kind} field has no safe default: add one to the mapping's "
                    f"defaults")


def _datetime_text(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
