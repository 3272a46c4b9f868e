"""Local TCP ports for the demo's servers: the wanted one when free, else any free one."""
from __future__ import annotations

import socket

HOST = "127.0.0.1"


def is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    """A port the OS says is free now (another process could still take it before us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def pick(wanted: int) -> tuple[int, bool]:
    """(port, fell_back): `wanted` if free, a free port if it is taken or 0."""
    if wanted and is_free(wanted):
        return wanted, False
    return free_port(), bool(wanted)


def pick_base(wanted: int, count: int) -> tuple[int, bool]:
    """A base for `count` consecutive ports: `wanted` if all are free, else 0 (the sandbox
    then lets the OS choose each port)."""
    if wanted and all(is_free(wanted + i) for i in range(count)):
        return wanted, False
    return 0, bool(wanted)
