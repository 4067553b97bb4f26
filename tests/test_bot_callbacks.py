"""The callback-data codec: data round-trips, patterns never match another kind's data."""

from __future__ import annotations

import re

import pytest

from bot import callbacks
from bot.callbacks import CAPTIONS, PHOTO, PROFILES, SETTINGS, Callback

KINDS = [v for v in vars(callbacks).values() if isinstance(v, Callback)]


def test_every_kind_matches_only_its_own_data() -> None:
    assert len({k.prefix for k in KINDS}) == len(KINDS) == 11  # + REMIND, REMINDERS
    for kind in KINDS:
        data = kind("abc123")
        owners = [other for other in KINDS if re.match(other.pattern(), data)]
        assert owners == [kind], (data, owners)


def test_parts_round_trip() -> None:
    assert PROFILES.head(PROFILES("p", "instagram")) == ("p", "instagram")
    assert SETTINGS.head(SETTINGS("tzv", "America/New_York")) == ("tzv", "America/New_York")
    assert SETTINGS.head(SETTINGS("menu")) == ("menu", "")
    assert CAPTIONS.rest(CAPTIONS("funny", "sess1")).rpartition(":") == ("funny", ":", "sess1")
    assert re.match(PHOTO.pattern("done"), PHOTO("done"))
    assert not re.match(PHOTO.pattern("done"), PHOTO("done", "x"))


def test_data_over_64_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        SETTINGS("tzv", "x" * 70)
