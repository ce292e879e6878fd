"""Materialize a selection of the graph in process: one run per partitions definition.

Each declared source has its own partitions (the flights days of 2013, Seattle's days of
2012-2015, ...), and one Dagster run covers assets of one partitions definition (plus
unpartitioned ones), so a selection spanning several sources is planned as one run each.
"""

import time
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from lakehouse.deploy.instance import mark_failed_partitions
from lakehouse.failures import RunFailure
from lakehouse.partitions import DAILY
from lakehouse.sensors.chain import carried_tags

# The failure metadata naming the partitions a run failed for, when only some of its partitions
# are at fault: `lakehouse materialize` then runs the others without them.
BAD_PARTITIONS = "bad_partitions"
SHOWN_PROBLEMS = 50  # bad deliveries a failure lists before it stops
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
IN_PROCESS_JOB = "__ephemeral_asset_job__"  # the name Dagster's `materialize` gives its runs


def range_tags(start: date, end: date) -> dict[str, str]:
    """Tags that make one run cover every partition from start to end (a single-run backfill)."""
    return {RANGE_START: start.isoformat(), RANGE_END: end.isoformat()}


@dataclass(frozen=True)
class PlannedRun:
    """One in-process run of a selection: assets sharing one partitions definition, with the
    unpartitioned assets connected to them.

    Attributes:
        partitions: Their partitions definition (None: unpartitioned assets only).
        keys: The assets the run materializes (their checks come with them).
    """

    partitions: dg.PartitionsDefinition | None
    keys: tuple[dg.AssetKey, ...]

    def partition_keys(self, start: date | None, end: date | None) -> list[str]:
        """The run's partition keys within [start, end] (by default all), in order."""
        if self.partitions is None:
            return []
        keys = list(self.partitions.get_partition_keys())
        if isinstance(self.partitions, dg.TimeWindowPartitionsDefinition):
            windows = {k: self.partitions.time_window_for_partition_key(k) for k in keys}
            keys = [
                k
                for k in keys
                if (start is None or windows[k].end.date() > start)
                and (end is None or windows[k].start.date() <= end)
            ]
        return keys

    def span(self, start: date | None, end: date | None) -> tuple[str, str] | None:
        """The first and last partition keys of the run within [start, end] (by default its
        whole range); None when none of its partitions falls inside.
        """
        keys = self.partition_keys(start, end)
        return (keys[0], keys[-1]) if keys else None


def plan_runs(defs: dg.Definitions, selection: dg.AssetSelection | None = None) -> list[PlannedRun]:
    """The runs that materialize `selection` (default: everything): one per partitions
    definition, the flights calendar's first; an unpartitioned asset runs with the first
    partitioned group it feeds or is fed by, or alone.

    Raises:
        ValueError: the selection splits assets one step writes together (`check_selection`).
    """
    if selection is not None:
        check_selection(defs, selection)
    graph = defs.resolve_asset_graph()
    chosen = (selection or dg.AssetSelection.all()).resolve(graph)
    rank = {key: n for n, key in enumerate(graph.toposorted_asset_keys)}
    # A multi-asset's outputs (a staged table and its quarantine) always run together.
    units = sorted(
        (
            sorted(keys, key=rank.__getitem__)
            for a in defs.assets or []
            if isinstance(a, dg.AssetsDefinition) and a.is_materializable
            if (keys := [k for k in a.keys if k in chosen])
        ),
        key=lambda keys: rank[keys[0]],
    )
    groups: dict[dg.PartitionsDefinition, list[dg.AssetKey]] = {}
    unpartitioned: list[list[dg.AssetKey]] = []
    for keys in units:
        partitions = graph.get(keys[0]).partitions_def
        if partitions is None:
            unpartitioned.append(keys)
        else:
            groups.setdefault(partitions, []).extend(keys)
    order = sorted(groups, key=lambda p: p != DAILY)
    runs = {p: list(groups[p]) for p in order}
    alone: list[dg.AssetKey] = []
    for keys in unpartitioned:
        these = dg.AssetSelection.assets(*keys)
        connected = these.upstream().resolve(graph) | these.downstream().resolve(graph)
        home = next((p for p in order if connected & set(groups[p])), None)
        (runs[home] if home is not None else alone).extend(keys)
    planned = [PlannedRun(p, tuple(keys)) for p, keys in runs.items()]
    return planned + ([PlannedRun(None, tuple(alone))] if alone else [])


