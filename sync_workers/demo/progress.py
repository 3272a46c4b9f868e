"""Everything the person running the demo sees: numbered steps, a spinner while waiting
(dots when the output is not a terminal, e.g. in CI), and what each step saw.

Nothing here waits without a deadline: `wait_until` gives up and returns None.
"""
from __future__ import annotations

import itertools
import re
import shutil
import sys
import time
from typing import Callable, TextIO, TypeVar

T = TypeVar("T")
_SPINNER = "|/-\\"
_INDENT = " " * 8
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def _plain(text: str) -> str:
    return _ESCAPES.sub("", text)


class Narrator:
    def __init__(self, total_steps: int, out: TextIO | None = None) -> None:
        self.total = total_steps
        self.number = 0
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self._label = ""
        self._started = time.monotonic()
        self._open = False  # a step line waits for its result

    # --- plain lines -------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        self._close_line()
        self.out.write(text + "\n")
        self.out.flush()

    def heading(self, text: str) -> None:
        self.say()
        self.say(self._style(text, "1"))

    def detail(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self.say(_INDENT + line)

    # --- steps -------------------------------------------------------------------------
    def step(self, label: str) -> None:
        self._close_line()
        self.number += 1
        width = len(str(self.total))
        self._label = f"[{self.number:>{width}}/{self.total}] {label}"
        self._started = time.monotonic()
        self._open = True
        self._draw("")

    def ok(self, text: str = "") -> None:
        self.done(self._style("ok", "32"), text)

    def failed(self, text: str = "") -> None:
        self.done(self._style("FAILED", "31"), text)

    def wait_until(self, predicate: Callable[[], T], timeout: float, *,
                   guard: Callable[[], None] | None = None, interval: float = 0.25) -> T | None:
        """Call `predicate` until it returns something truthy (returned) or `timeout` passes
        (None). `guard` runs first each round and may raise (e.g. a child died). A network
        error of the predicate counts as "not yet"."""
        deadline = time.monotonic() + timeout
        spinner = itertools.cycle(_SPINNER)
        last_dot = time.monotonic()
        while True:
            if guard is not None:
                guard()
            try:
                value = predicate()
            except OSError:  # requests' errors are OSErrors: the server may be starting
                value = None
            if value:
                return value
            now = time.monotonic()
            if now >= deadline:
                return None
            if self.tty:
                self._draw(f"{next(spinner)} {now - self._started:.0f}s")
            elif now - last_dot >= 1.0:
                self.out.write(".")
                self.out.flush()
                last_dot = now
            time.sleep(interval)

    def pause(self, seconds: float, guard: Callable[[], None] | None = None) -> None:
        """Wait `seconds` with the spinner running (to show that nothing happens)."""
        self.wait_until(lambda: None, seconds, guard=guard)

    def done(self, status: str, text: str = "") -> None:
        """End the current step with `status` and what it saw."""
        elapsed = time.monotonic() - self._started
        line = f"{status} {elapsed:.1f}s" + (f"  {text}" if text else "")
        if self._open and self.tty:  # the final line may wrap: a newline follows
            self.out.write(f"\r\x1b[K{self._label} {line}")
        elif self._open:
            self.out.write(" " + line)
        else:
            self.out.write(f"{self._label} {line}")
        self.out.write("\n")
        self.out.flush()
        self._open = False

    # --- internals -----------------------------------------------------------------------
    def _draw(self, tail: str) -> None:
        if self.tty:
            # A redrawn line must not wrap, or \r would leave copies of it behind.
            room = shutil.get_terminal_size().columns - len(_plain(tail)) - 2
            label = self._label if len(self._label) <= room else self._label[:max(room, 0)]
            self.out.write(f"\r\x1b[K{label} {tail}")
        elif not tail:
            self.out.write(self._label + " ")
        self.out.flush()

    def _close_line(self) -> None:
        if self._open:
            self.out.write("\n")
            self._open = False

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.tty else text
