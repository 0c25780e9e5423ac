"""Tables of the audit log (issue 8).

Same rules as ``core.db.models``: portable types, UTC times, stable constraint names.
"""

from __future__ import annotations

from core.db.models import Base

__all__ = ["Base"]
