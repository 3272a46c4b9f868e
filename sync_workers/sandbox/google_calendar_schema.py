"""Check emulator responses against Google's own Calendar v3 discovery document.

The document ships with google-api-python-client (a dev dependency, imported only here;
so is jsonschema: only the tests use this module).
Its schemas become JSON Schema with `additionalProperties: false` wherever Google lists
the properties, so a response carrying a field the real API never sends fails the check.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator

_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
_FORMAT_PATTERNS = {
    "date-time": _RFC3339,
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "int64": r"^-?\d+$",
    "uint64": r"^\d+$",
}


@lru_cache(maxsize=1)
def discovery_document() -> dict[str, Any]:
    documents = resources.files("googleapiclient.discovery_cache") / "documents"
    return json.loads((documents / "calendar.v3.json").read_text(encoding="utf-8"))


def json_schema(name: str) -> dict[str, Any]:
    """The discovery schema `name` (e.g. "Event", "Events", "Channel") as JSON Schema."""
    schemas = discovery_document()["schemas"]
    return {"$ref": f"#/definitions/{name}",
            "definitions": {key: _convert(value) for key, value in schemas.items()}}


def schema_errors(resource: Any, name: str) -> list[str]:
    """Every way `resource` breaks schema `name`, as readable lines (empty: it conforms)."""
    validator = Draft7Validator(_cached_schema(name))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(resource)]


@lru_cache(maxsize=None)
def _cached_schema(name: str) -> dict[str, Any]:
    return json_schema(name)


def _convert(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"$ref": f"#/definitions/{schema['$ref']}"}
    kind = schema.get("type")
    if kind == "object":
        return _convert_object(schema)
    if kind == "array":
        return {"type": "array", "items": _convert(schema.get("items", {}))}
    if kind in ("string", "integer", "number", "boolean"):
        out: dict[str, Any] = {"type": kind}
        pattern = _FORMAT_PATTERNS.get(schema.get("format", ""))
        if kind == "string" and pattern:
            out["pattern"] = pattern
        if "enum" in schema:
            out["enum"] = schema["enum"]
        return out
    return {}  # "any"


def _convert_object(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object"}
    if "properties" in schema:
        out["properties"] = {k: _convert(v) for k, v in schema["properties"].items()}
        out["additionalProperties"] = False
    if "additionalProperties" in schema:
        out["additionalProperties"] = _convert(schema["additionalProperties"])
    return out
