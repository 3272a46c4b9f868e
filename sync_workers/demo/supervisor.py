"""The demo's child processes: started with their output in log files, stopped together.

Each child leads a process group of its own (a new session), so gunicorn's workers and
Celery's pool processes are stopped with their parent, a Ctrl-C in the terminal reaches
only the demo (which then stops the children in order), and nothing the demo did not
start is ever signalled.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class ChildExited(RuntimeError):
    """A child stopped while the demo still needed it."""

    def __init__(self, child: "Child") -> None:
        super().__init__(f"{child.name} exited with code {child.proc.returncode}; "
                         f"its log: {child.log_path}\n{child.log_tail()}")
        self.child = child


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    def group_alive(self) -> bool:
        """Any process left in the child's group (the leader may be gone already)."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


@dataclass
class Supervisor:
    log_dir: Path
    cwd: Path = field(default_factory=Path.cwd)
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        """Start `argv` with its output in <log_dir>/<name>.log (emptied first: the summary
        reads this run's lines only)."""
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def check(self) -> None:
        """Raise ChildExited if any child has stopped on its own."""
        for child in self.children:
            if not child.alive():
                raise ChildExited(child)

    def stop_all(self, timeout: float = 20.0) -> list[str]:
        """SIGTERM every child's group; SIGKILL whatever is left at the deadline. Returns
        the names of the children that had to be killed."""
        for child in reversed(self.children):
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(c.group_alive() for c in self.children):
            for child in self.children:
                child.proc.poll()  # reap the leader so the group check can see it gone
            time.sleep(0.1)
        killed = []
        for child in self.children:
            if child.group_alive():
                child.signal_group(signal.SIGKILL)
                killed.append(child.name)
            try:
                child.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return killed
