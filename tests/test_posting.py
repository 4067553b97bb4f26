"""Best posting times: audience-local hours, study labels, time-zone errors."""

from __future__ import annotations

import re

import pytest

from pipeline.errors import OptionsError
from pipeline.platforms import HOOTSUITE, ICONOSQUARE, PLATFORM_KEYS, SPROUT, get_spec
from pipeline.posting import best_times, no_study_note

ZONES = ("UTC", "Europe/Moscow", "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati")


def test_every_platform_gets_labelled_times() -> None:
    for key in PLATFORM_KEYS:
        times = best_times(get_spec(key), "UTC")
        if not get_spec(key).posting_windows:  # no dated study: none, and it says so
            assert times == [] and "no dated study" in no_study_note(get_spec(key)).lower()
            continue
        assert no_study_note(get_spec(key)) == ""
        assert 1 <= len(times) <= 3
        for t in times:
            assert re.search(r"\b20\d\d\b", t.study)  # study named with its year
            assert t.timezone == "UTC"
            assert t.study in t.label() and "UTC" in t.label()


@pytest.mark.parametrize("zone", ZONES)
def test_study_hours_are_hours_of_the_audiences_day(zone: str) -> None:
    """The same local hours in every zone: a study's hours are never converted between zones."""
    for key in (k for k in PLATFORM_KEYS if get_spec(k).posting_windows):
        here = best_times(get_spec(key), zone, limit=20)
        utc = best_times(get_spec(key), "UTC", limit=20)
        assert [(t.day, t.start, t.end, t.study) for t in here] == [
            (t.day, t.start, t.end, t.study) for t in utc
        ]
        assert {t.timezone for t in here} == {zone}


def test_moscow_linkedin_is_not_told_to_post_at_midnight() -> None:
    # Hootsuite 2023: LinkedIn Monday 1pm in the audience's day (it was converted from Pacific
    # time before, which put it at 00:00 in Moscow).
    times = best_times(get_spec("linkedin"), "Europe/Moscow", limit=10)
    hootsuite = [(t.day, t.start, t.end) for t in times if t.study == HOOTSUITE]
    assert hootsuite == [("Monday", "13:00", "14:00")]
    assert all("06:00" <= t.start <= "22:00" for t in times)


def test_local_time_studies_keep_their_windows() -> None:
    times = best_times(get_spec("instagram"), "America/New_York", limit=10)
    sprout_monday = [t for t in times if t.study == SPROUT and t.day == "Monday"]
    assert [(t.start, t.end) for t in sprout_monday] == [("10:00", "12:00")]
    assert any(t.study == ICONOSQUARE for t in times)


def test_limit_mixes_studies_and_sorts_by_week() -> None:
    times = best_times(get_spec("instagram"), "UTC", limit=3)
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
    assert best_times(get_spec("x"), "utc")[0].timezone == "UTC"


def test_a_very_long_zone_is_a_coded_error_with_a_short_echo() -> None:
    with pytest.raises(OptionsError) as err:
        best_times(get_spec("x"), "Europe/" + "x" * 300)
    assert err.value.code == "UNKNOWN_TIMEZONE"
    assert len(err.value.message) < 250
