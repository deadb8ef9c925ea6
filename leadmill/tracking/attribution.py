"""Attribution models: how much credit each touch of a journey gets for a conversion.

Pure functions over a list of :class:`Touch` and the conversion time. Each returns one
:class:`Credit` per touch that happened up to the conversion (oldest first), with weights
that sum to 1 (or an empty list when there was no touch).

- first touch: all credit to the first touch;
- last touch: all credit to the last touch before the conversion;
- linear: equal credit to every touch;
- U-shaped (position based): 40% first, 40% last, 20% shared by the touches in between;
  one touch gets 100%, two touches 50% each;
- time decay: a touch's weight halves every ``half_life`` before the conversion (7 days
  by default), normalised.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence

DEFAULT_HALF_LIFE = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class Touch:
    """An event that carries a source: where a contact came from at one moment."""

    occurred_at: dt.datetime
    channel: str
    source: str = ""
    medium: str = ""
    campaign: str = ""
    event_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Credit:
    touch: Touch
    weight: float


def touches_until(touches: Iterable[Touch], converted_at: dt.datetime) -> list[Touch]:
    """The touches at or before the conversion, oldest first."""
    return sorted(
        (touch for touch in touches if touch.occurred_at <= converted_at),
        key=lambda t: t.occurred_at,
    )


def _credits(journey: list[Touch], weights: Sequence[float]) -> list[Credit]:
    return [Credit(touch, weight) for touch, weight in zip(journey, weights, strict=True)]


def first_touch(touches: Iterable[Touch], converted_at: dt.datetime) -> list[Credit]:
    journey = touches_until(touches, converted_at)
    return _credits(journey, [1.0 if i == 0 else 0.0 for i in range(len(journey))])


def last_touch(touches: Iterable[Touch], converted_at: dt.datetime) -> list[Credit]:
    journey = touches_until(touches, converted_at)
    return _credits(journey, [1.0 if i == len(journey) - 1 else 0.0 for i in range(len(journey))])


def linear(touches: Iterable[Touch], converted_at: dt.datetime) -> list[Credit]:
    journey = touches_until(touches, converted_at)
    return _credits(journey, [1 / len(journey)] * len(journey)) if journey else []


def u_shaped(touches: Iterable[Touch], converted_at: dt.datetime) -> list[Credit]:
    journey = touches_until(touches, converted_at)
    n = len(journey)
    if n <= 2:
        return _credits(journey, [1 / n] * n) if n else []
    middle = 0.2 / (n - 2)
    return _credits(journey, [0.4, *([middle] * (n - 2)), 0.4])


def time_decay(
    touches: Iterable[Touch],
    converted_at: dt.datetime,
    *,
    half_life: dt.timedelta = DEFAULT_HALF_LIFE,
) -> list[Credit]:
    journey = touches_until(touches, converted_at)
    raw = [0.5 ** ((converted_at - touch.occurred_at) / half_life) for touch in journey]
    total = sum(raw)
    return _credits(journey, [value / total for value in raw]) if journey else []


MODELS: dict[str, Callable[[Iterable[Touch], dt.datetime], list[Credit]]] = {
    "first_touch": first_touch,
    "last_touch": last_touch,
    "linear": linear,
    "u_shaped": u_shaped,
    "time_decay": time_decay,
}
