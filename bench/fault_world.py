"""The processes and servers of the fault suite (bench/faults.py): its own Redis and
PostgreSQL servers, gunicorn receivers and `celery worker` processes, each on its own port
and directory, every one of them registered here so that one `Stack.close()` (also on
Ctrl-C) stops what was started and nothing else.

Every child leads a session of its own: a Ctrl-C in the terminal reaches only the suite,
which then stops its children in order, and stopping a child's group takes its gunicorn
workers or pool processes with it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
QUEUES = "events,reconcile,poll,dlq"
START_TIMEOUT = 60.0


def say(message: str) -> None:
    """Progress for people, on stderr (stdout carries the results only)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], what: str, timeout: float,
               interval: float = 0.1, guard: Callable[[], None] | None = None):
    """Poll `predicate` (exceptions count as not yet) until truthy; TimeoutError after."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 (a server still starting up)
            value = None
        if value:
            return value
        if guard is not None:
            guard()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Child:
    """One process we started (with its group), its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path,
                 cwd: Path = REPO) -> None:
        self.name, self.argv, self.env, self.log_path, self.cwd = name, argv, env, log_path, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Child":
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the leader alone (a crash); whatever it leaves in its group stays."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group, SIGKILL whatever is left at the deadline."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._group_alive():
            self.proc.poll()
            time.sleep(0.1)
        if self._group_alive():
            self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _group_alive(self) -> bool:
        self.proc.poll()  # reap the leader: a group of zombies reads as gone
        return _group_has_live_members(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])


def _group_has_live_members(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# --- servers ---------------------------------------------------------------------------------

class RedisServer:
    """redis-server on a port and directory of its own (never the shared server)."""

    def __init__(self, stack: "Stack", name: str, appendonly: bool = False) -> None:
        self.stack, self.name, self.appendonly = stack, name, appendonly
        self.port = free_port()
        self.dir = stack.tempdir(f"redis-{name}")
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        # `save ""`: no RDB snapshot on shutdown either, so appendonly alone decides what a
        # restart keeps. noeviction and everysec as docs/operations.md ("Redis") asks.
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--save", "", "--daemonize", "no",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"]
        self.child = self.stack.spawn(f"redis-{self.name}", argv, dict(os.environ))
        wait_until(self.ping, f"redis-server on port {self.port}", 20, 0.05,
                   guard=self._exited)
        return self

    def ping(self) -> bool:
        import redis

        return redis.Redis(port=self.port, socket_connect_timeout=0.5,
                           socket_timeout=0.5).ping()

    def crash(self) -> None:
        """SIGKILL: what an OOM kill or a node loss does (AOF everysec may lose ~1 s)."""
        assert self.child is not None
        self.child.kill()

    def _exited(self) -> None:
        if self.child is not None and not self.child.alive():
            raise RuntimeError(f"redis-server exited:\n{self.child.log_tail()}")


