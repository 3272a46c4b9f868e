"""The thin Flask receiver: verify, dedupe, enqueue the raw event, answer."""
from .app import create_app

__all__ = ["create_app"]
