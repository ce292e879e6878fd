"""Jobs rebuilt by name in other processes (Celery workers, `execute_job`)."""

import dagster as dg

from lakehouse.definitions import ASSETS, build_resources
from lakehouse.deploy.executor import build_executor
from lakehouse.settings import Settings


def all_assets_job() -> dg.JobDefinition:
    """Every asset as one job, run by the executor `LAKEHOUSE_EXECUTOR` selects.

    A function, not a module-level job, so `dg.reconstructable(all_assets_job)` can be rebuilt in
    a Celery worker from this module's name; each process reads its own environment.
    """
    settings = Settings.from_env()
    # A named job: the implicit __ASSET_JOB name is reserved and cannot be reconstructed alone.
    job = dg.define_asset_job("all_assets", executor_def=build_executor(settings.executor))
    return dg.Definitions(
        assets=ASSETS, resources=build_resources(settings), jobs=[job]
    ).resolve_job_def("all_assets")
