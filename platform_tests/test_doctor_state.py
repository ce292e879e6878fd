"""`lakehouse doctor` on the instance's own state: ticks kept forever are named with the fix,
and a local instance's size is reported with its growth since doctor last looked.
"""

import shutil
from pathlib import Path

from lakehouse.deploy.doctor import STATE_RECORD, instance_state

REPO = Path(__file__).resolve().parent.parent
DAY = 86_400.0


def _home(tmp_path: Path, config: Path | str) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    if isinstance(config, Path):
        shutil.copy(config, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(config)
    return home


def test_an_instance_without_tick_retention_is_named_with_the_fix(tmp_path: Path) -> None:
    home = _home(tmp_path, "telemetry:\n  enabled: false\n")
    [finding, size] = instance_state({"DAGSTER_HOME": str(home)}, now=DAY)
    assert not finding.ok
    assert "keeps sensor and schedule ticks forever" in finding.message
    assert "retention:" in finding.message
    assert size.ok


def test_the_repository_instances_purge_old_ticks(tmp_path: Path) -> None:
    for config in (REPO / "dagster.yaml", REPO / "deploy" / "dagster.yaml"):
        home = _home(tmp_path / config.parent.name, config)
        assert all(f.ok for f in instance_state({"DAGSTER_HOME": str(home)}, now=DAY)), config


def test_a_local_instance_reports_its_size_and_growth_a_day(tmp_path: Path) -> None:
    home = _home(tmp_path, REPO / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home)}
    (home / "history").mkdir()
    (home / "history" / "runs.db").write_bytes(b"x" * 10_000)
    [first] = instance_state(env, now=DAY)
    config_bytes = (home / "dagster.yaml").stat().st_size
    assert first.message.startswith(f"{(10_000 + config_bytes) / 1000:.1f} KB under {home}")
    assert "since doctor last looked" not in first.message
    (home / "history" / "runs.db").write_bytes(b"x" * 2_010_000)
    # A look within a minute says nothing of growth and keeps the earlier record.
    [soon] = instance_state(env, now=DAY + 10)
    assert "since doctor last looked" not in soon.message
    [later] = instance_state(env, now=DAY + DAY / 2)
    assert "+2.0 MB since doctor last looked 12.0 h ago (+4.0 MB a day)" in later.message
    assert (home / STATE_RECORD).exists()
