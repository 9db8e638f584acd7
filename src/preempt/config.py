"""Settings: infrastructure from environment variables (SEED.md's names), application logic
from config.yaml. Built once by the CLI and passed down; nothing reads the environment at import.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from preempt.domain import DEFAULT_MONITORED_FIELDS, KNOWN_METRICS
from preempt.errors import ConfigError

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration_s(value: object) -> float:
    """Seconds from 300, "300", "30s", "5m", "24h", "7d" or "250ms"."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 24h, 7d)")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds < 0:
        raise ValueError(f"must not be negative: {value!r}")
    return seconds


def _positive_duration(value: object) -> float:
    seconds = parse_duration_s(value)
    if seconds <= 0:
        raise ValueError(f"must be positive: {value!r}")
    return seconds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeatherSettings(_Section):
    monitored_fields: tuple[str, ...] = DEFAULT_MONITORED_FIELDS

    @field_validator("monitored_fields")
    @classmethod
    def _known_metrics(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in fields if f not in KNOWN_METRICS]
        if unknown:
            raise ValueError(
                f"unknown metric {unknown[0]!r}; known: {', '.join(sorted(KNOWN_METRICS))}"
            )
        if not fields:
            raise ValueError("must list at least one metric")
        if len(set(fields)) != len(fields):
            raise ValueError("lists a metric twice")
        return fields


