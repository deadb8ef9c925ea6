"""Fitted scorers to bytes and back, for :class:`~.models.ScoringModel.fitted`.

Pickle (through joblib) runs code when loaded, so bytes are loaded only when they carry our
own signature: an HMAC under SECRET_KEY that only :func:`scorer_dumps` (called by our trainer)
writes. Rotating SECRET_KEY therefore retires every stored model: train again.
"""

from __future__ import annotations

import io

import joblib
import numpy as np
import sklearn
from django.utils.crypto import constant_time_compare, salted_hmac

from .predictive import Scorer

_SALT = "leadmill.scoring.fitted"


class UntrustedModel(Exception):
    """Stored bytes we did not write, or wrote with other library versions: not loaded."""


def library_versions() -> dict[str, str]:
    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def _digest(data: bytes) -> str:
    return salted_hmac(_SALT, data, algorithm="sha256").hexdigest()


def scorer_dumps(scorer: Scorer) -> tuple[bytes, str]:
    """The scorer as compressed bytes, and their signature."""
    buffer = io.BytesIO()
    joblib.dump(scorer, buffer, compress=3)
    data = buffer.getvalue()
    return data, _digest(data)


def scorer_loads(data: bytes, *, digest: str, versions: dict[str, str]) -> Scorer:
    """Load a scorer that :func:`scorer_dumps` wrote with the libraries installed now.

    Raises UntrustedModel, before unpickling anything, otherwise.
    """
    data = bytes(data)
    if not constant_time_compare(_digest(data), digest or ""):
        raise UntrustedModel(
            "its signature does not match (written elsewhere, or SECRET_KEY changed)"
        )
    if versions != library_versions():
        raise UntrustedModel(f"trained with {versions}, running {library_versions()}")
    return joblib.load(io.BytesIO(data))  # noqa: S301 - signed by our own trainer, checked above
