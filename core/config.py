"""Settings, built once per entry point and passed down (never a module-level singleton)."""

from __future__ import annotations

import json
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


class DecodeSandbox(BaseModel):
    """Limits of the child process that probes and decodes untrusted media (core/sandbox.py):
    address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU) and a wall-clock timeout."""

    enabled: bool = True
    memory_mb: int = Field(default=6144, gt=0)  # the largest clip the limits allow fits
    cpu_s: int = Field(default=60, gt=0)
    timeout_s: float = Field(default=90.0, gt=0)


# The dev default is public (it is in this file); production refuses to start with it.
DEV_LINK_SECRET = "swapzy-dev-link-secret-not-for-production"
DEV_BILLING_REFERENCE_SECRET = "swapzy-dev-billing-reference-not-for-production"


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
    engine: Literal["classic", "noop", "facefusion", "comfyui"] = "classic"
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
    # Template gallery (jobs/templates.py): a folder of *.gif templates; None: a few built-in
    # ones, generated on first use under data_dir/templates.
    templates_dir: Path | None = None
    # --- Billing and entitlements (billing/, issue 6) ---
    # Stripe: the secret API key (sk_...), the webhook signing secret (whsec_...), and where the
    # SDK sends its calls (a local fake in tests). Empty key: billing off (everyone is Free).
    stripe_api_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_api_url: str = "https://api.stripe.com"
    # Payment Link URL per paid plan ({"pro": "https://buy.stripe.com/..."}).
    stripe_payment_links: dict[str, str] = {}
    # The same links' ids ({"pro": "plink_..."}): when set, only checkouts through them count.
    stripe_payment_link_ids: dict[str, str] = {}
    # Signs the client_reference_id that ties a checkout to a user (production: long, random).
    billing_reference_secret: SecretStr = SecretStr(DEV_BILLING_REFERENCE_SECRET)
    free_swaps_per_day: int = Field(default=5, ge=0)
    pro_swaps_per_month: int = Field(default=300, ge=0)
    # --- Discord (bots/discord/, issue 7) ---
    # The bot runs when the token is set. The API URL is Discord's unless pointed elsewhere (a
    # local fake in tests); the gateway address comes from its /gateway/bot.
    discord_token: SecretStr = SecretStr("")
    discord_api_url: str = "https://discord.com/api/v10"
    # --- Audit log and input hardening (core/audit.py, issue 8) ---
    # Anchors of the audit log's head ({seq, hash, time}): an append-only local folder
    # (default: data_dir/audit-anchors) or S3 with Object Lock in compliance mode (production;
    # the bucket must have Object Lock enabled). Anchored every N rows and every hour.
    audit_anchor_backend: Literal["local", "s3"] = "local"
    audit_anchor_dir: Path | None = None
    audit_anchor_bucket: str = ""
    audit_anchor_prefix: str = "audit-anchors/"
    audit_anchor_endpoint_url: str | None = None  # None: storage.s3_endpoint_url (moto in tests)
    audit_anchor_retention_days: int = Field(default=2555, gt=0)  # compliance-mode lock (~7 y)
    audit_anchor_every_rows: int = Field(default=1000, gt=0)
    audit_anchor_every_s: float = Field(default=3600.0, gt=0)
    # `swapzy audit verify|anchor` connects with this (the read-only anchor role); empty:
    # database_url. db_anchor_role: the PostgreSQL role migrations grant SELECT on audit_log only.
    audit_database_url: str = ""
    db_anchor_role: str = ""
    # Untrusted media is probed and decoded in a child process with these limits.
    decode_sandbox: DecodeSandbox = DecodeSandbox()
    # --- GPU engines and the model registry (gpu_worker/engines/, issue 9) ---
    # Model cache (default data_dir/models). Offline: never download; a missing model fails
    # with the `swapzy models fetch NAME` command that gets it.
    models_dir: Path | None = None
    models_offline: bool = False
    # Where models are downloaded from instead of FaceFusion's GitHub releases (same layout).
    models_mirror: str = ""
    # Pro (paid) jobs refuse models whose licence forbids commercial use unless this is set.
    allow_noncommercial_models: bool = False
    facefusion_detector: str = "yoloface_8n"
    facefusion_landmarker: str = ""  # "2dfan4": 68-point refinement; empty: the detector's 5
    facefusion_embedder: str = "arcface_w600k_r50"
    facefusion_swapper: str = "inswapper_128"  # or hyperswap_1a_256
    facefusion_enhancer: str = ""  # "gfpgan_1.4"; empty: none
    # onnxruntime providers, tried in this order; TensorRT engines are cached under models_dir.
    facefusion_providers: tuple[Literal["tensorrt", "cuda", "cpu"], ...] = (
        "tensorrt",
        "cuda",
        "cpu",
    )
    facefusion_batch: int = Field(default=8, ge=1)  # frames per model call where it allows
    comfyui_url: str = "http://127.0.0.1:8188"
    comfyui_workflow: str = "stylized_swap"  # a JSON template in gpu_worker/engines/comfyui/
    comfyui_timeout_s: float = Field(default=300.0, gt=0)
    # When the chosen GPU engine is unavailable, refused or fails its identity check.
    engine_fallback: Literal["classic", "none"] = "classic"
    engine_min_identity: float = Field(default=0.3, ge=-1.0, le=1.0)  # cosine, sample frames
    # --- Web companion (web/ pages, issue 5) ---
    # Signs session cookies, CSRF tokens and sign-in links. Empty: derived from
    # storage.link_secret (whose public default production refuses), domain-separated.
    web_session_secret: SecretStr = SecretStr("")
    web_session_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)
    web_login_ttl_s: int = Field(default=600, gt=0)  # one-time sign-in links from the bots
    # Form posts (uploads, reports, sign-ins) per client IP and per signed-in user, per window.
    web_rate_per_ip: int = Field(default=20, gt=0)
    web_rate_per_user: int = Field(default=10, gt=0)
    web_rate_window_s: int = Field(default=60, gt=0)
    # A whole upload request (GIF + face + fields); each file is also held to limits.
    web_max_request_bytes: int = Field(default=45 * 1024 * 1024, gt=0)

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
        if self.env == "production":
            _refuse_test_billing(self)
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
    def audit_anchor_folder(self) -> Path:
        """Where the local anchor store keeps its files (issue 8)."""
        return self.audit_anchor_dir or self.data_dir / "audit-anchors"

    @property
    def run_dir(self) -> Path:
        """Where `swapzy up` leaves the addresses of what it started (for `swapzy submit`)."""
        return self.data_dir / "run"


