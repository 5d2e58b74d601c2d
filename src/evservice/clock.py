"""An injectable clock. All times are timezone-aware.

Logic takes a :class:`Clock` (or a ``for_time``) instead of calling ``now()``
deep inside, so tests can move time. Dates printed on invoices are Vietnam
local dates: use :func:`vn_date`.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from evservice.errors import ValidationError

__all__ = ["VN_TZ", "Clock", "ManualClock", "SystemClock", "ensure_aware", "vn_date"]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    """Anything with a ``now()`` that returns an aware datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (for tests and replays)."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **kwargs: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = ensure_aware(when)


def ensure_aware(when: datetime) -> datetime:
    """Reject naive datetimes: a time without a zone is a bug waiting to happen."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValidationError("time", "must be timezone-aware (a datetime with a zone)")
    return when


def vn_date(when: datetime) -> date:
    """The calendar date in Vietnam (Asia/Ho_Chi_Minh) at the instant ``when``."""
    return ensure_aware(when).astimezone(VN_TZ).date()
