"""Attribution models on a hand-built journey, with exact numbers."""

import datetime as dt

import pytest

from ..attribution import (
    MODELS,
    Touch,
    first_touch,
    last_touch,
    linear,
    time_decay,
    touches_until,
    u_shaped,
)

pytestmark = pytest.mark.django_db  # the shared conftest clears the database cache

DAY = dt.timedelta(days=1)
CONVERTED = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
# Instagram 21 days before, organic search 14 days before, email 7 days before, direct on the day.
JOURNEY = [
    Touch(CONVERTED - 14 * DAY, "organic_search", "google", event_id=2),
    Touch(CONVERTED - 21 * DAY, "social", "instagram", event_id=1),
    Touch(CONVERTED, "direct", event_id=4),
    Touch(CONVERTED - 7 * DAY, "email", "newsletter", event_id=3),
    Touch(CONVERTED + DAY, "paid_search", "google", event_id=5),  # after the conversion: no credit
]


def weights(credits):
    return [(credit.touch.event_id, credit.weight) for credit in credits]


def test_touches_until_keeps_those_up_to_the_conversion_oldest_first():
    assert [touch.event_id for touch in touches_until(JOURNEY, CONVERTED)] == [1, 2, 3, 4]


def test_first_touch_gives_everything_to_the_first():
    assert weights(first_touch(JOURNEY, CONVERTED)) == [(1, 1.0), (2, 0.0), (3, 0.0), (4, 0.0)]


def test_last_touch_gives_everything_to_the_last_before_the_conversion():
    assert weights(last_touch(JOURNEY, CONVERTED)) == [(1, 0.0), (2, 0.0), (3, 0.0), (4, 1.0)]


def test_linear_shares_equally():
    assert weights(linear(JOURNEY, CONVERTED)) == [(1, 0.25), (2, 0.25), (3, 0.25), (4, 0.25)]


def test_u_shaped_gives_40_to_first_and_last_and_20_to_the_middle():
    assert weights(u_shaped(JOURNEY, CONVERTED)) == [(1, 0.4), (2, 0.1), (3, 0.1), (4, 0.4)]


def test_u_shaped_with_one_touch_gives_100_and_with_two_50_50():
    assert weights(u_shaped(JOURNEY[:1], CONVERTED)) == [(2, 1.0)]
    assert weights(u_shaped(JOURNEY[:2], CONVERTED)) == [(1, 0.5), (2, 0.5)]


def test_time_decay_halves_the_weight_every_seven_days():
    # raw weights 1/8, 1/4, 1/2, 1 → sum 15/8 → 1/15, 2/15, 4/15, 8/15
    result = weights(time_decay(JOURNEY, CONVERTED))

    assert [event_id for event_id, _ in result] == [1, 2, 3, 4]
    assert [weight for _, weight in result] == pytest.approx(
        [1 / 15, 2 / 15, 4 / 15, 8 / 15], abs=1e-12
    )


def test_time_decay_with_a_one_day_half_life():
    journey = [Touch(CONVERTED - DAY, "social", event_id=1), Touch(CONVERTED, "direct", event_id=2)]

    assert [w for _, w in weights(time_decay(journey, CONVERTED, half_life=DAY))] == pytest.approx(
        [1 / 3, 2 / 3], abs=1e-12
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_sums_to_one_and_gives_nothing_without_touches(name):
    assert sum(credit.weight for credit in MODELS[name](JOURNEY, CONVERTED)) == pytest.approx(
        1.0, abs=1e-12
    )
    assert MODELS[name]([], CONVERTED) == []
    assert MODELS[name](JOURNEY[4:], CONVERTED) == []
