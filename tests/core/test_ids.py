"""Tracking IDs: short, readable over the phone, unguessable, and forgiving of how people
type them."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from hashdesk.core.ids import (
    CROCKFORD,
    TRACKING_ID_PATTERN,
    new_numeric_code,
    new_tracking_id,
    normalize_tracking_id,
)
from tests.conftest import make_trader, open_ticket


def test_a_tracking_id_is_hd_and_two_groups_of_four_crockford_characters() -> None:
    for _ in range(200):
        tracking_id = new_tracking_id()
        assert TRACKING_ID_PATTERN.match(tracking_id), tracking_id
        assert set(tracking_id[3:].replace("-", "")) <= set(CROCKFORD)
        assert not set("ILOU") & set(tracking_id[3:])


def test_tracking_ids_do_not_repeat() -> None:
    # 40 random bits: ten thousand draws colliding would mean the randomness is broken.
    assert len({new_tracking_id() for _ in range(10_000)}) == 10_000


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("HD-7KQ3-9XPA", "HD-7KQ3-9XPA"),
        ("hd-7kq3-9xpa", "HD-7KQ3-9XPA"),
        ("  hd 7kq3 9xpa ", "HD-7KQ3-9XPA"),
        ("7KQ39XPA", "HD-7KQ3-9XPA"),
        ("HD7KQ39XPA", "HD-7KQ3-9XPA"),
        ("HD-7KQ3-9XPO", "HD-7KQ3-9XP0"),  # O read as zero
        ("hd-ikq3-lxpa", "HD-1KQ3-1XPA"),  # I and L read as one
        ("HD-UKQ3-9XPA", "HD-VKQ3-9XPA"),
    ],
)
def test_typed_variants_normalise_to_the_one_id(typed: str, meant: str) -> None:
    assert normalize_tracking_id(typed) == meant


@pytest.mark.parametrize("typed", ["", "HD-", "HD-7KQ3-9XP", "HD-7KQ3-9XPAA", "HD-7KQ3-9XP!", "42"])
def test_what_cannot_be_a_tracking_id_normalises_to_none(typed: str) -> None:
    assert normalize_tracking_id(typed) is None


def test_every_ticket_gets_its_own_tracking_id(session: Session) -> None:
    trader = make_trader(session)
    tickets = [open_ticket(session, trader) for _ in range(20)]
    assert len({t.tracking_id for t in tickets}) == 20
    assert all(TRACKING_ID_PATTERN.match(t.tracking_id) for t in tickets)


def test_one_time_codes_are_six_digits() -> None:
    codes = {new_numeric_code() for _ in range(100)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 90
