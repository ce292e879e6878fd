"""The one Definitions object: assets, checks, sensors and resources. No logic lives here."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse.assets.automation import AUTOMATION_SENSOR
from lakehouse.assets.marts import (
    mart_delay_weather,
    mart_ontime_daily,
    mart_routes,
    mart_routes_daily,
)
from lakehouse.assets.warehouse import (
    dim_airline_asset,
    dim_airport_asset,
    dim_date_asset,
    dim_plane_asset,
    fct_flights_asset,
)
from lakehouse.checks.monitors import schema_change_checks
from lakehouse.deploy.executor import build_executor
from lakehouse.resources.lake_io import Lake, LakeIOManager
from lakehouse.resources.landing import LandingZone
from lakehouse.resources.postgres_warehouse_io import PASSWORD_ENV, PostgresWarehouseIOManager
from lakehouse.resources.warehouse_io import DuckDBWarehouseIOManager
from lakehouse.sensors.failures import FailureLog, record_run_failures
from lakehouse.sensors.isolation import isolate_failed_ranges
from lakehouse.sensors.retention import run_retention_sensor
from lakehouse.settings import Settings

# The marts in the lake: the lake's own IO manager under the marts' key, the same resource in
# a run rather than a second one, so the run's tables, marts included, are published to the
# catalog together, in one write when the run ends, and each is opened once.
LAKE_FOR_MARTS = dg.IOManagerDefinition(
    resource_fn=lambda context: context.resources.lake_io_manager,
    required_resource_keys={"lake_io_manager"},
    description="The lake's IO manager (`lake_io_manager`): the marts are Delta tables too.",
)


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources for a settings' data home (tests pass a temporary one).

    Every table is a Delta table in the lake, marts included, and `warehouse.duckdb` is the
    read side: a catalog of views over the published versions, rebuilt after each commit. A
    `LAKEHOUSE_WAREHOUSE_URL` of `postgresql://...` puts the marts in a shared PostgreSQL
    warehouse, one of `duckdb:///path` in a DuckDB file's own tables.
    """
    # DuckDB reads no object store here (no extensions), so an S3 lake has no catalog.
    catalog = None if settings.lake_uri else str(settings.warehouse_path)
    lake = LakeIOManager(base_dir=settings.lake_location, catalog_path=catalog)
    url = settings.warehouse_url or ""
    warehouse: dg.ConfigurableIOManager | dg.IOManagerDefinition = LAKE_FOR_MARTS
    if url.startswith("duckdb://"):
        database = url.removeprefix("duckdb://")
        warehouse = DuckDBWarehouseIOManager(duckdb=DuckDBResource(database=database))
    elif url:
        warehouse = PostgresWarehouseIOManager(url=url, password=dg.EnvVar(PASSWORD_ENV))
    return {
        "landing": LandingZone(
            root=str(settings.landing_dir), quiet_seconds=settings.landing_quiet_seconds
        ),
        "lake": Lake(base_dir=settings.lake_location),
        "failure_log": FailureLog(path=str(settings.run_failures_path)),
        "lake_io_manager": lake,
        "warehouse_io_manager": warehouse,
    }


# The declared sources (defs/sources/*/defs.yaml): raw, staged, quarantine, checks, sensors.
_declared = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)
DECLARED_ASSETS = [a for a in _declared.assets or [] if isinstance(a, dg.AssetsDefinition)]
DECLARED_SENSORS = [s for s in _declared.sensors or [] if isinstance(s, dg.SensorDefinition)]
SCHEDULES = [s for s in _declared.schedules or [] if isinstance(s, dg.ScheduleDefinition)]
del _declared  # one Definitions object at module scope, as Dagster's loaders require

ASSETS = [
    *DECLARED_ASSETS,
    *(dim_date_asset, dim_airline_asset, dim_airport_asset, dim_plane_asset, fct_flights_asset),
    *(mart_ontime_daily, mart_routes_daily, mart_routes, mart_delay_weather),
]
CHECKS = schema_change_checks(ASSETS)
SETTINGS = Settings.from_env()
SENSORS = [
    *DECLARED_SENSORS,
    AUTOMATION_SENSOR,
    record_run_failures,
    isolate_failed_ranges,
    run_retention_sensor(SETTINGS.run_retention_days),
]

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    sensors=SENSORS,
    schedules=SCHEDULES,
    resources=build_resources(SETTINGS),
    executor=build_executor(SETTINGS.executor),
)