class PostgresServer:
    """A throwaway PostgreSQL (initdb + pg_ctl) on its own port under a temp dir. As root
    it runs as `nobody`, which owns the data directory (PostgreSQL refuses root), as
    deploy/local/services.sh does."""

    def __init__(self, stack: "Stack") -> None:
        self.stack = stack
        self.bin = _pg_bin()
        self.port = free_port()
        # Its own mkdtemp under /tmp: `nobody` must reach it, the stack's dir is 0700.
        self.data = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        stack.on_close(lambda: shutil.rmtree(self.data, ignore_errors=True))
        if os.geteuid() == 0:
            shutil.chown(self.data, "nobody")
        self.data.chmod(0o700)
        self.running = False

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["su", "-s", "/bin/sh", "nobody", "-c", " ".join(_quote(a) for a in argv)]
        return subprocess.run(cmd, check=check, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd="/")

    def init(self) -> "PostgresServer":
        self._as_owner(f"{self.bin}/initdb", "-D", str(self.data), "-U", "postgres",
                       "-A", "trust", "--no-sync")
        self.stack.on_close(self.stop)
        return self

    def start(self) -> None:
        if self.stack.closing:
            return  # an outage thread racing the clean-up must not start it again
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.data} -c max_connections=200")
        self._as_owner(f"{self.bin}/pg_ctl", "-D", str(self.data), "-l",
                       str(self.data / "server.log"), "-o", opts, "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: no checkpoint, clients cut off, WAL recovery on start."""
        if not self.running:
            return
        self._as_owner(f"{self.bin}/pg_ctl", "-D", str(self.data), "-m", mode, "-w",
                       "-t", "60", "stop", check=False)
        self.running = False


def _pg_bin() -> str:
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return str(d)
    for d in ("/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin"):
        if Path(d, "initdb").exists():
            return d
    raise RuntimeError("initdb/pg_ctl not found: install PostgreSQL (e.g. postgresql-15)")


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


# --- our own processes -----------------------------------------------------------------------

class Worker:
    """A `celery worker` on every queue, as an operator runs it. `restart` is what a
    supervisor (systemd Restart=always, Kubernetes) does after the main process died:
    the same command, the same node name."""

    def __init__(self, stack: "Stack", index: int, env: dict[str, str],
                 concurrency: int = 2) -> None:
        self.stack, self.env, self.concurrency = stack, env, concurrency
        self.name = f"faults{index}-{uuid.uuid4().hex[:6]}@localhost"
        self.child: Child | None = None
        self.restarts = 0

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-q", "-A", "sync_workers.celery_app",
                "worker", "-Q", QUEUES, "-c", str(self.concurrency), "--pool", "prefork",
                "-n", self.name, "--without-gossip", "--without-mingle",
                "--loglevel", "INFO"]

    def start(self) -> "Worker":
        self.child = self.stack.spawn(self.name.split("@")[0], self.argv(), self.env)
        return self

    def restart(self) -> None:
        self.restarts += 1
        self.start()

    def pool_children(self) -> list[int]:
        return children_of(self.child.pid) if self.child and self.child.alive() else []

    def ready(self) -> bool:
        """Up with its whole pool (so a kill hits a working process)."""
        return len(self.pool_children()) >= self.concurrency


class Receiver:
    """The receiver under gunicorn, as deploy/local/run.sh and the demo start it."""

    def __init__(self, stack: "Stack", env: dict[str, str], port: int | None = None,
                 workers: int = 2) -> None:
        self.stack, self.env, self.workers = stack, env, workers
        self.port = port or free_port()
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Receiver":
        import requests

        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers),
                "--logger-class", "sync_workers.receiver.gunicorn_logging.JsonLogger",
                "sync_workers.receiver.wsgi:app"]
        self.child = self.stack.spawn("receiver", argv, self.env)
        wait_until(lambda: requests.get(f"{self.url}/readyz", timeout=2).status_code == 200,
                   "the receiver's /readyz", START_TIMEOUT, 0.2, guard=self._exited)
        return self

    def _exited(self) -> None:
        if self.child is not None and not self.child.alive():
            raise RuntimeError(f"the receiver exited:\n{self.child.log_tail()}")


class Stack:
    """Everything one scenario started: children, temp dirs, cleanups (run in reverse)."""

    def __init__(self, name: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"faults-{name}-"))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.keep_logs = False  # set when the figures need explaining
        self.closing = False
        self.children: list[Child] = []
        self._cleanups: list[Callable[[], None]] = []

    def tempdir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        if self.closing:
            raise RuntimeError("the stack is being closed")
        child = Child(name, argv, env, self.logs / f"{name}.log").start()
        self.children.append(child)
        return child

    def on_close(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def close(self) -> None:
        self.closing = True
        # Workers and receivers before the servers they talk to.
        for child in reversed(self.children):
            try:
                child.stop()
            except Exception as exc:  # noqa: BLE001 (stop the others anyway)
                say(f"could not stop {child.name}: {exc}")
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001
                say(f"cleanup failed: {exc}")
        if self.keep_logs:
            # The servers' data goes; the logs stay for whoever reads the figures.
            for path in self.root.iterdir():
                if path != self.logs:
                    shutil.rmtree(path, ignore_errors=True)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
