"""The plans, as data: what each allows (swaps per period, clip length, resolution, watermark,
lane, formats). Quotas come from settings so an operator can tune them without a release."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.config import Settings
from core.db.models import Lane

FREE = "free"
PRO = "pro"
ALL_FORMATS = ("gif", "mp4", "webp")


@dataclass(frozen=True)
class Plan:
    name: str  # free | pro (the value of ``User.plan``)
    title: str
    swaps: int  # swaps per period
    period: Literal["day", "month"]
    max_frames: int  # longest clip, in frames
    max_side: int | None  # longest side of the output in pixels; None: as the input
    watermark: bool  # a small visible "swapzy" mark on every frame
    lane: Lane
    formats: tuple[str, ...]

    def period_key(self, now: datetime) -> str:
        """The quota period ``now`` falls in (UTC): "2026-11-28" for a day, "2026-11" a month."""
        return now.strftime("%Y-%m-%d" if self.period == "day" else "%Y-%m")

    def used_up_message(self) -> str:
        if self.name == FREE:
            return (
                f"You've used your {self.swaps} free swaps today. "
                "Get /pro for more, or try again tomorrow."
            )
        return f"You've used your {self.swaps} Pro swaps this month. They renew next month."


def plans(settings: Settings) -> dict[str, Plan]:
    """Every plan by name, with this deployment's quotas."""
    max_frames = settings.limits.max_frames
    return {
        FREE: Plan(
            name=FREE,
            title="Free",
            swaps=settings.free_swaps_per_day,
            period="day",
            max_frames=min(100, max_frames),
            max_side=480,
            watermark=True,
            lane=Lane.FREE,
            formats=ALL_FORMATS,
        ),
        PRO: Plan(
            name=PRO,
            title="Pro",
            swaps=settings.pro_swaps_per_month,
            period="month",
            max_frames=max_frames,
            max_side=1080,
            watermark=False,
            lane=Lane.PRO,
            formats=ALL_FORMATS,
        ),
    }
