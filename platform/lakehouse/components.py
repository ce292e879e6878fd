"""Dagster Components: what a YAML declaration under `defs/` turns into.

`LandingSource` is a source (`defs/sources/<name>/defs.yaml`): its raw table, staged table and
quarantine with their blocking checks and automation, and the landing sensor that notices its
files. Its attributes are a `declarations.SourceSpec` (the schema `dg` checks the file against
and the UI documents); the machinery lives in the asset, sensor and resource modules.
"""

from pathlib import Path
from typing import Self

import dagster as dg
from pydantic import BaseModel

from lakehouse.assets.declared_marts import build_mart
from lakehouse.assets.raw import build_raw_asset
from lakehouse.assets.staged import build_staged
from lakehouse.declarations import MartSpec, SourceSpec
from lakehouse.schedules.catch_up import make_catch_up_schedule
from lakehouse.sensors.landing import make_landing_sensor
from lakehouse.sensors.periods import make_period_sensor


class LandingSource(dg.Component):
    """A source of files landing in `LAKEHOUSE_HOME/landing/<name>/`, declared in one YAML file:
    its landing format, partitions, columns with types and rules, business key, thresholds,
    owners, and the Python steps for what cannot be declared.
    """

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        """The schema of the YAML attributes."""
        return SourceSpec

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> Self:
        """The component of a declaration's attributes."""
        if not isinstance(attributes, SourceSpec):
            msg = f"{context.path}: a LandingSource needs its attributes (a SourceSpec)"
            raise TypeError(msg)
        return cls(attributes)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The source's raw and staged assets (with the quarantine and checks) and its sensor."""
        return dg.Definitions(
            assets=[build_raw_asset(self.spec), build_staged(self.spec)],
            sensors=[
                make_landing_sensor(self.spec)
                if self.spec.daily or self.spec.snapshot
                else make_period_sensor(self.spec)
            ],
            schedules=[make_catch_up_schedule(self.spec)] if self.spec.daily else [],
        )


class Mart(dg.Component):
    """A mart declared in YAML (`defs/marts/<name>/defs.yaml`): a DuckDB SQL file beside it, or
    a Polars function, over its inputs, with its grain, partitions and described columns.
    """

    def __init__(self, spec: MartSpec, folder: Path) -> None:
        self.spec = spec
        self.folder = folder

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        """The schema of the YAML attributes."""
        return MartSpec

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> Self:
        """The component of a declaration's attributes (its SQL file is read from its folder)."""
        if not isinstance(attributes, MartSpec):
            msg = f"{context.path}: a Mart needs its attributes (a MartSpec)"
            raise TypeError(msg)
        return cls(attributes, Path(context.path))

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The mart's warehouse asset."""
        return dg.Definitions(assets=[build_mart(self.spec, self.folder)])
