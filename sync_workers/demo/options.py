"""What `sync-workers demo` was asked for (its command-line options)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    keep_running: bool
    flower: bool
    port_base: int
    receiver_port: int
    flower_port: int
    log_dir: Path
    step_timeout: float
