"""A range run the daemon launched that failed because of some of its days only (a bad
delivery, a day below the contract pass rate) is narrowed: each stretch of its other days runs
again on its own, so one bad day does not hold back a year's backfill launched from the UI or a
landing sensor's range. `lakehouse materialize` does the same in process (`run_isolating`).
"""

from collections.abc import Set
from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

from lakehouse.runner import (
    IN_PROCESS_JOB,
    RANGE_END,
    RANGE_START,
    failed_partitions,
    good_stretches,
)
from lakehouse.sensors.chain import graph_of
from lakehouse.sensors.landing import span_request

ISOLATED_FROM = "lakehouse/isolated_from"  # a narrowed run's tag: the failed run it narrows
FAILED_RUNS_PER_TICK = 50
# A failed range run took minutes: narrowing it half a minute later costs little, and a tick
# every daemon loop would add a sensor's evaluations beside the landing sensors' on 2 cores.
ISOLATION_INTERVAL_SECONDS = 30


def narrowed_spans(
    graph: BaseAssetGraph, run: dg.DagsterRun, bad: Set[str]
) -> list[tuple[str, str]]:
    """The first and last partition keys of each stretch of `run`'s range without the `bad`
    partitions: none when the run is not a range run of a time-partitioned selection, or its
    failure named none of its partitions (nothing narrower to try).
    """
    if RANGE_START not in run.tags or RANGE_END not in run.tags or not run.asset_selection:
        return []
    partitions = {graph.get(key).partitions_def for key in run.asset_selection} - {None}
    if len(partitions) != 1:
        return []
    [definition] = partitions
    if not isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return []
    keys = definition.get_partition_keys_in_range(
        dg.PartitionKeyRange(run.tags[RANGE_START], run.tags[RANGE_END])
    )
    if not bad & set(keys):
        return []
    return [(stretch[0], stretch[-1]) for stretch in good_stretches(keys, bad)]


def narrowed_requests(
    context: dg.SensorEvaluationContext, graph: BaseAssetGraph, run: dg.DagsterRun, bad: Set[str]
) -> list[dg.RunRequest]:
    """A request for each of `narrowed_spans`: the failed run's assets and checks, tagged with
    the run it narrows (its run key too, so a stretch is requested once).
    """
    assert run.asset_selection is not None  # noqa: S101  (only runs of a selection are narrowed)
    selection = [key for key in graph.toposorted_asset_keys if key in run.asset_selection]
    checks = sorted(run.asset_check_selection) if run.asset_check_selection is not None else None
    requests = []
    for first, last in narrowed_spans(graph, run, bad):
        request = span_request(context, f"{run.run_id}:{first}..{last}", first, last, selection)
        tags = {**request.tags, ISOLATED_FROM: run.run_id}
        requests.append(request.with_replaced_attrs(tags=tags, asset_check_keys=checks))
    return requests


@dg.sensor(
    name="failed_range_isolation",
    description="Runs again, each on its own, the stretches of days a failed range run did not "
    "fail for (its failure names the bad days): one bad delivery does not hold back the others.",
    asset_selection=dg.AssetSelection.all(),
    minimum_interval_seconds=ISOLATION_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def isolate_failed_ranges(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Look at the runs that failed since the cursor (the last one's update time: a number,
    whatever the instance holds; a new sensor starts from now, not from old failures) and
    request the narrowed runs of each.
    """
    if context.cursor is None:
        return dg.SensorResult(cursor=str(datetime.now(UTC).timestamp()))
    graph = graph_of(context)
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE],
            updated_after=datetime.fromtimestamp(float(context.cursor), UTC),
        ),
        limit=FAILED_RUNS_PER_TICK,
        order_by="update_timestamp",
        ascending=True,
    )
    requests: list[dg.RunRequest] = []
    for record in records:
        run = record.dagster_run
        # An in-process run (`lakehouse materialize`) is narrowed by its own runner.
        if graph is None or run.job_name == IN_PROCESS_JOB or run.asset_selection is None:
            continue
        failures = context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        bad = failed_partitions(e.dagster_event for e in failures if e.dagster_event is not None)
        narrowed = narrowed_requests(context, graph, run, bad) if bad else []
        if narrowed:
            context.log.info(
                f"run {run.run_id} failed for {', '.join(sorted(bad or ()))} only: its other "
                f"days run again in {len(narrowed)} run(s)"
            )
        requests += narrowed
    cursor = records[-1].update_timestamp.timestamp() if records else float(context.cursor)
    return dg.SensorResult(run_requests=requests, cursor=str(cursor))
