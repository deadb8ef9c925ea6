"""Reads of the scoring app: a lead's scores (engagement decayed to now), the active
predictive model and a contact's predictive score."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from leadmill.contacts.models import Contact, Outcome

from .models import ContactScore, ScoringModel, ScoringSettings
from .predictive import Reason, Scorer
from .serialization import UntrustedModel, scorer_loads
from .tabular import table_from_rows

logger = logging.getLogger(__name__)

# The profile fields a predictive model learns from; custom fields join as "custom.<key>".
FEATURE_FIELDS = ("role", "company_size", "segment", "country", "first_source", "first_medium")
CUSTOM_PREFIX = "custom."


def contact_features(*, contact: Contact) -> dict[str, str]:
    """A contact's profile as one row of text values, as the predictive model reads it.

    Custom fields holding a list or an object are left out: they are not one value.
    """
    return features_row(
        {name: getattr(contact, name) for name in FEATURE_FIELDS}, custom=contact.custom
    )


def features_row(profile: dict[str, Any], *, custom: dict | None) -> dict[str, str]:
    """:func:`contact_features` from values already read (``FEATURE_FIELDS`` and ``custom``),
    for reads of many contacts at once."""
    row = {name: profile.get(name) or "" for name in FEATURE_FIELDS}
    for key, value in sorted((custom or {}).items()):
        if not isinstance(value, dict | list):
            row[CUSTOM_PREFIX + key] = "" if value is None else str(value)
    return row


def contacts_with_outcome() -> QuerySet[Contact]:
    """Contacts sales marked won or lost, oldest first: what the predictive model learns from."""
    return (
        Contact.objects.filter(outcome__in=[Outcome.WON, Outcome.LOST])
        .only("outcome", "custom", *FEATURE_FIELDS)
        .order_by("created_at", "pk")
    )


def scoring_model_active() -> ScoringModel | None:
    """The model predictive scores come from now, without its (large) fitted bytes."""
    return ScoringModel.objects.filter(is_active=True).defer("fitted").first()


# Stored models never change once written, so a loaded scorer is kept by its row's id.
_loaded: dict[int, Scorer] = {}
_loaded_lock = threading.Lock()


def _scorer(model: ScoringModel) -> Scorer | None:
    with _loaded_lock:
        if model.pk in _loaded:
            return _loaded[model.pk]
    stored = (
        ScoringModel.objects.filter(pk=model.pk)
        .values("fitted", "fitted_digest", "library_versions")
        .first()
    )
    if stored is None:
        return None
    try:
        scorer = scorer_loads(
            stored["fitted"], digest=stored["fitted_digest"], versions=stored["library_versions"]
        )
    except UntrustedModel as exc:
        logger.warning(
            "scoring model %s not loaded: %s; train again with `leadmill scoring train`",
            model.pk,
            exc,
        )
        return None
    with _loaded_lock:
        _loaded.clear()  # only the active model is ever needed
        _loaded[model.pk] = scorer
    return scorer


def scorer_active() -> tuple[ScoringModel, Scorer] | None:
    """The active model with its loaded scorer; None without one or when it cannot be
    loaded (logged)."""
    model = scoring_model_active()
    if model is None:
        return None
    scorer = _scorer(model)
    return None if scorer is None else (model, scorer)


@dataclasses.dataclass(frozen=True)
class PredictiveScore:
    """The chance a contact is won (0–1, calibrated) and the fields that moved it most."""

    probability: float
    reasons: list[Reason]
    model_id: int
    model_kind: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def predictive_score(*, contact: Contact) -> PredictiveScore | None:
    """The active model's predictive score for the contact, with its top reasons.

    None when no model has been trained and activated yet, or when the active model cannot
    be loaded (it was written with other library versions or another SECRET_KEY; logged).
    """
    model = scoring_model_active()
    if model is None:
        return None
    scorer = _scorer(model)
    if scorer is None:
        return None
    table = table_from_rows([contact_features(contact=contact)])
    probability = float(scorer.predict_proba(table)[0])
    reasons = scorer.reasons(table)[0]
    return PredictiveScore(
        probability=probability, reasons=reasons, model_id=model.pk, model_kind=model.kind
    )


def engagement_now(
    *, score: ContactScore, at: dt.datetime | None = None, half_life_days: float | None = None
) -> float:
    """The lead's engagement decayed from its reference time to ``at`` (default now):
    ``stored * 0.5 ** (days / half_life)``. Decay needs no write."""
    at = at or timezone.now()
    if half_life_days is None:
        half_life_days = ScoringSettings.load().half_life_days
    days = (at - score.engagement_at).total_seconds() / 86400
    return score.engagement_score * 0.5 ** (days / half_life_days)


def contact_score(*, contact_id: int) -> ContactScore | None:
    """The lead's stored scores, or None before it was ever scored."""
    return ContactScore.objects.filter(contact_id=contact_id).first()
