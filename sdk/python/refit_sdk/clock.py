"""Timestamps in the one format Refit records: ISO-8601, UTC, with a trailing Z."""

from datetime import datetime, timezone


def utc_now_iso() -> str:
    # isoformat() writes "+00:00" for UTC; Refit's readers (and most log tools) expect the shorter "Z".
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