class OpenMeteoSettings(_Section):
    """Client budget defaults are the free tier (OPEN_METEO.md §6)."""

    url: str = "https://api.open-meteo.com/v1/forecast"
    api_key: SecretStr | None = None
    batch_size: int = Field(default=100, ge=1, le=1000)
    timeout_s: float = 30.0
    calls_per_minute: float = Field(default=600, gt=0)
    calls_per_hour: float = Field(default=5000, gt=0)
    calls_per_day: float = Field(default=10000, gt=0)
    max_retries: int = Field(default=5, ge=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_pause_s: float = 60.0
    max_url_chars: int = Field(default=8000, ge=256)  # longer GET URLs are sent as POST
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_wait_s: float = 120.0  # longest pause for the budget/429s before giving up a batch

    _durations = field_validator(
        "timeout_s", "breaker_pause_s", "backoff_base_s", "backoff_max_s", "max_wait_s",
        mode="before",
    )(_positive_duration)


class CollectSettings(_Section):
    interval_s: float = 300.0
    history_days: int = Field(default=7, ge=1, le=92)
    stream_maxlen: int = Field(default=2_000_000, ge=1000)
    lock_ttl_s: float = 900.0

    _durations = field_validator("interval_s", "lock_ttl_s", mode="before")(_positive_duration)


class StoreSettings(_Section):
    """`batch_size` caps entries per read; `batch_rows` is the samples per batch the reader
    aims for (entries vary from 5 to 840+ samples), which keeps memory flat."""

    group: str = "store"
    batch_size: int = Field(default=500, ge=1)
    batch_rows: int = Field(default=40_000, ge=1)
    block_s: float = 2.0
    claim_idle_s: float = 60.0
    max_deliveries: int = Field(default=20, ge=2)
    summary_every_s: float = 30.0
    heartbeat_every_s: float = 15.0
    retry_max_s: float = 30.0

    _durations = field_validator(
        "block_s", "claim_idle_s", "summary_every_s", "heartbeat_every_s", "retry_max_s",
        mode="before",
    )(_positive_duration)


class RuleSettings(_Section):
    """A heuristic rule (SEED.md): flag a sample of metric_type when `value <op> threshold`
    has held for the last `min_run` samples in a row."""

    metric_type: str
    operator: Literal["<", "<=", ">", ">=", "=="]
    threshold: float
    severity: Literal["low", "medium", "high"] = "high"
    min_run: int = Field(default=1, ge=1)

    @field_validator("metric_type")
    @classmethod
    def _known(cls, metric: str) -> str:
        if metric not in KNOWN_METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        return metric


DEFAULT_RULES: tuple[RuleSettings, ...] = (
    RuleSettings(metric_type="temperature_2m", operator="<", threshold=-40.0),
    RuleSettings(metric_type="temperature_2m", operator=">", threshold=60.0),
    RuleSettings(metric_type="relative_humidity_2m", operator="==", threshold=0.0),
    # Saturation is normal in fog and rain; a sensor stuck at 100 % for a whole day is not.
    RuleSettings(metric_type="relative_humidity_2m", operator="==", threshold=100.0,
                 severity="low", min_run=24),
    RuleSettings(metric_type="precipitation", operator="<", threshold=0.0),
    RuleSettings(metric_type="wind_speed_10m", operator=">", threshold=200.0),
)


class DetectSettings(_Section):
    interval_s: float = 600.0
    lookback_days: int = Field(default=7, ge=1, le=90)  # the classic z-score's window (SEED.md)
    # The seasonal baseline's history: two weeks, so that its scales have seen more than one
    # weather regime (see bench/eval_detection.py).
    seasonal_days: int = Field(default=14, ge=2, le=90)
    method: Literal["seasonal", "classic", "iforest", "hybrid"] = "hybrid"
    z_threshold: float = Field(default=6.0, gt=0)  # short residual, see bench/eval_detection.py
    classic_z_threshold: float = Field(default=2.0, gt=0)
    batch_locations: int = Field(default=500, ge=1)
    ml_timeout_s: float = 60.0
    lock_ttl_s: float = 1800.0
    rules: tuple[RuleSettings, ...] = DEFAULT_RULES
    # Scale-out: the detect_jobs consumer group every `preempt detect` process joins.
    group: str = "detect"
    block_s: float = 1.0
    claim_idle_s: float = 120.0  # a job pending this long belongs to a dead worker: take it
    max_deliveries: int = Field(default=5, ge=1)
    # A series never judged before: judge its last `initial_judge_s` (the rest is history).
    initial_judge_s: float = 86400.0
    # When the ML model of a series was retrained, look again at this much recent data.
    rescan_s: float = 86400.0
    heartbeat_every_s: float = 15.0

    _durations = field_validator(
        "interval_s", "ml_timeout_s", "lock_ttl_s", "block_s", "claim_idle_s",
        "initial_judge_s", "rescan_s", "heartbeat_every_s", mode="before",
    )(_positive_duration)


class MLSettings(_Section):
    models_dir: Path = Path("var/ml_models")
    max_model_age_s: float = 86400.0
    # Isolation Forest size and calibration: the detection core's defaults (issue 5's eval).
    n_estimators: int = Field(default=64, ge=10)
    max_samples: int = Field(default=64, ge=8)
    contamination: float = Field(default=0.002, gt=0, lt=0.5)
    seed: int = 42
    group: str = "ml-trainer"
    # Models are stored per bucket of location ids (location_id // bucket_locations): one file
    # holds the forests of every metric of those locations; detect's jobs never split a bucket.
    bucket_locations: int = Field(default=100, ge=1)
    # Retrain when the history's median moved by more than this many robust deviations.
    shift_threshold: float = Field(default=1.5, gt=0)
    block_s: float = 1.0
    claim_idle_s: float = 60.0  # a job pending this long belongs to a dead worker: take it
    max_deliveries: int = Field(default=5, ge=1)
    output_maxlen: int = Field(default=20_000, ge=100)
    heartbeat_every_s: float = 15.0
    cache_buckets: int = Field(default=400, ge=1)  # model files kept in memory per worker

    _durations = field_validator(
        "max_model_age_s", "block_s", "claim_idle_s", "heartbeat_every_s", mode="before"
    )(_positive_duration)


class SuggestSettings(_Section):
    min_anomalies: int = Field(default=3, ge=1)
    lookback_days: int = Field(default=7, ge=1, le=90)
    max_normal_fire_rate: float = Field(default=0.01, gt=0, lt=1)


class ApiToken(_Section):
    """One API bearer token, stored as the SHA-256 hex digest of the token (never the token).

    Make one with `preempt server token --name NAME --role ROLE`.
    """

    name: str = Field(min_length=1, max_length=64)
    role: Literal["admin", "editor", "viewer"]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AuthSettings(_Section):
    """Access control: writes need a token (editor or admin); reads need one only when closed."""

    reads_open: bool = True
    tokens: tuple[ApiToken, ...] = ()

    @field_validator("tokens")
    @classmethod
    def _unique_names(cls, tokens: tuple[ApiToken, ...]) -> tuple[ApiToken, ...]:
        names = [t.name for t in tokens]
        if len(set(names)) != len(names):
            raise ValueError("two tokens share a name")
        return tokens


class ServerSettings(_Section):
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    cors_origins: tuple[str, ...] = ()
    max_limit: int = Field(default=1000, ge=1)
    auth: AuthSettings = AuthSettings()
    static_dir: Path = Path("frontend/dist")
    events_poll_s: float = 2.0
    health_timeout_s: float = 2.0

    _durations = field_validator("events_poll_s", "health_timeout_s", mode="before")(
        _positive_duration
    )


class AlarmChannelSettings(_Section):
    """One notification channel: a generic webhook, an Alertmanager-compatible receiver,
    a Slack-compatible incoming webhook, or email over SMTP. `default` channels are used by
    every rule that names none."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    kind: Literal["webhook", "alertmanager", "slack", "email"]
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    default: bool = True
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    email_from: str = "preempt@localhost"
    email_to: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        return url

    @model_validator(mode="after")
    def _complete(self) -> AlarmChannelSettings:
        if self.kind == "email" and not self.email_to:
            raise ValueError(f"channel {self.name!r}: email needs email_to")
        if self.kind != "email" and not self.url:
            raise ValueError(f"channel {self.name!r}: {self.kind} needs url")
        return self


class AlarmRetrySettings(_Section):
    """Delivery retries: attempt n waits min(backoff_base_s * 2**(n-1), backoff_max_s)."""

    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    timeout_s: float = 10.0

    _durations = field_validator("backoff_base_s", "backoff_max_s", "timeout_s", mode="before")(
        _positive_duration
    )


class AlarmSettings(_Section):
    """The alarms service: evaluation cadence, notification channels, retries, dashboard link."""

    interval_s: float = 10.0
    batch_rows: int = Field(default=50_000, ge=1)
    max_sample_age_s: float = 7200.0  # older samples (history back-fills) are not evaluated
    dashboard_url: str = "http://localhost:8080"
    channels: tuple[AlarmChannelSettings, ...] = ()
    retry: AlarmRetrySettings = AlarmRetrySettings()
    unhealthy_after_failures: int = Field(default=3, ge=1)
    worker_poll_s: float = 1.0
    claim_timeout_s: float = 120.0
    heartbeat_every_s: float = 15.0
    prometheus_metric_prefix: str = Field(default="weather_", pattern=r"^[a-zA-Z_:][\w:]*$")

    _durations = field_validator(
        "interval_s", "max_sample_age_s", "worker_poll_s", "claim_timeout_s",
        "heartbeat_every_s", mode="before",
    )(_positive_duration)

    @field_validator("channels")
    @classmethod
    def _unique_channels(
        cls, channels: tuple[AlarmChannelSettings, ...]
    ) -> tuple[AlarmChannelSettings, ...]:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError("two channels share a name")
        return channels


class Settings(_Section):
    """Everything a service needs; `database_url`/`redis_url` come from the environment."""

    database_url: str
    redis_url: str | None
    redis_prefix: str = ""
    config_path: Path | None = None
    weather: WeatherSettings = WeatherSettings()
    openmeteo: OpenMeteoSettings = OpenMeteoSettings()
    collect: CollectSettings = CollectSettings()
    store: StoreSettings = StoreSettings()
    detect: DetectSettings = DetectSettings()
    ml: MLSettings = MLSettings()
    suggest: SuggestSettings = SuggestSettings()
    server: ServerSettings = ServerSettings()
    alarms: AlarmSettings = AlarmSettings()

    @property
    def is_embedded_db(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def monitored_fields(self) -> tuple[str, ...]:
        return self.weather.monitored_fields


MYSQL_DRIVERS: tuple[str, ...] = ("mysqldb", "pymysql")


def default_mysql_driver() -> str:
    """mysqlclient ('mysqldb', C) when installed, else PyMySQL (pure Python, always there).

    The C driver parses result rows ~3x faster, which an API under read load feels (bench_api:
    GET /metrics p99 at 16 clients 48 ms against 53 ms with PyMySQL); it needs the MariaDB client
    library, so it is an extra ('.[mysqlclient]'), installed in the Docker image.
    """
    return "mysqldb" if importlib.util.find_spec("MySQLdb") is not None else "pymysql"


def database_url_from_env(env: Mapping[str, str], *, var_dir: Path) -> str:
    """PREEMPT_DATABASE_URL, else DB_HOST & co. (MySQL/MariaDB), else SQLite in var_dir."""
    if url := env.get("PREEMPT_DATABASE_URL"):
        return url
    host = env.get("DB_HOST")
    if not host:
        return f"sqlite:///{var_dir / 'preempt.db'}"
    driver = env.get("PREEMPT_DB_DRIVER") or default_mysql_driver()
    if driver not in MYSQL_DRIVERS:
        raise ConfigError(
            f"PREEMPT_DB_DRIVER={driver!r} is not a MySQL driver Preempt knows: "
            f"{' or '.join(MYSQL_DRIVERS)}"
        )
    user = quote_plus(env.get("DB_USER", "root"))
    password = env.get("DB_PASSWORD", "")
    auth = f"{user}:{quote_plus(password)}" if password else user
    port = _port(env, "DB_PORT", "3306")
    name = env.get("DB_NAME", "preempt")
    return f"mysql+{driver}://{auth}@{host}:{port}/{name}?charset=utf8mb4"


def redis_url_from_env(env: Mapping[str, str]) -> str | None:
    """PREEMPT_REDIS_URL, else REDIS_HOST/REDIS_PORT(/REDIS_DB/REDIS_PASSWORD), else None."""
    if url := env.get("PREEMPT_REDIS_URL"):
        return url
    host = env.get("REDIS_HOST")
    if not host:
        return None
    port = _port(env, "REDIS_PORT", "6379")
    password = env.get("REDIS_PASSWORD")
    auth = f":{quote_plus(password)}@" if password else ""
    return f"redis://{auth}{host}:{port}/{env.get('REDIS_DB', '0')}"


def _port(env: Mapping[str, str], key: str, default: str) -> int:
    raw = env.get(key, default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{key}={raw!r} is not a port number (1-65535)")
    return int(raw)


def load_settings(
    config_path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from config.yaml (or PREEMPT_CONFIG) and the environment.

    Raises ConfigError with one line naming the offending key on any problem.
    """
    env = os.environ if env is None else env
    if config_path is None and env.get("PREEMPT_CONFIG"):
        config_path = Path(env["PREEMPT_CONFIG"])
    if config_path is None and Path("config.yaml").is_file():
        config_path = Path("config.yaml")
    data = _read_yaml(config_path) if config_path else {}
    var_dir = Path(env.get("PREEMPT_VAR_DIR", "var"))
    data["database_url"] = database_url_from_env(env, var_dir=var_dir)
    data["redis_url"] = redis_url_from_env(env)
    data["redis_prefix"] = env.get("PREEMPT_REDIS_PREFIX", "")
    data["config_path"] = config_path
    if url := env.get("OPEN_METEO_URL"):
        data.setdefault("openmeteo", {})["url"] = url
    if key := env.get("OPEN_METEO_API_KEY"):
        data.setdefault("openmeteo", {})["api_key"] = key
    if models := env.get("PREEMPT_MODELS_DIR"):
        data.setdefault("ml", {})["models_dir"] = models
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc, config_path)) from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: cannot parse YAML{where}: {problem}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        kind = type(loaded).__name__
        raise ConfigError(f"{path}: top level must be a mapping of sections, not {kind}")
    return loaded


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _first_error(exc: ValidationError, path: Path | None) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown setting"
    source = f"{path}: " if path else ""
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{source}invalid config key '{key}': {msg}{more}"
