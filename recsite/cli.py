"""Helpers shared by the management commands."""

from __future__ import annotations

import argparse
import datetime as dt


def iso_time(value: str) -> dt.datetime:
    """An ISO 8601 date or time as an aware datetime (UTC when it names no zone).

    Used as an argparse `type=`: a bad value becomes a usage error naming the option.
    """
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
