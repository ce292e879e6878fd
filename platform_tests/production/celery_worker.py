"""The Celery app the test workers run: lakehouse's own, plus one fault the test can arm.

When the file named by LAKEHOUSE_TEST_KILL_FLAG exists, the worker process writing
`marts/fct_flights` dies by SIGKILL after its new files are in the table's folder and before
its Delta commit, as a machine lost mid-step would: nothing of that write may become visible.
"""

import os
import signal
from pathlib import Path
from typing import Any

from lakehouse.deploy.celery_app import app, execute_plan
from lakehouse.resources.delta_tables import DeltaStore

__all__ = ["app", "execute_plan"]
_commit = DeltaStore._commit


def _commit_or_die(uri: str, *args: Any, **kwargs: Any) -> int:
    flag = Path(os.environ.get("LAKEHOUSE_TEST_KILL_FLAG", "/nonexistent"))
    if uri.rstrip("/").endswith("marts/fct_flights") and flag.exists():
        flag.unlink()
        os.kill(os.getpid(), signal.SIGKILL)
    return _commit(uri, *args, **kwargs)


DeltaStore._commit = staticmethod(_commit_or_die)  # type: ignore[method-assign,assignment]
