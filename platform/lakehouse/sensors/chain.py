"""What a landing run carries past its raw table: the downstream assets the same run can build,
so a new delivery reaches the marts in one run instead of one run per automation tick.
"""

from collections.abc import Callable, Sequence
from datetime import date

import dagster as dg
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from lakehouse.assets.automation import CARRIED_DOWNSTREAM
from lakehouse.assets.metadata import AS_OF_DAY


def downstream_chain(
    graph: BaseAssetGraph,
    roots: Sequence[dg.AssetKey],
    built: Callable[[dg.AssetKey], bool],
) -> list[dg.AssetKey]:
    """The roots and every asset downstream of them that one run over the roots' partitions
    can build, upstream first: automated assets on the roots' partitions definition (or none),
    each of whose other dependencies is either in the run or already `built` for the run's
    partitions.

    What is left out (a mart waiting on another source's day, a table on another calendar, a
    multi-asset only partly eligible) is left to declarative automation, which builds it once
    its inputs are there; it does not build again what the run built (Dagster ignores an
    update by a run that also targeted the child, and every partition's update by a run that
    carries everything downstream: `carried_tags`).

    Args:
        graph: The repository's asset graph.
        roots: The raw assets the landing sensor requests (its own, and its partners' that
            delivered the same days: `partners.py`), on one partitions definition.
        built: Whether a dependency outside the run holds the run's partitions (any
            materialization, for an unpartitioned one).
    """
    partitions = graph.get(roots[0]).partitions_def
    chosen = set(roots)
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        if key in chosen or not node.is_materializable or not node.parent_keys & chosen:
            continue
        if node.automation_condition is None or node.partitions_def not in (None, partitions):
            continue
        if all(parent in chosen or built(parent) for parent in node.parent_keys):
            chosen.add(key)
    # A step that writes several assets (a staged table and its quarantine) runs whole or not.
    whole = {key for key in chosen if graph.get(key).execution_set_asset_keys <= chosen}
    return [key for key in graph.toposorted_asset_keys if key in whole]


def graph_of(context: dg.SensorEvaluationContext) -> BaseAssetGraph | None:
    """The repository's asset graph (none in a test's bare sensor context)."""
    return context.repository_def.asset_graph if context.repository_def is not None else None


def carries_downstream(graph: BaseAssetGraph, selection: Sequence[dg.AssetKey]) -> bool:
    """Whether a run of `selection` builds every automated asset downstream of it: then
    automation has nothing to do after its updates (tagged `CARRIED_DOWNSTREAM`).
    """
    chosen = set(selection)
    reached = set(chosen)
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        if key in reached or not node.parent_keys & reached:
            continue
        if node.is_materializable and node.automation_condition is not None:
            if key not in chosen:
                return False
            reached.add(key)
    return True


def carried_tags(graph: BaseAssetGraph | None, selection: Sequence[dg.AssetKey]) -> dict[str, str]:
    """The `CARRIED_DOWNSTREAM` tag for a run of `selection` that builds everything automated
    downstream of it (none without a graph, in a test's bare sensor context).
    """
    if graph is None or not carries_downstream(graph, selection):
        return {}
    return {CARRIED_DOWNSTREAM: "true"}


def built_for(
    graph: BaseAssetGraph, instance: dg.DagsterInstance, partition_keys: Sequence[str]
) -> Callable[[dg.AssetKey], bool]:
    """Whether an asset holds every one of `partition_keys` (an unpartitioned one: any
    materialization) and its latest blocking check evaluations passed, as the instance
    records them; a source asset counts as built. (Automation never builds past a failed
    blocking check; neither does a landing run.)
    """

    def failed_blocking_check(key: dg.AssetKey) -> bool:
        blocking = [c for c in graph.get(key).check_keys if graph.get(c).blocking]
        if not blocking:
            return False
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(blocking)
        return any(r.status is AssetCheckExecutionRecordStatus.FAILED for r in latest.values())

    def built(key: dg.AssetKey) -> bool:
        node = graph.get(key)
        if not node.is_materializable:
            return True
        if node.partitions_def is None or not partition_keys:
            held = instance.get_latest_materialization_event(key) is not None
        else:
            held = set(partition_keys) <= instance.get_materialized_partitions(key)
        return held and not failed_blocking_check(key)

    return built


def as_of_dependencies(graph: BaseAssetGraph, key: dg.AssetKey) -> set[dg.AssetKey]:
    """The dependencies `key` reads as of each of its days (`AS_OF_DAY`)."""
    named = str(graph.get(key).metadata.get(AS_OF_DAY, "") or "")
    return {dg.AssetKey.from_user_string(k.strip()) for k in named.split(",") if k.strip()}


def as_of_roots(graph: BaseAssetGraph, chain: Sequence[dg.AssetKey]) -> list[dg.AssetKey]:
    """The partitioned tables fed by an unpartitioned `chain` only through dependencies they
    read as of each day (`AS_OF_DAY`), on one time-window partitioning; none otherwise.
    """
    from_chain = set(chain)
    roots = [
        key
        for key in graph.toposorted_asset_keys
        if key not in from_chain
        and (node := graph.get(key)).partitions_def is not None
        and node.automation_condition is not None
        and (fed := node.parent_keys & from_chain)
        and fed <= as_of_dependencies(graph, key)
    ]
    partitionings = {graph.get(key).partitions_def for key in roots}
    if len(partitionings) != 1 or not isinstance(
        next(iter(partitionings)), dg.TimeWindowPartitionsDefinition
    ):
        return []
    return roots


def dated_chain(
    graph: BaseAssetGraph,
    instance: dg.DagsterInstance,
    chain: Sequence[dg.AssetKey],
    since: date,
) -> tuple[list[dg.AssetKey], list[str]]:
    """What a snapshot's run rebuilds of the partitioned tables after its unpartitioned `chain`:
    the tables that read the chain as of each day (`as_of_roots`), over the days they hold from
    the snapshot's day (`since`) on, and what the same run can build after them. Automation
    would rebuild every day instead; it ignores a dependency's update by a run that also
    targeted the table, so the days before `since` are left as they are. When the tables hold
    no day from `since` on, the run takes their last day (one day rebuilt, so that the run
    targets them and automation leaves them).

    Returns:
        The assets and the partition keys (one consecutive range); nothing when no table reads
        the chain as of its days, holds a day, or can be rebuilt over all of them (a dependency
        lacks one: automation then rebuilds every day, as before).
    """
    roots = as_of_roots(graph, chain)
    if not roots:
        return [], []
    partitions = graph.get(roots[0]).partitions_def
    assert isinstance(partitions, dg.TimeWindowPartitionsDefinition)  # as_of_roots'
    held = set().union(*(instance.get_materialized_partitions(key) for key in roots))
    keys = list(partitions.get_partition_keys())
    present = [n for n, k in enumerate(keys) if k in held]
    if not present:
        return [], []
    due = [
        n for n in present if partitions.time_window_for_partition_key(keys[n]).end.date() > since
    ] or present[-1:]
    days = keys[due[0] : due[-1] + 1]
    built = built_for(graph, instance, days)
    from_chain = set(chain)
    if not all(
        parent in from_chain or built(parent)
        for key in roots
        for parent in graph.get(key).parent_keys
    ):
        return [], []
    return downstream_chain(graph, roots, built), days
