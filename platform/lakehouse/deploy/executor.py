"""The run executor chosen by `LAKEHOUSE_EXECUTOR`: a configuration change, not a code change."""

import dagster as dg
from dagster_celery import celery_executor

EXECUTORS = ("multiprocess", "in_process", "celery")
BROKER_ENV = "LAKEHOUSE_CELERY_BROKER"


def build_executor(name: str) -> dg.ExecutorDefinition:
    """Dagster's executor for a name of `EXECUTORS`.

    `celery` sends every step to the `dagster` queue of the broker named by
    `LAKEHOUSE_CELERY_BROKER` (results come back through the same Redis), read when a run starts,
    so the URL and any password in it stay in the environment.
    """
    if name == "multiprocess":  # Dagster's own default: multiprocess, in-process if configured
        return dg.multi_or_in_process_executor
    if name == "in_process":
        return dg.in_process_executor
    if name == "celery":
        broker = {"env": BROKER_ENV}
        return celery_executor.configured({"broker": broker, "backend": broker})
    msg = f"LAKEHOUSE_EXECUTOR={name!r} is not one of {', '.join(EXECUTORS)}"
    raise ValueError(msg)
