"""Jobs rebuilt by name in other processes (Celery workers, `execute_job`)."""

import dagster as dg

from lakehouse.definitions import ASSETS, build_resources
from lakehouse.deploy.executor import build_executor
from lakehouse.partitions import DAILY
from lakehouse.runner import plan_runs
from lakehouse.settings import Settings


def all_assets_job() -> dg.JobDefinition:
    """The flights star schema's assets (every asset on the flights calendar, with the
    reference tables they use) as one job, run by the executor `LAKEHOUSE_EXECUTOR` selects.

    A function, not a module-level job, so `dg.reconstructable(all_assets_job)` can be rebuilt in
    a Celery worker from this module's name; each process reads its own environment.
    """
    settings = Settings.from_env()
    # A named job: the implicit __ASSET_JOB name is reserved and cannot be reconstructed alone.
    resources = build_resources(settings)
    flights = next(
        r
        for r in plan_runs(dg.Definitions(assets=ASSETS, resources=resources))
        if r.partitions == DAILY
    )
    job = dg.define_asset_job(
        "all_assets",
        selection=dg.AssetSelection.assets(*flights.keys),
        executor_def=build_executor(settings.executor),
    )
    return dg.Definitions(assets=ASSETS, resources=resources, jobs=[job]).resolve_job_def(
        "all_assets"
    )
