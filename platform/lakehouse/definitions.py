"""The one Definitions object: assets, checks, sensors and resources. No logic lives here."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from lakehouse.assets.automation import AUTOMATION_SENSOR
from lakehouse.assets.marts import (
    mart_delay_weather,
    mart_ontime_daily,
    mart_routes,
    mart_routes_daily,
)
from lakehouse.assets.raw import build_raw_asset
from lakehouse.assets.staged import (
    staged_airlines,
    staged_airports,
    staged_flights,
    staged_planes,
    staged_weather,
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
from lakehouse.schedules.catch_up import make_catch_up_schedule
from lakehouse.sensors.failures import FailureLog, record_run_failures
from lakehouse.sensors.landing import make_landing_sensor
from lakehouse.settings import Settings
from lakehouse.sources import AIRLINES, AIRPORTS, FLIGHTS, PLANES, WEATHER


def build_resources(settings: Settings) -> dict[str, object]:
    """The resources for a settings' data home (tests pass a temporary one)."""
    return {
        "landing": LandingZone(root=str(settings.landing_dir)),
        "lake": Lake(base_dir=settings.lake_location),
        "failure_log": FailureLog(path=str(settings.run_failures_path)),
        "lake_io_manager": LakeIOManager(base_dir=settings.lake_location),
        "warehouse_io_manager": (
            PostgresWarehouseIOManager(url=settings.warehouse_url, password=dg.EnvVar(PASSWORD_ENV))
            if settings.warehouse_url
            else DuckDBWarehouseIOManager(
                duckdb=DuckDBResource(database=str(settings.warehouse_path))
            )
        ),
    }


raw_flights = build_raw_asset(FLIGHTS)
raw_weather = build_raw_asset(WEATHER)
raw_airlines = build_raw_asset(AIRLINES)
raw_airports = build_raw_asset(AIRPORTS)
raw_planes = build_raw_asset(PLANES)

ASSETS = [
    *(raw_flights, raw_weather, raw_airlines, raw_airports, raw_planes),
    *(staged_flights, staged_weather, staged_airlines, staged_airports, staged_planes),
    *(dim_date_asset, dim_airline_asset, dim_airport_asset, dim_plane_asset, fct_flights_asset),
    *(mart_ontime_daily, mart_routes_daily, mart_routes, mart_delay_weather),
]
CHECKS = schema_change_checks(ASSETS)
SENSORS = [
    *(make_landing_sensor(source) for source in (FLIGHTS, WEATHER, AIRLINES, AIRPORTS, PLANES)),
    AUTOMATION_SENSOR,
    record_run_failures,
]
SCHEDULES = [make_catch_up_schedule([FLIGHTS, WEATHER])]

SETTINGS = Settings.from_env()
defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    sensors=SENSORS,
    schedules=SCHEDULES,
    resources=build_resources(SETTINGS),
    executor=build_executor(SETTINGS.executor),
)
