"""Outbound webhook delivery from the sandbox, with the faults real providers have.

Providers call `state.webhooks.send(...)`; a background thread POSTs each delivery. The
delivery faults (drop, duplicate, delay, reorder) come from a seeded RNG so a test can
replay the same sequence. `retry_until_acked` models Salesforce Outbound Messages, which
are re-sent until the receiver acknowledges (Google push notifications are sent once): by
default an acknowledgement is any 2xx; `ack` can demand more of the response (Salesforce
wants `<Ack>true</Ack>` in the body). For such deliveries a "drop" loses one attempt (the
sender sees no answer and retries), not the message.
"""
from __future__ import annotations

import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests


@dataclass
class DeliveryFaults:
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay_seconds: float = 0.0
    reorder: bool = False  # hold each delivery back and send it after the next one
    seed: int = 0


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes
    provider: str
    retry_until_acked: bool = False
    ack: Callable[[requests.Response], bool] | None = None  # beyond 2xx; None: 2xx is enough
    drop_first: bool = False  # a retried delivery whose first attempt is lost
    # (attempt index) -> (headers, body), for senders that sign or number each attempt anew
    render: Callable[[int], tuple[dict[str, str], bytes]] | None = None
    timeout: float = 10.0
    max_attempts: int | None = None  # None: the dispatcher's
    attempts: int = 0
    outcomes: list[Any] = field(default_factory=list)  # status codes or "dropped"/"error"


class WebhookDispatcher:
    def __init__(self, retry_interval: float = 0.5, max_attempts: int = 20) -> None:
        self.retry_interval = retry_interval
        self.max_attempts = max_attempts
        self.deliveries: list[Delivery] = []
        self._faults = DeliveryFaults()
        self._rng = random.Random(0)
        self._held: Delivery | None = None
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def set_faults(self, faults: DeliveryFaults) -> None:
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def reset(self) -> None:
        with self._lock:
            self._faults = DeliveryFaults()
            self._rng = random.Random(0)
            self._held = None
            self.deliveries = []

    def send(self, provider: str, url: str, headers: dict[str, str], body: bytes = b"",
             retry_until_acked: bool = False,
             ack: Callable[[requests.Response], bool] | None = None,
             render: Callable[[int], tuple[dict[str, str], bytes]] | None = None,
             timeout: float = 10.0, max_attempts: int | None = None) -> None:
        delivery = Delivery(url, dict(headers), body, provider, retry_until_acked, ack,
                            render=render, timeout=timeout, max_attempts=max_attempts)
        with self._lock:
            self.deliveries.append(delivery)
            faults, rng = self._faults, self._rng
            dropped = rng.random() < faults.drop_rate
            copies = 2 if rng.random() < faults.duplicate_rate else 1
            if dropped and retry_until_acked:
                delivery.drop_first = True
            elif dropped:
                delivery.outcomes.append("dropped")
                return
            if faults.reorder and self._held is None:
                self._held = delivery
                return
            held, self._held = self._held, None
            self._pending += copies + (1 if held else 0)
        for _ in range(copies):
            self._queue.put(delivery)
        if held is not None:
            self._queue.put(held)

    def flush(self) -> None:
        """Send a delivery held back for reordering (there was no later one to pass it)."""
        with self._lock:
            held, self._held = self._held, None
            if held is not None:
                self._pending += 1
        if held is not None:
            self._queue.put(held)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery has been attempted (and acked or given up)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            delay = self._faults.delay_seconds
            if delay:
                time.sleep(delay)
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        while True:
            delivery.attempts += 1
            ok = False
            if delivery.drop_first:
                delivery.drop_first = False
                delivery.outcomes.append("dropped")
            else:
                ok = self._post(delivery)
            limit = delivery.max_attempts or self.max_attempts
            if ok or not delivery.retry_until_acked or delivery.attempts >= limit:
                break
            time.sleep(self.retry_interval)
        with self._lock:
            self._pending -= 1
            self._idle.notify_all()

    @staticmethod
    def _post(delivery: Delivery) -> bool:
        if delivery.render is not None:
            delivery.headers, delivery.body = delivery.render(delivery.attempts - 1)
        try:
            resp = requests.post(delivery.url, data=delivery.body,
                                 headers=delivery.headers, timeout=delivery.timeout)
        except requests.RequestException as exc:
            delivery.outcomes.append(f"error: {type(exc).__name__}")
            return False
        if not 200 <= resp.status_code < 300:
            delivery.outcomes.append(resp.status_code)
            return False
        acked = delivery.ack is None or delivery.ack(resp)
        delivery.outcomes.append(resp.status_code if acked else f"{resp.status_code} not acked")
        return acked
