"""Settings, built once per entry point and passed down (never a module-level singleton)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError


class MediaLimits(BaseModel):
    """What an upload may be. Checked before anything is decoded in full."""

    max_file_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_frames: int = Field(default=300, gt=0)
    max_frame_pixels: int = Field(default=40_000_000, gt=0)
    # Frames x pixels per frame: what decoding holds in memory (~4 bytes a pixel). A few KB of
    # GIF can declare 300 frames of 36 Mpx each; this refuses it before anything is decoded.
    max_total_pixels: int = Field(default=400_000_000, gt=0)
    max_duration_s: float = Field(default=60.0, gt=0)


# The dev default is public (it is in this file); production refuses to start with it.
DEV_LINK_SECRET = "swapzy-dev-link-secret-not-for-production"


class StorageSettings(BaseModel):
    """Where media lives and how links to it are made.

    ``local``: a folder under ``data_dir``; links are HMAC-signed, expiring URLs served by the web
    app (``public_url``). ``s3``: a bucket; links are CloudFront signed URLs when ``cloudfront_*``
    is set, else S3 presigned URLs.
    """

    backend: Literal["local", "s3"] = "local"
    local_dir: Path | None = None  # default: data_dir / "media"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None  # moto / MinIO in tests; None = AWS
    s3_region: str = "us-east-1"
    cloudfront_domain: str = ""  # e.g. d111111abcdef8.cloudfront.net
    cloudfront_key_pair_id: str = ""
    cloudfront_private_key_path: Path | None = None
    link_secret: SecretStr = SecretStr(DEV_LINK_SECRET)
    link_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)


class WorkerSettings(BaseModel):
    """How a worker runs jobs."""

    # Drained in this order; a free-only worker: ["free"].
    lanes: tuple[Literal["pro", "free"], ...] = Field(default=("pro", "free"), min_length=1)
    slots: int = Field(default=1, ge=1)  # clips at once per worker process
    job_timeout_s: int = Field(default=600, gt=0)
    max_attempts: int = Field(default=3, ge=1)  # a job that crashed a worker this often fails
    retry_backoff_s: float = Field(default=2.0, ge=0)  # doubled per attempt
    heartbeat_s: float = Field(default=5.0, gt=0)  # running jobs touch the DB this often
    stale_after_s: float = Field(default=30.0, gt=0)  # no heartbeat this long: the worker died
    sweep_every_s: float = Field(default=10.0, gt=0)
    noop_frame_delay_ms: float = Field(default=0.0, ge=0)  # the `noop` engine (bench, drills)


class Settings(BaseSettings):
    """Every knob of Swapzy. Environment variables use the ``SWAPZY_`` prefix; ``.env`` is read.

    Nested values use ``__``: ``SWAPZY_LIMITS__MAX_FRAMES=120``.
    """

    model_config = SettingsConfigDict(
        env_prefix="SWAPZY_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path("var")
    engine: Literal["classic", "noop"] = "classic"
    limits: MediaLimits = MediaLimits()
    max_faces_per_frame: int = Field(default=4, ge=1, le=16)
    # Empty: SQLite at data_dir/swapzy.db. Production: postgresql://app_role@host/db (rows only).
    database_url: str = ""
    # `swapzy db upgrade` connects with this one (the schema owner); empty: database_url.
    migrate_database_url: str = ""
    # PostgreSQL role the app connects as; migrations grant it row access (SELECT, INSERT,
    # UPDATE, DELETE) on every table they create. Empty: no grants.
    db_app_role: str = ""
    # Empty: `swapzy up` starts an embedded Valkey; other commands find it in data_dir/run.
    redis_url: str = ""
    public_url: str = "http://127.0.0.1:8000"  # where the web app is reached (links point here)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    storage: StorageSettings = StorageSettings()
    worker: WorkerSettings = WorkerSettings()
    # Telegram: the bot runs when the token is set. An API URL other than Telegram's cloud (a
    # self-hosted Bot API server) lifts the 20 MB download / 50 MB upload limits.
    telegram_token: SecretStr = SecretStr("")
    telegram_api_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")  # set: webhook mode on the web app
    # Who may use the admin pages and `swapzy admin`: platform identities such as
    # "telegram:12345" or "discord:67890" (SWAPZY_ADMINS='["telegram:12345"]').
    admins: tuple[str, ...] = ()
    # --- Billing and entitlements (billing/, issue 6) ---
    # --- Discord (bots/discord/, issue 7) ---
    # --- Web companion (web/ pages, issue 5) ---

    @property
    def telegram_limits(self) -> tuple[int, int]:
        """(download, upload) bytes the Bot API allows."""
        if self.telegram_api_url and "api.telegram.org" not in self.telegram_api_url:
            return 2000 * 1024 * 1024, 2000 * 1024 * 1024
        return 20 * 1024 * 1024, 50 * 1024 * 1024

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production" and (
            self.storage.link_secret.get_secret_value() == DEV_LINK_SECRET
        ):
            raise ValueError(
                "SWAPZY_STORAGE__LINK_SECRET is still the public development default; "
                "set a long random secret for production."
            )
        if self.telegram_webhook_secret.get_secret_value() and not self.public_url.startswith(
            "https://"
        ):
            raise ValueError(
                "Telegram only calls https webhooks: set SWAPZY_PUBLIC_URL to the https address "
                "of the web app (or unset SWAPZY_TELEGRAM_WEBHOOK_SECRET to poll instead)."
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL the app uses (SQLite under data_dir when none is set)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'swapzy.db'}"

    @property
    def media_dir(self) -> Path:
        return self.storage.local_dir or self.data_dir / "media"

    @property
    def run_dir(self) -> Path:
        """Where `swapzy up` leaves the addresses of what it started (for `swapzy submit`)."""
        return self.data_dir / "run"


def load_settings(**overrides: object) -> Settings:
    """Build the settings for one entry point (environment, ``.env``, then explicit overrides).
    Raises ``ConfigError`` naming the variable and what is wrong with it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    path = [str(p) for p in first["loc"] if not isinstance(p, int)]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ").rstrip(".")
    if not path:
        return f"{message}{more}."
    name = "SWAPZY_" + "__".join(p.upper() for p in path)
    return f"Invalid setting {name}: {message}{more}."


def to_environment(values: dict[str, Any], base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without its SWAPZY_ variables, plus the ones that give ``values`` (a dict of
    settings, nested one level as ``{"worker": {"slots": 2}}``): how a child process is told."""
    env = {k: v for k, v in base.items() if not k.startswith("SWAPZY_")}
    for key, value in values.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                env[f"SWAPZY_{key.upper()}__{sub.upper()}"] = str(v)
        else:
            env[f"SWAPZY_{key.upper()}"] = str(value)
    return env
