"""The sandbox's emulation of the HubSpot CRM API (routes registered on its provider app)."""
from __future__ import annotations

from flask import Flask

from .core import SandboxState


def register(app: Flask, state: SandboxState) -> None:
    """Add the API's routes to the provider app."""
