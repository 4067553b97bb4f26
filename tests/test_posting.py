"""Best posting times: study labels, DST-aware conversion, time-zone errors."""

from __future__ import annotations

import re
from datetime import date

import pytest

from pipeline.errors import OptionsError
from pipeline.platforms import HOOTSUITE, ICONOSQUARE, PLATFORM_KEYS, SPROUT, get_spec
from pipeline.posting import best_times

WINTER = date(2026, 1, 14)  # PST (UTC-8), CET (UTC+1)
US_ONLY_DST = date(2026, 3, 18)  # US on PDT since 8 March, Europe still on CET until 29 March
SUMMER = date(2026, 7, 15)  # PDT (UTC-7), CEST (UTC+2)


def hootsuite(platform: str, tz: str, on: date):
    times = best_times(get_spec(platform), tz, limit=10, on=on)
    return [t for t in times if t.study == HOOTSUITE]


def test_every_platform_gets_labelled_times() -> None:
    for key in PLATFORM_KEYS:
        times = best_times(get_spec(key), "UTC")
        assert 1 <= len(times) <= 3
        for t in times:
            assert re.search(r"\b20\d\d\b", t.study)  # study named with its year
            assert t.timezone == "UTC"
            assert t.study in t.label() and "UTC" in t.label()


def test_local_time_studies_are_not_shifted() -> None:
    times = best_times(get_spec("instagram"), "America/New_York", limit=10, on=WINTER)
    sprout_monday = [t for t in times if t.study == SPROUT and t.day == "Monday"]
    assert [(t.start, t.end) for t in sprout_monday] == [("10:00", "12:00")]
    assert any(t.study == ICONOSQUARE for t in times)


def test_hootsuite_pacific_times_convert_across_dst() -> None:
    # Instagram: Hootsuite says Monday 9am Pacific
    winter = hootsuite("instagram", "Europe/Berlin", WINTER)
    assert [(t.day, t.start, t.end) for t in winter] == [("Monday", "18:00", "19:00")]
    gap = hootsuite("instagram", "Europe/Berlin", US_ONLY_DST)
    assert [(t.day, t.start, t.end) for t in gap] == [("Monday", "17:00", "18:00")]
    summer = hootsuite("instagram", "Europe/Berlin", SUMMER)
    assert [(t.day, t.start) for t in summer] == [("Monday", "18:00")]
    # across midnight: Tokyo has no DST, so the Pacific change shows directly
    tokyo_winter = hootsuite("instagram", "Asia/Tokyo", WINTER)
    tokyo_summer = hootsuite("instagram", "Asia/Tokyo", SUMMER)
    assert [(t.day, t.start) for t in tokyo_winter] == [("Tuesday", "02:00")]
    assert [(t.day, t.start) for t in tokyo_summer] == [("Tuesday", "01:00")]
    la = hootsuite("instagram", "America/Los_Angeles", SUMMER)
    assert [(t.day, t.start) for t in la] == [("Monday", "09:00")]


def test_limit_mixes_studies_and_sorts_by_week() -> None:
    times = best_times(get_spec("instagram"), "UTC", limit=3, on=WINTER)
    assert len(times) == 3
    assert {t.study for t in times} == {SPROUT, ICONOSQUARE, HOOTSUITE}
    order = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    keys = [(order.index(t.day), t.start) for t in times]
    assert keys == sorted(keys)
    assert best_times(get_spec("x"), "UTC", limit=0) == []


@pytest.mark.parametrize("bad", ["Mars/Olympus", "Europe/Berlinn", "../etc/passwd", "+25:00"])
def test_unknown_timezone(bad: str) -> None:
    with pytest.raises(OptionsError) as err:
        best_times(get_spec("x"), bad)
    assert err.value.code == "UNKNOWN_TIMEZONE"
    assert "Europe/Berlin" in err.value.message


def test_utc_aliases() -> None:
    assert best_times(get_spec("x"), "utc", on=WINTER)[0].timezone == "UTC"
