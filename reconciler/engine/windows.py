"""Maintenance windows: when may a disruptive change run without ``--allow-disruption``? Pure: the
caller passes the clock."""

from __future__ import annotations

import datetime
import zoneinfo

from reconciler.core.resources import MaintenanceWindow

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def is_open(window: MaintenanceWindow, now: datetime.datetime) -> bool:
    """True when ``now`` (timezone-aware) falls inside a window that starts on one of its days at its
    local start time; windows may run past midnight (Sat 22:00 for 4h ends Sun 02:00). The duration is
    elapsed time, also across a daylight-saving change."""
    local = now.astimezone(zoneinfo.ZoneInfo(window.timezone))
    hour, minute = (int(x) for x in window.start.split(":"))
    span = datetime.timedelta(seconds=window.duration_s)
    # A window that started up to `span` ago may still be open: look back as many days as it lasts.
    for back in range(span.days + 2):
        day = (local - datetime.timedelta(days=back)).date()
        if DAYS[day.weekday()] not in window.days:
            continue
        start = datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=local.tzinfo)
        # In UTC: aware datetimes sharing a tzinfo compare and add in wall time, which would stretch or
        # shrink a window by an hour across a daylight-saving change.
        begins = start.astimezone(datetime.UTC)
        if begins <= now.astimezone(datetime.UTC) < begins + span:
            return True
    return False
