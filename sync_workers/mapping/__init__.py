"""The configurable CRM field mapping and the describe-driven payload builder."""
from .config import (
                     DEFAULT_PATH,
                     FieldMapping,
                     FieldRule,
                     ObjectMapping,
                     SpanRule,
                     load_mapping,
                     parse_mapping,
)
from .describe_cache import DescribeCache
from .payload import build_payload, max_lengths

__all__ = ["DEFAULT_PATH", "DescribeCache", "FieldMapping", "FieldRule", "ObjectMapping",
           "SpanRule", "build_payload", "load_mapping", "max_lengths", "parse_mapping"]
