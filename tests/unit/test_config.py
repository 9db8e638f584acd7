"""Configuration: SEED.md's variables, defaults, and one clear line for every bad config."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from preempt.config import default_mysql_driver, load_settings, parse_duration_s
from preempt.errors import ConfigError
from tests.cli_helpers import REPO, run_preempt


def test_repo_config_yaml_has_seed_monitored_fields() -> None:
    settings = load_settings(REPO / "config.yaml", env={})
    assert settings.weather.monitored_fields == (
        "temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m",
        "dew_point_2m",
    )
    assert settings.collect.interval_s == 300
    assert settings.detect.interval_s == 600


def test_no_db_host_means_embedded_sqlite_in_var() -> None:
    settings = load_settings(None, env={})
    assert settings.database_url == "sqlite:///var/preempt.db"
    assert settings.redis_url is None
    assert settings.is_embedded_db


def test_seed_environment_variables_build_the_urls() -> None:
    env = {"DB_HOST": "mysql", "DB_PORT": "3307", "DB_USER": "myapp",
           "DB_PASSWORD": "my pass@123", "DB_NAME": "preempt",
           "REDIS_HOST": "redis", "REDIS_PORT": "6380"}
    settings = load_settings(None, env=env)
    assert settings.database_url == (
        f"mysql+{default_mysql_driver()}://myapp:my+pass%40123@mysql:3307/preempt?charset=utf8mb4"
    )
    assert settings.redis_url == "redis://redis:6380/0"


def test_mysql_driver_is_the_c_one_when_installed_and_can_be_chosen() -> None:
    installed = importlib.util.find_spec("MySQLdb") is not None
    assert default_mysql_driver() == ("mysqldb" if installed else "pymysql")
    env = {"DB_HOST": "db", "PREEMPT_DB_DRIVER": "pymysql"}
    assert load_settings(None, env=env).database_url.startswith("mysql+pymysql://root@db:3306/")
    with pytest.raises(ConfigError, match="PREEMPT_DB_DRIVER='psycopg' is not a MySQL driver"):
        load_settings(None, env={"DB_HOST": "db", "PREEMPT_DB_DRIVER": "psycopg"})


def test_url_forms_win_over_parts() -> None:
    env = {"PREEMPT_DATABASE_URL": "sqlite:///x.db", "DB_HOST": "ignored",
           "PREEMPT_REDIS_URL": "redis://r:1/2", "REDIS_HOST": "ignored"}
    settings = load_settings(None, env=env)
    assert (settings.database_url, settings.redis_url) == ("sqlite:///x.db", "redis://r:1/2")


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30), ("5m", 300), ("24h", 86400), ("7d", 604800), (90, 90),
                           ("250ms", 0.25), ("1.5h", 5400)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration_s(value) == seconds


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("weather:\n  monitored_fields: [temperature_2m, snow_depth_9m]\n",
         "invalid config key 'weather.monitored_fields': unknown metric 'snow_depth_9m'"),
        ("collect:\n  interval_s: -5m\n",
         "invalid config key 'collect.interval_s': must not be negative: '-5m'"),
        ("detect:\n  interval_s: soon\n", "invalid config key 'detect.interval_s': not a duration"),
        ("weather: [unclosed\n", "cannot parse YAML at line 2, column 1"),
        ("colect:\n  interval_s: 5m\n", "invalid config key 'colect': unknown setting"),
        ("- a\n- b\n", "top level must be a mapping of sections, not list"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_config_stops_the_cli_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("weather:\n  monitored_fields: [temperature_2m, bogus]\n")
    result = run_preempt("migrate", "status", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"preempt: error: {path}: invalid config key 'weather.monitored_fields': "
        "unknown metric 'bogus'; known: " + lines[0].split("known: ")[1]
    ]


def test_unreachable_database_names_the_host(tmp_path: Path) -> None:
    env = {"DB_HOST": "127.0.0.1", "DB_PORT": "1", "DB_NAME": "preempt"}
    result = run_preempt("migrate", "status", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("preempt: error: cannot reach database mysql at 127.0.0.1:1/preempt")


def test_bad_port_variable_is_named() -> None:
    result = run_preempt("migrate", "status", env={"DB_HOST": "h", "DB_PORT": "abc"})
    assert result.stderr.strip() == "preempt: error: DB_PORT='abc' is not a port number (1-65535)"