def materialize_range(
    defs: dg.Definitions,
    start: date,
    end: date,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object] | None = None,
    selection: dg.AssetSelection | None = None,
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """Run the selected assets (and their checks) once over [start, end]: by default every
    asset on the flights calendar and the unpartitioned ones connected to it.

    Raises:
        ValueError: the range is outside the calendar, or the selection spans several
            partitions definitions (plan those with `plan_runs`).
    """
    runs = [r for r in plan_runs(defs, selection) if selection is not None or r.partitions == DAILY]
    if len(runs) != 1:
        msg = "the selection spans several partitions definitions: plan one run each (plan_runs)"
        raise ValueError(msg)
    return run_planned(defs, runs[0], start, end, instance, resources, log_level)


def run_planned(
    defs: dg.Definitions,
    run: PlannedRun,
    start: date | None,
    end: date | None,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object] | None = None,
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """One planned run over its partitions within [start, end] (its whole range by default).

    Raises:
        ValueError: none of its partitions lies within [start, end].
    """
    tags: dict[str, str] = {}
    if run.partitions is not None:
        span = run.span(start, end)
        if span is None:
            keys = run.partitions.get_partition_keys()
            shown = f"{keys[0]}..{keys[-1]}" if keys else "none"
            msg = f"{start}..{end} is outside the partitions of these assets ({shown})"
            raise ValueError(msg)
        tags = {RANGE_START: span[0], RANGE_END: span[1]}
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    checks = list(defs.asset_checks or [])
    job = dg.Definitions(
        assets=[*assets, *checks],
        resources=resources if resources is not None else dict(defs.resources or {}),
        jobs=[dg.define_asset_job(IN_PROCESS_JOB, selection=dg.AssetSelection.assets(*run.keys))],
    ).resolve_job_def(IN_PROCESS_JOB)
    # The run records the assets it targets, as a run the daemon launches does: the UI shows
    # them, and automation does not build again what the run built after their dependencies.
    return job.execute_in_process(
        instance=instance,
        tags={**tags, **carried_tags(defs.resolve_asset_graph(), run.keys)},
        asset_selection=list(run.keys),
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )


def run_partitions(tags: Mapping[str, str]) -> str:
    """The days a run covered, from its tags: a day, a range `first..last`, or "" for an
    unpartitioned run.
    """
    if RANGE_START in tags:
        return f"{tags[RANGE_START]}..{tags[RANGE_END]}"
    return tags.get("dagster/partition", "")


def step_failures(events: Iterable[dg.DagsterEvent]) -> list[tuple[str, str]]:
    """Each failed step of a run with its error: the user's exception, not Dagster's wrapper."""
    failures = []
    for event in events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            cause = error.cause if error is not None and error.cause is not None else error
            failures.append((event.step_key or "?", cause.message.strip() if cause else "unknown"))
    return failures


def run_failure(run: dg.DagsterRun, events: Iterable[dg.DagsterEvent], fallback: str) -> RunFailure:
    """What to record about a failed run: its days, failed steps and first error (`fallback`
    when no step failed, e.g. a run that failed to start).
    """
    steps = step_failures(events)
    return RunFailure(
        run_id=run.run_id,
        job=run.job_name,
        failed_at=time.time(),
        partitions=run_partitions(run.tags),
        failed_steps=[step for step, _ in steps],
        message=steps[0][1] if steps else fallback,
    )


def check_selection(defs: dg.Definitions, selection: dg.AssetSelection) -> None:
    """Refuse a selection that splits assets one step must write together.

    Dagster refuses it too, but its GraphQL client then fails on its own error (`KeyError:
    'message'`), and its message names every check key: this one names what to add.

    Raises:
        ValueError: some, not all, assets of a multi-asset that cannot be subset are selected.
    """
    graph = defs.resolve_asset_graph()
    chosen = selection.resolve(graph)
    for assets in defs.assets or []:
        if not isinstance(assets, dg.AssetsDefinition) or assets.can_subset:
            continue
        keys = set(assets.keys)
        if chosen & keys and not keys <= chosen:
            names = ", ".join(sorted(k.to_user_string() for k in chosen & keys))
            missing = ", ".join(sorted(k.to_user_string() for k in keys - chosen))
            msg = (
                f"{names} cannot be materialized without {missing}: one step writes them "
                f"together (every rejected row lands in the quarantine in the same run). Select "
                f"{missing} too, e.g. with selection.required_multi_asset_neighbors()"
            )
            raise ValueError(msg)


