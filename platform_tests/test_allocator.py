"""Polars' allocator keeps freed pages long enough for chunked steps to reuse them."""

import os
import subprocess
import sys

import pytest

from lakehouse import ALLOCATOR_ENV

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Polars uses jemalloc on Linux"
)

# Import the package (which must not import Polars), ask jemalloc to print its options at exit,
# then load the definitions as Dagster does.
PROBE = (
    "import os, lakehouse, sys; "
    "assert 'polars' not in sys.modules; "
    f"os.environ[{ALLOCATOR_ENV!r}] += ',stats_print:true'; "
    "import lakehouse.definitions"
)


def jemalloc_options(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stderr


def test_importing_lakehouse_keeps_freed_pages_for_ten_seconds() -> None:
    env = {k: v for k, v in os.environ.items() if k != ALLOCATOR_ENV}
    assert "opt.dirty_decay_ms: 10000" in jemalloc_options(env)


def test_a_users_allocator_setting_wins() -> None:
    env = {**os.environ, ALLOCATOR_ENV: "dirty_decay_ms:2000"}
    assert "opt.dirty_decay_ms: 2000" in jemalloc_options(env)
