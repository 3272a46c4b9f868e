"""The core stays pure: importing it pulls in no framework, client or driver."""
from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("celery", "kombu", "redis", "requests", "flask", "psycopg2", "marshmallow", "yaml")


def test_the_sync_core_imports_only_the_standard_library():
    probe = ("import sys, sync_workers.sync; "
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
