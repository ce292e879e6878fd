"""The production event log: Dagster's PostgreSQL storage, with the partition status of range
runs (`PlannedRangesMixin`). A module of its own, so the local instance never imports psycopg2.
"""

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

from lakehouse.deploy.instance import PlannedRangesMixin


class PlannedRangesPostgresEventLogStorage(PlannedRangesMixin, PostgresEventLogStorage):
    """`PostgresEventLogStorage` whose range runs' partitions are in progress while the run is
    under way and failed when it fails, as a partition run's are.
    """

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PlannedRangesPostgresEventLogStorage":
        """Built from `deploy/dagster.yaml` as Dagster builds its own (which names its class)."""
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
