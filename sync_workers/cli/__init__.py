"""`sync-workers ...`: thin commands over the engine and the store, one module per group."""
from .main import main

__all__ = ["main"]
