"""The core's own error: a value it cannot hold. The layers above turn it into their
`InvalidInput` (schemas/validation.py, the task boundary), so bad provider data still
dead-letters with a reason."""
from __future__ import annotations


class InvalidModel(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
