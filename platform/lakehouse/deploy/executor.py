"""The run executor chosen by `LAKEHOUSE_EXECUTOR`: a configuration change, not a code change."""

from urllib.parse import urlsplit

import dagster as dg

EXECUTORS = ("multiprocess", "in_process", "celery")
BROKER_ENV = "LAKEHOUSE_CELERY_BROKER"


class BrokerUnavailableError(Exception):
    """The Celery broker (Redis) cannot be reached when a run starts."""


def broker_problem(url: str, timeout_seconds: float = 3) -> str | None:
    """Why the Redis broker at `url` cannot be used, in plain words (never its password)."""
    import redis  # noqa: PLC0415 (only Celery deployments need the client)

    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 6379}"
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
        )
        with client:
            client.ping()
    except redis.AuthenticationError:
        return f"Redis broker at {where} refused the password in {BROKER_ENV}"
    except redis.RedisError as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return (
            f"Redis broker at {where} is not reachable ({reason}); check {BROKER_ENV} and that "
            "redis-server is running"
        )
    return None


def checked_celery_executor() -> dg.ExecutorDefinition:
    """dagster-celery's executor, after checking the broker answers: a run started while Redis
    is down fails at once with a sentence naming the broker and the setting, instead of a
    Celery connection traceback at its first step. (Built on demand: importing Celery costs
    every run process ~0.1 s.)
    """
    from dagster_celery import celery_executor  # noqa: PLC0415
    from dagster_celery.executor import CELERY_CONFIG  # noqa: PLC0415

    @dg.executor(
        name="celery", config_schema=CELERY_CONFIG, requirements=celery_executor.get_requirements
    )
    def checked(init_context: dg.InitExecutorContext) -> dg.Executor:
        broker = init_context.executor_config.get("broker")
        problem = broker_problem(str(broker)) if broker else None
        if problem:
            raise BrokerUnavailableError(problem)
        create = celery_executor.executor_creation_fn
        assert create is not None  # dagster-celery defines it
        return create(init_context)

    return checked


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
        return checked_celery_executor().configured({"broker": broker, "backend": broker})
    msg = f"LAKEHOUSE_EXECUTOR={name!r} is not one of {', '.join(EXECUTORS)}"
    raise ValueError(msg)
