"""The Celery app the step workers run: `celery -A lakehouse.deploy.celery_app worker -Q dagster`.

The same app as `dagster_celery.app`, but bound to the broker in `LAKEHOUSE_CELERY_BROKER`
(so a worker needs no generated config module), and with the step task registered.
"""

import os

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from lakehouse.deploy.executor import BROKER_ENV

_broker = os.environ.get(BROKER_ENV)
if not _broker:
    msg = f"{BROKER_ENV} is not set: a Celery worker needs the broker URL (redis://host:port/0)"
    raise RuntimeError(msg)
app = make_app(CeleryExecutor.for_cli(broker=_broker, backend=_broker).app_args())
execute_plan = create_task(app)