def _refuse_test_billing(settings: Settings) -> None:
    """Production with billing on: live Stripe secrets and a private reference secret only."""
    key = settings.stripe_api_key.get_secret_value()
    if not key and not settings.stripe_payment_links:
        return  # billing off
    if not key.startswith(("sk_live_", "rk_live_")):
        raise ValueError("SWAPZY_STRIPE_API_KEY must be a live key (sk_live_...) in production.")
    if not settings.stripe_webhook_secret.get_secret_value().startswith("whsec_"):
        raise ValueError("SWAPZY_STRIPE_WEBHOOK_SECRET must be the endpoint's whsec_... secret.")
    if any("/test_" in url for url in settings.stripe_payment_links.values()):
        raise ValueError("SWAPZY_STRIPE_PAYMENT_LINKS holds a test-mode link; use live links.")
    ref = settings.billing_reference_secret.get_secret_value()
    if ref == DEV_BILLING_REFERENCE_SECRET or len(ref) < 32:
        raise ValueError(
            "SWAPZY_BILLING_REFERENCE_SECRET is the public development default or too short; "
            "set a long random secret for production."
        )


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
                env[f"SWAPZY_{key.upper()}__{sub.upper()}"] = _env_value(v)
        else:
            env[f"SWAPZY_{key.upper()}"] = _env_value(value)
    return env


def _env_value(value: Any) -> str:
    """As pydantic-settings reads it: JSON for lists and mappings, plain text otherwise."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)
