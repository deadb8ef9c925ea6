"""Writes of the stored predictive probability (``ContactScore.predictive_probability``):
for one lead after its scores changed, or for every lead in batches (a recompute, a newly
activated model)."""

from __future__ import annotations

import logging

from django.db import connection, transaction

from .models import ContactScore
from .selectors import (
    FEATURE_FIELDS,
    features_row,
    predictive_score,
    scorer_active,
    scoring_model_active,
)
from .tabular import table_from_rows

logger = logging.getLogger(__name__)

PREDICT_BATCH_SIZE = 5000
# Stored probabilities are rounded so: a smaller difference is no change worth a write.
PROBABILITY_DIGITS = 6


def predictive_store(*, score: ContactScore) -> None:
    """Store the active model's probability for one lead (nothing without an active model;
    None when the active model cannot be loaded)."""
    if scoring_model_active() is None:
        return
    predicted = predictive_score(contact=score.contact)
    probability = None if predicted is None else round(predicted.probability, PROBABILITY_DIGITS)
    if probability != score.predictive_probability:
        ContactScore.objects.filter(pk=score.pk).update(predictive_probability=probability)
        score.predictive_probability = probability


def predictive_scores_fill(*, batch_size: int = PREDICT_BATCH_SIZE) -> int:
    """Store the active model's probability for every scored lead; returns rows written.

    Walks the leads by id, ``batch_size`` at a time: one query reads the batch's profile
    fields, one vectorised ``predict_proba`` scores its distinct profiles, and one
    ``UPDATE … FROM (VALUES …)``
    writes the probabilities that changed, each batch in its own short transaction. Does
    nothing without an active model, or when it cannot be loaded (logged).
    """
    active = scorer_active()
    if active is None:
        return 0
    model, scorer = active
    columns = [f"contact__{name}" for name in FEATURE_FIELDS]
    written, after = 0, 0
    while True:
        batch = list(
            ContactScore.objects.filter(contact_id__gt=after)
            .order_by("contact_id")
            .values_list("contact_id", "predictive_probability", "contact__custom", *columns)[
                :batch_size
            ]
        )
        if not batch:
            break
        after = batch[-1][0]
        # Leads with the same profile get the same probability: predict each profile once.
        profiles: dict[tuple, int] = {}
        features, which = [], []
        for row in batch:
            values = features_row(dict(zip(FEATURE_FIELDS, row[3:], strict=True)), custom=row[2])
            key = tuple(values.items())
            if key not in profiles:
                profiles[key] = len(features)
                features.append(values)
            which.append(profiles[key])
        probabilities = scorer.predict_proba(table_from_rows(features))
        changed = []
        for row, index in zip(batch, which, strict=True):
            rounded = round(float(probabilities[index]), PROBABILITY_DIGITS)
            if rounded != row[1]:
                changed.append((row[0], rounded))
        if changed:
            with transaction.atomic():
                _probabilities_write(changed)
            written += len(changed)
        if len(batch) < batch_size:
            break
    logger.info("predictive probabilities of model %s stored: %s rows changed", model.pk, written)
    return written


def _probabilities_write(changed: list[tuple[int, float]]) -> None:
    table = connection.ops.quote_name(ContactScore._meta.db_table)
    values = ", ".join(["(%s, %s)"] * len(changed))
    sql = (
        f"WITH v (contact_id, probability) AS (VALUES {values}) "  # noqa: S608 -- quoted name and placeholders only
        f"UPDATE {table} SET predictive_probability = CAST(v.probability AS DOUBLE PRECISION) "
        f"FROM v WHERE {table}.contact_id = v.contact_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for pair in changed for value in pair])
