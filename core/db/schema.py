"""The whole schema: every table module imported, so ``metadata`` holds every table (Alembic's
autogenerate compare and the schema test use it)."""

from __future__ import annotations

from core.db import audit_models, billing_models, discord_models, models, web_models

metadata = models.Base.metadata

__all__ = ["audit_models", "billing_models", "discord_models", "metadata", "web_models"]
