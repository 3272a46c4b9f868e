"""Every task name is written once (sync_workers.dispatch), registered by its task,
routed to its queue, and published only through dispatch."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from beat_schedule import beat_schedule
from sync_workers import dispatch
from sync_workers.celery_app import make_celery
from sync_workers.config import load_settings

PACKAGE = Path(__file__).resolve().parents[2] / "sync_workers"
PUBLISHING_CALLS = {"send_task", "apply_async", "delay", "signature", "s"}


@pytest.fixture(scope="module")
def app():
    celery = make_celery(load_settings({}))
    celery.loader.import_default_modules()  # what a worker does: register the tasks
    return celery


@pytest.mark.parametrize("task", dispatch.TASKS, ids=lambda t: t.name)
def test_every_task_name_is_registered_and_routed_to_its_queue(app, task):
    assert task.name in app.tasks
    route = app.amqp.router.route({}, task.name)
    assert route["queue"].name == task.queue


def test_every_registered_task_is_in_the_table(app):
    ours = {name for name in app.tasks if name.startswith("sync.")}
    assert ours == {task.name for task in dispatch.TASKS}


def test_beat_sends_only_known_tasks():
    names = {task.name for task in dispatch.TASKS}
    assert {entry["task"] for entry in beat_schedule().values()} <= names


def test_only_dispatch_publishes():
    """Product code sends through dispatch.send, so routes and names live in one place."""
    callers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "dispatch.py" or {"sandbox", "demo"} & set(path.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in PUBLISHING_CALLS:
                callers.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.func.attr}(")
    assert callers == []


def test_a_process_without_the_app_fails_loudly(monkeypatch):
    monkeypatch.setattr(dispatch, "_bound", None)
    with pytest.raises(dispatch.NoCeleryApp, match="import sync_workers.celery_app"):
        dispatch.send(dispatch.RECONCILE_LINK, {"link_id": 1})


def test_a_route_names_a_known_queue():
    with pytest.raises(ValueError, match="unknown queue"):
        dispatch.TaskRoute("sync.nowhere", "elsewhere")