def bad_partitions_failure(what: str, problems: Mapping[str, str], total: int) -> dg.Failure:
    """The failure of a run of `total` partitions because of the `problems` of some (partition
    key -> what is wrong and what to do), naming every one of them (up to SHOWN_PROBLEMS) and
    carrying their keys for the runner to isolate.
    """
    lines = [f"- {problems[key]}" for key in sorted(problems)]
    shown = lines[:SHOWN_PROBLEMS]
    if len(lines) > SHOWN_PROBLEMS:
        shown.append(f"- and {len(lines) - SHOWN_PROBLEMS} more")
    description = (
        f"{len(problems)} of {total} partition(s) of {what} cannot be ingested, so this run "
        "publishes none of its partitions (`lakehouse materialize` runs the others without "
        "them); fix or deliver again:\n" + "\n".join(shown)
    )
    return partitions_failure(description, problems)


def partitions_failure(description: str, partition_keys: Iterable[str]) -> dg.Failure:
    """A step failure caused by `partition_keys` only: their keys ride along as its
    `bad_partitions` metadata (`failed_partitions` reads them back), and it is not retried.
    """
    return dg.Failure(
        description=description,
        metadata={BAD_PARTITIONS: dg.MetadataValue.json(sorted(partition_keys))},
        allow_retries=False,
    )


def failed_partitions(events: Iterable[dg.DagsterEvent]) -> set[str] | None:
    """The partitions a run's failed steps name as the cause (`bad_partitions_failure`); None
    when a failed step names none (the whole run is at fault).
    """
    named: set[str] = set()
    for event in events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        user = event.step_failure_data.user_failure_data
        value = user.metadata.get(BAD_PARTITIONS) if user is not None else None
        if value is None or not isinstance(value.value, list):
            return None
        named.update(str(key) for key in value.value)
    return named or None


def run_isolating(
    defs: dg.Definitions,
    run: PlannedRun,
    start: date | None,
    end: date | None,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object] | None = None,
    log_level: str = "INFO",
) -> list[dg.ExecuteInProcessResult]:
    """`run_planned`, and when the run failed because of some of its partitions only (its
    failed steps name them, `bad_partitions_failure`), each stretch of the other partitions
    again as a run of its own, isolating again, so one bad day does not hold back the year.
    The bad partitions stay failed (in the UI too) from the first run.

    Returns:
        Every run's result, the first run's first.
    """
    first = run_planned(defs, run, start, end, instance, resources, log_level)
    if first.success or not isinstance(run.partitions, dg.TimeWindowPartitionsDefinition):
        return [first]
    bad = failed_partitions(first.all_events)
    keys = run.partition_keys(start, end)
    if bad is None or not keys:
        return [first]
    mark_failed_partitions(instance, first.dagster_run, bad)
    results = [first]
    for stretch in good_stretches(keys, bad):
        if len(stretch) == len(keys):
            break  # the failure named no partition of this run: nothing narrower to try
        first_day, last_day = _days_of(run.partitions, stretch)
        results += run_isolating(
            defs, run, first_day, last_day, instance, resources, log_level
        )  # fmt: skip
    return results


def _days_of(
    partitions: dg.TimeWindowPartitionsDefinition, keys: Sequence[str]
) -> tuple[date, date]:
    """The first and last day of consecutive partitions `keys`."""
    first_window = partitions.time_window_for_partition_key(keys[0])
    last_window = partitions.time_window_for_partition_key(keys[-1])
    return first_window.start.date(), last_window.end.date() - timedelta(days=1)


def unfinished_spans(
    defs: dg.Definitions,
    run: PlannedRun,
    start: date | None,
    end: date | None,
    instance: dg.DagsterInstance,
) -> list[tuple[date, date]] | None:
    """The stretches of a run's partitions within [start, end] that some of its partitioned
    assets has not materialized (never run, or failed since): what a re-run after a fix has
    left to do. None for a run without time partitions (it runs whole).
    """
    if not isinstance(run.partitions, dg.TimeWindowPartitionsDefinition):
        return None
    keys = run.partition_keys(start, end)
    if not keys:
        return []
    graph = defs.resolve_asset_graph()
    todo: set[str] = set()
    for asset in run.keys:
        if graph.get(asset).partitions_def != run.partitions:
            continue  # an unpartitioned table that runs with them
        status = instance.get_status_by_partition(asset, keys, run.partitions) or {}
        todo |= {k for k in keys if status.get(k) != dg.AssetPartitionStatus.MATERIALIZED}
    return [_days_of(run.partitions, s) for s in good_stretches(keys, set(keys) - todo)]


def good_stretches(keys: Sequence[str], bad: Set[str]) -> list[list[str]]:
    """The consecutive runs of `keys` (in order) that are not `bad`."""
    stretches: list[list[str]] = [[]]
    for key in keys:
        if key in bad:
            stretches.append([])
        else:
            stretches[-1].append(key)
    return [s for s in stretches if s]
