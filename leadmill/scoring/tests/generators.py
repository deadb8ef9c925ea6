"""Synthetic past leads with a known outcome, for tests of the predictive score.

Each generator returns (rows, won) from a seeded random source, so a test sees the same
data on every run.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEGMENT_WON_RATE = {"saas": 0.6, "health": 0.3, "retail": 0.1, "education": 0.05}


def segment_decides(*, n: int = 400, seed: int = 1) -> tuple[list[dict[str, str]], list[bool]]:
    """The segment strongly predicts the outcome; role, country and employees are noise."""
    rng = random.Random(seed)
    rows, won = [], []
    for _ in range(n):
        segment = rng.choice(list(SEGMENT_WON_RATE))
        rows.append(
            {
                "segment": segment,
                "country": rng.choice(["BR", "US", "PT"]),
                "role": rng.choice(["cto", "cmo", "developer", "unknown"]),
                "employees": str(rng.randint(1, 500)),
            }
        )
        won.append(rng.random() < SEGMENT_WON_RATE[segment])
    return rows, won


def segment_and_country_together(
    *, n: int = 400, seed: int = 1
) -> tuple[list[dict[str, str]], list[bool]]:
    """Won mostly when segment and country match (saas in BR, retail in US): each field alone
    says nothing, so frequency tables per field cannot see it, trees can."""
    rng = random.Random(seed)
    rows, won = [], []
    for _ in range(n):
        segment, country = rng.choice(["saas", "retail"]), rng.choice(["BR", "US"])
        matched = (segment == "saas") == (country == "BR")
        rows.append(
            {
                "segment": segment,
                "country": country,
                "role": rng.choice(["cto", "cmo", "developer"]),
            }
        )
        won.append(rng.random() < (0.7 if matched else 0.1))
    return rows, won


def many_small_segments(*, n: int = 400, seed: int = 1) -> tuple[list[dict[str, str]], list[bool]]:
    """Forty segments of about ten leads each, half of them good: too few leads per segment
    for the trees to split on, while a frequency table still learns each segment's rate."""
    rng = random.Random(seed)
    rows, won = [], []
    for _ in range(n):
        k = rng.randrange(40)
        rows.append({"segment": f"segment-{k}", "country": rng.choice(["BR", "US"])})
        won.append(rng.random() < (0.6 if k % 2 == 0 else 0.05))
    return rows, won


def csv_write(path: Path, rows: list[dict[str, str]], *, sep: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=sep)
        writer.writeheader()
        writer.writerows(rows)
    return path
