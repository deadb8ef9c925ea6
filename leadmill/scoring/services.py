"""Writes of the scoring app: rule scores (fit, engagement with decay), temperature and
stage; training and activating the predictive model; importing past outcomes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from decimal import Decimal, InvalidOperation

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.contacts.models import Contact, LifecycleStage, Outcome, StageChange, Temperature
from leadmill.contacts.services import (
    PROFILE_FIELDS,
    Touch,
    contact_stage_change,
    contact_update,
    contact_upsert,
)
from leadmill.core import events
from leadmill.core.errors import ValidationFailed
from leadmill.tracking.models import Event

from . import rules
from .backtest import CV, MIN_NEGATIVES, MIN_POSITIVES, ModelReport, backtest
from .events import ScoreChanged, ScoresRecomputed, TemperatureChanged
from .metrics import DECILES
from .models import ContactScore, EngagementRule, FitRule, ScoringModel, ScoringSettings
from .predictive import BASELINE, LEARNED, Scorer, scorer_make
from .selectors import (
    contact_features,
    contacts_with_outcome,
    engagement_now,
    predictive_score,
    scoring_model_active,
)
from .serialization import library_versions, scorer_dumps
from .tabular import ColumnKinds, CsvFile, TableError, column_kinds, is_missing, table_from_rows

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    learned: ScoringModel
    baseline: ScoringModel

    @property
    def active(self) -> ScoringModel:
        return self.learned if self.learned.is_active else self.baseline


def _report_metrics(report: ModelReport, *, other: ModelReport, folds: int) -> dict:
    return {
        "auc": round(report.auc, 4),
        "auc_std": round(report.auc_std, 4),
        "ece": round(report.ece, 4),
        "ece_std": round(report.ece_std, 4),
        "lift": [round(value, 3) for value in report.lift],
        "calibration": [dataclasses.asdict(row) for row in report.calibration],
        "split": CV,
        "folds": folds,
        "compared_with": {"kind": other.kind, "auc": round(other.auc, 4)},
    }


def _scoring_model_create(
    *,
    scorer: Scorer,
    metrics: dict,
    kinds: ColumnKinds,
    rows: int,
    positives: int,
    active: bool,
    at: dt.datetime,
) -> ScoringModel:
    fitted, digest = scorer_dumps(scorer)
    return ScoringModel.objects.create(
        kind=scorer.kind,
        trained_at=at,
        is_active=active,
        metrics=metrics,
        features={
            "numeric": list(kinds.numeric),
            "categorical": list(kinds.categorical),
            "ignored": kinds.ignored,
        },
        rows=rows,
        positives=positives,
        fitted=fitted,
        fitted_digest=digest,
        library_versions=library_versions(),
    )


def predictive_model_train(*, folds: int = 5, seed: int = 42, threads: int = 1) -> TrainingResult:
    """Train the learned model and the baseline on contacts marked won or lost, and activate
    the learned one only if its cross-validated (held-out) AUC beats the baseline's.

    Features are the profile fields of :data:`.selectors.FEATURE_FIELDS` and the custom
    fields. Both models are stored with their held-out metrics; the previously active model
    is deactivated in the same transaction, so predictive scores switch at once. Training
    takes about a minute per 40,000 contacts on one core: run it from a task or the command,
    never in a request.

    Raises ValidationFailed when fewer than 20 contacts are won or 20 lost, or no profile
    field has values to learn from.
    """
    contacts = list(contacts_with_outcome())
    y = np.array([contact.outcome == Outcome.WON for contact in contacts], dtype=int)
    won, lost = int(y.sum()), int(len(y) - y.sum())
    if won < MIN_POSITIVES or lost < MIN_NEGATIVES:
        raise ValidationFailed(
            _(
                "The predictive score needs at least %(won)d won and %(lost)d lost leads to learn "
                "from; there are %(has_won)d won and %(has_lost)d lost. Record more outcomes first."
            )
            % {"won": MIN_POSITIVES, "lost": MIN_NEGATIVES, "has_won": won, "has_lost": lost},
            code="too_few_outcomes",
        )
    folds = max(2, min(folds, len(y) // DECILES))  # every held-out fold needs a row per decile
    table = table_from_rows([contact_features(contact=contact) for contact in contacts])
    kinds = column_kinds(table)
    try:
        report = backtest(table, y, split=CV, folds=folds, seed=seed, kinds=kinds, threads=threads)
    except TableError as exc:
        raise ValidationFailed(str(exc), code="cannot_train") from exc
    scorers = {
        kind: scorer_make(kind, seed=seed, threads=threads).fit(table, y, kinds)
        for kind in (LEARNED, BASELINE)
    }
    learned_wins = report.learned.auc > report.baseline.auc
    now = timezone.now()
    common = {"kinds": kinds, "rows": len(y), "positives": won, "at": now}
    with transaction.atomic():
        ScoringModel.objects.filter(is_active=True).update(is_active=False)
        learned = _scoring_model_create(
            scorer=scorers[LEARNED],
            metrics=_report_metrics(report.learned, other=report.baseline, folds=report.folds),
            active=learned_wins,
            **common,
        )
        baseline = _scoring_model_create(
            scorer=scorers[BASELINE],
            metrics=_report_metrics(report.baseline, other=report.learned, folds=report.folds),
            active=not learned_wins,
            **common,
        )
    logger.info(
        "predictive models %s (learned, AUC %.3f) and %s (baseline, AUC %.3f) trained on %s contacts; active: %s",
        learned.pk,
        report.learned.auc,
        baseline.pk,
        report.baseline.auc,
        len(y),
        LEARNED if learned_wins else BASELINE,
    )
    return TrainingResult(learned=learned, baseline=baseline)


# --- Importing past outcomes ------------------------------------------------------------------

# Columns of an outcomes file that fill a contact's first touch rather than custom fields.
_TOUCH_COLUMNS = {
    "source": "source",
    "first_source": "source",
    "medium": "medium",
    "first_medium": "medium",
    "campaign": "campaign",
    "first_campaign": "campaign",
}
IMPORT_BATCH_SIZE = 500


@dataclasses.dataclass
class OutcomesImport:
    """What an import did: contacts created and updated, and each skipped line with its reason."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    won: int = 0
    lost: int = 0
    skipped: list[tuple[int, str]] = dataclasses.field(default_factory=list)


def _custom_key(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")[:50] or "column"


def _outcome_at(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            _("the date %(date)r is not a date like 2024-05-31") % {"date": text}
        ) from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _outcome_value(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(_("the value %(value)r is not a number like 1500.00") % {"value": text})
    return value.quantize(Decimal("0.01"))


def outcomes_import(
    *,
    source: CsvFile,
    email_column: str,
    outcome_column: str,
    won: str,
    lost: str | None = None,
    value_column: str | None = None,
    date_column: str | None = None,
    batch_size: int = IMPORT_BATCH_SIZE,
) -> OutcomesImport:
    """Load past leads with their outcome into contacts, ``batch_size`` rows per transaction.

    Each row goes through :func:`leadmill.contacts.services.contact_upsert` (one person, one
    contact: an email already known updates that contact), then the outcome is recorded with
    :func:`leadmill.contacts.services.contact_update`. The outcome is won when the outcome
    column equals ``won``; lost when it equals ``lost`` or, without ``lost``, any other
    value. Columns named like a profile field (role, segment, country …) fill it;
    source / medium / campaign fill the first touch; the rest become custom fields (key:
    the column name in lower case, ``_`` for other characters). No consent is recorded, so
    imported contacts are not emailed.

    A row with no outcome, a bad email, value or date is skipped with its reason; the other
    rows are kept. Raises ValidationFailed when a named column is not in the file.
    """
    named = {
        "email": email_column,
        "outcome": outcome_column,
        "value": value_column,
        "date": date_column,
    }
    absent = [f"{column!r}" for column in named.values() if column and column not in source.columns]
    if absent:
        raise ValidationFailed(
            _("%(file)s has no column %(columns)s (its columns: %(all)s).")
            % {
                "file": source.path.name,
                "columns": ", ".join(absent),
                "all": ", ".join(source.columns),
            },
            code="unknown_column",
        )
    report = OutcomesImport()
    batch: list[tuple[int, dict[str, str]]] = []
    for line, values in source.rows():
        batch.append((line, dict(zip(source.columns, values, strict=True))))
        if len(batch) >= batch_size:
            _outcomes_import_batch(
                batch, report, named=named, won=won, lost=lost, cause=source.path.name
            )
            batch = []
    if batch:
        _outcomes_import_batch(
            batch, report, named=named, won=won, lost=lost, cause=source.path.name
        )
    logger.info(
        "outcomes import of %s: %s rows, %s created, %s updated, %s skipped",
        source.path.name,
        report.rows,
        report.created,
        report.updated,
        len(report.skipped),
    )
    return report


def _outcomes_import_batch(
    batch: list[tuple[int, dict[str, str]]],
    report: OutcomesImport,
    *,
    named: dict[str, str | None],
    won: str,
    lost: str | None,
    cause: str,
) -> None:
    special = {column for column in named.values() if column}
    with transaction.atomic():
        for line, row in batch:
            report.rows += 1
            raw_outcome = row[named["outcome"]]
            if raw_outcome == won:
                outcome = Outcome.WON
            elif (lost is None and not is_missing(raw_outcome)) or (
                lost is not None and raw_outcome == lost
            ):
                outcome = Outcome.LOST
            else:
                report.skipped.append(
                    (
                        line,
                        _("the outcome %(value)r is neither won nor lost") % {"value": raw_outcome},
                    )
                )
                continue
            try:
                value = _outcome_value(row[named["value"]]) if named["value"] else None
                at = _outcome_at(row[named["date"]]) if named["date"] else None
            except ValueError as exc:
                report.skipped.append((line, str(exc)))
                continue
            profile, touch, custom = {}, {}, {}
            for column, text in row.items():
                if column in special or is_missing(text):
                    continue
                if column in PROFILE_FIELDS:
                    profile[column] = text
                elif column == "phone":
                    continue
                elif column in _TOUCH_COLUMNS:
                    touch[_TOUCH_COLUMNS[column]] = text
                else:
                    custom[_custom_key(column)] = text
            try:
                result = contact_upsert(
                    email=row[named["email"]],
                    phone=row.get("phone", ""),
                    profile=profile,
                    custom=custom,
                    touch=Touch(**touch, occurred_at=at) if touch else None,
                    cause=_("imported with its outcome from %(file)s") % {"file": cause},
                )
            except ValidationFailed as exc:
                report.skipped.append((line, exc.message))
                continue
            contact_update(
                contact=result.contact,
                changes={"outcome": outcome, "outcome_value": value, "outcome_at": at},
            )
            report.created += result.created
            report.updated += not result.created
            report.won += outcome == Outcome.WON
            report.lost += outcome == Outcome.LOST


# --- Rule scores: fit, engagement, temperature and stage ----------------------------------------

# Engagement differences below this are rounding, not a change worth a write.
ENGAGEMENT_EPSILON = 1e-6
REQUALIFY_BATCH_SIZE = 1000
SCORES_CAUSE = "scores:"


@dataclasses.dataclass(frozen=True)
class ActiveRules:
    fit: list[FitRule]
    engagement: list[EngagementRule]


def _rules_active() -> ActiveRules:
    return ActiveRules(
        fit=list(FitRule.objects.filter(is_active=True).order_by("pk")),
        engagement=list(
            EngagementRule.objects.filter(is_active=True).select_related("form").order_by("pk")
        ),
    )


def _decay_sql(value: str, at_column: str, half_life_days: float) -> str:
    return f"({value} * POWER(CAST(0.5 AS DOUBLE PRECISION), {rules.age_days_sql(at_column)} / {float(half_life_days)!r}))"


def _scores_upsert(*, at: dt.datetime, contact_ids: list[int] | None) -> int:
    """Write the scores of every contact (or of ``contact_ids``) from the rules in one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE changed``; returns the rows written."""
    active = _rules_active()
    settings = ScoringSettings.load()
    fit_sql, fit_params = rules.fit_queryset(
        active.fit, contact_ids=contact_ids
    ).query.sql_with_params()
    engagement = rules.engagement_sql(
        active.engagement, half_life_days=settings.half_life_days, at=at, contact_ids=contact_ids
    )
    table = connection.ops.quote_name(ContactScore._meta.db_table)
    last_event_id = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    stored_now = _decay_sql(
        f"{table}.engagement_score", f"{table}.engagement_at", settings.half_life_days
    )
    sql = (
        f"INSERT INTO {table} (contact_id, fit_score, engagement_score, engagement_at, intent_at, "  # noqa: S608 -- quoted names, compiled SQL and placeholders only
        f"last_event_id, updated_at) "
        f"SELECT f.score_contact, f.fit, COALESCE(e.engagement, 0), %s, e.intent_at, %s, %s "
        f"FROM ({fit_sql}) f LEFT JOIN ({engagement.sql}) e ON e.contact_id = f.score_contact WHERE true "
        f"ON CONFLICT (contact_id) DO UPDATE SET fit_score = excluded.fit_score, "
        f"engagement_score = excluded.engagement_score, engagement_at = excluded.engagement_at, "
        f"intent_at = excluded.intent_at, updated_at = excluded.updated_at, "
        f"last_event_id = CASE WHEN excluded.last_event_id > {table}.last_event_id "
        f"THEN excluded.last_event_id ELSE {table}.last_event_id END "
        f"WHERE {table}.fit_score <> excluded.fit_score "
        f"OR ABS({stored_now} - excluded.engagement_score) > {ENGAGEMENT_EPSILON!r} * (1 + ABS(excluded.engagement_score)) "
        f"OR {table}.intent_at {distinct} excluded.intent_at"
    )
    reference = rules.reference_param(at)
    params = [reference, last_event_id, reference, *fit_params, *engagement.params, reference]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scores_recompute_all(*, at: dt.datetime | None = None) -> int:
    """Recompute every lead's fit and engagement score from the active rules, set-based.

    One SQL statement: fit is a sum of ``CASE WHEN`` per fit rule over the contacts table;
    engagement sums each rule's hits (tracking events that are not bots, accepted form
    submissions) decayed to ``at`` in one ``GROUP BY``; only rows whose scores changed are
    written, so a run over unchanged data writes nothing. Publishes ScoresRecomputed.
    Temperature and stage follow with :func:`scores_requalify`. Returns the rows written.
    """
    at = at or timezone.now()
    with transaction.atomic():
        changed = _scores_upsert(at=at, contact_ids=None)
        events.publish(ScoresRecomputed(changed=changed, occurred_at=at))
    logger.info("scores recomputed for every lead: %s rows changed", changed)
    return changed


def _score_event_publish(
    before: tuple | None, score: ContactScore, *, at: dt.datetime, half_life_days: float
) -> None:
    after = (score.fit_score, engagement_now(score=score, at=at, half_life_days=half_life_days))
    moved = before is None or before[0] != after[0]
    if moved or abs(before[1] - after[1]) > ENGAGEMENT_EPSILON * (1 + abs(after[1])):
        events.publish(
            ScoreChanged(
                contact_id=score.contact_id,
                fit_score=after[0],
                engagement_score=after[1],
                occurred_at=at,
            )
        )


def contact_score_refresh(*, contact_id: int, at: dt.datetime | None = None) -> ContactScore | None:
    """Recompute one lead's scores from all its data (the set-based statement for one
    contact), store its predictive probability, then its temperature and stage.

    Idempotent: running it twice changes nothing the second time. Publishes ScoreChanged
    when a score moved. Returns None when the contact does not exist.
    """
    at = at or timezone.now()
    settings = ScoringSettings.load()
    with transaction.atomic():
        previous = ContactScore.objects.select_for_update().filter(contact_id=contact_id).first()
        before = (
            (
                previous.fit_score,
                engagement_now(score=previous, at=at, half_life_days=settings.half_life_days),
            )
            if previous
            else None
        )
        _scores_upsert(at=at, contact_ids=[contact_id])
        score = ContactScore.objects.select_related("contact").filter(contact_id=contact_id).first()
        if score is None:
            return None
        _predictive_store(score)
        _score_event_publish(before, score, at=at, half_life_days=settings.half_life_days)
        _contact_qualify(score=score, settings=settings, at=at)
    return score


def _predictive_store(score: ContactScore) -> None:
    if scoring_model_active() is None:
        return
    predicted = predictive_score(contact=score.contact)
    probability = None if predicted is None else round(predicted.probability, 6)
    if probability != score.predictive_probability:
        ContactScore.objects.filter(pk=score.pk).update(predictive_probability=probability)
        score.predictive_probability = probability


def score_apply_event(*, event_id: int, at: dt.datetime | None = None) -> ContactScore | None:
    """Add one new tracking event to its lead's engagement in O(1): decay the stored value
    to now, add the points of every active rule the event matches (within their caps),
    then update temperature and stage. Meant for tracking's ingest, after commit.

    Idempotent per event: an event whose id is not above the lead's ``last_event_id`` was
    counted already and changes nothing. Bots and events without a contact count nothing.
    A lead without a score row yet gets a full :func:`contact_score_refresh`. An event
    older than others already counted is added with its own decay, but a cap is checked
    only against the earlier events; the next recompute makes that exact.
    """
    at = at or timezone.now()
    event = Event.objects.filter(pk=event_id).first()
    if event is None or event.contact_id is None or event.is_bot:
        return None
    settings = ScoringSettings.load()
    matched = [
        rule
        for rule in EngagementRule.objects.filter(
            is_active=True, event_type=event.type
        ).select_related("form")
        if rules.event_matches(rule, event)
    ]
    with transaction.atomic():
        score = ContactScore.objects.select_for_update().filter(contact_id=event.contact_id).first()
        if score is None:
            return contact_score_refresh(contact_id=event.contact_id, at=at)
        if event.pk <= score.last_event_id:
            return score
        before = (
            score.fit_score,
            engagement_now(score=score, at=at, half_life_days=settings.half_life_days),
        )
        engagement = before[1]
        for rule in matched:
            points = _points_within_cap(rule, event) if rule.is_capped else rule.points
            engagement += points * 0.5 ** (_days(at - event.occurred_at) / settings.half_life_days)
            if rule.is_intent_signal and (
                score.intent_at is None or event.occurred_at > score.intent_at
            ):
                score.intent_at = event.occurred_at
        score.engagement_score, score.engagement_at = engagement, at
        score.last_event_id, score.updated_at = event.pk, at
        score.save(
            update_fields=[
                "engagement_score",
                "engagement_at",
                "intent_at",
                "last_event_id",
                "updated_at",
            ]
        )
        if matched:
            _score_event_publish(before, score, at=at, half_life_days=settings.half_life_days)
            _contact_qualify(score=score, settings=settings, at=at)
    return score


def _days(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 86400


def _points_within_cap(rule: EngagementRule, event: Event) -> int:
    """The points the rule still gives for ``event`` in its period: the cap minus what the
    lead's earlier hits of the rule in the same period already took."""
    period = rules.period_of(event.occurred_at, rule.cap_days)
    start = dt.datetime.fromtimestamp(period * 86400 * rule.cap_days, tz=dt.UTC)
    earlier = (
        rules.engagement_hits_queryset(rule, contact_ids=[event.contact_id])
        .filter(hit_at__gte=start)
        .filter(Q(hit_at__lt=event.occurred_at) | Q(hit_at=event.occurred_at, hit_id__lt=event.pk))
        .count()
    )
    raw_before = earlier * rule.points
    return min(rule.cap_points, raw_before + rule.points) - min(rule.cap_points, raw_before)


# --- Temperature and stage -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Qualification:
    temperature: str
    temperature_cause: str
    is_mql: bool
    mql_cause: str


def qualification(
    *,
    fit: int,
    engagement: float,
    intent_at: dt.datetime | None,
    settings: ScoringSettings,
    at: dt.datetime,
) -> Qualification:
    """Temperature and MQL eligibility from scores: hot for ``intent_hot_days`` after an
    intent signal, else by fit + engagement against the warm and hot thresholds; MQL when
    fit and engagement each pass their threshold."""
    total = fit + engagement
    shown = round(engagement)
    if intent_at is not None and at - intent_at < dt.timedelta(days=settings.intent_hot_days):
        temperature, cause = (
            Temperature.HOT,
            f"{SCORES_CAUSE} intent signal on {intent_at:%Y-%m-%d}",
        )
    elif total >= settings.hot_threshold:
        temperature, cause = (
            Temperature.HOT,
            f"{SCORES_CAUSE} fit + engagement {total:.0f} ≥ {settings.hot_threshold}",
        )
    elif total >= settings.warm_threshold:
        temperature, cause = (
            Temperature.WARM,
            f"{SCORES_CAUSE} fit + engagement {total:.0f} ≥ {settings.warm_threshold}",
        )
    else:
        temperature, cause = (
            Temperature.COLD,
            f"{SCORES_CAUSE} fit + engagement {total:.0f} < {settings.warm_threshold}",
        )
    fit_ok, engagement_ok = (
        fit >= settings.mql_fit_threshold,
        engagement >= settings.mql_engagement_threshold,
    )
    if fit_ok and engagement_ok:
        mql_cause = (
            f"{SCORES_CAUSE} fit {fit} ≥ {settings.mql_fit_threshold}, "
            f"engagement {shown} ≥ {settings.mql_engagement_threshold}"
        )
    elif not fit_ok:
        mql_cause = f"{SCORES_CAUSE} fit {fit} < {settings.mql_fit_threshold}"
    else:
        mql_cause = f"{SCORES_CAUSE} engagement {shown} < {settings.mql_engagement_threshold}"
    return Qualification(temperature, cause, fit_ok and engagement_ok, mql_cause)


def _contact_qualify(*, score: ContactScore, settings: ScoringSettings, at: dt.datetime) -> None:
    contact = Contact.objects.only("lifecycle_stage", "temperature").get(pk=score.contact_id)
    result = qualification(
        fit=score.fit_score,
        engagement=engagement_now(score=score, at=at, half_life_days=settings.half_life_days),
        intent_at=score.intent_at,
        settings=settings,
        at=at,
    )
    _temperature_set(
        current={contact.pk: contact.temperature},
        to=result.temperature,
        causes={contact.pk: result.temperature_cause},
        at=at,
    )
    _stage_follow(contact=contact, result=result, settings=settings, at=at)


def _temperature_set(
    *, current: dict[int, str], to: str, causes: dict[int, str], at: dt.datetime
) -> int:
    """Move the leads in ``causes`` to temperature ``to`` in one UPDATE; one
    TemperatureChanged each, with its own cause."""
    moving = [pk for pk in causes if current[pk] != to]
    if not moving:
        return 0
    Contact.objects.filter(pk__in=moving).update(temperature=to)
    for pk in moving:
        events.publish(
            TemperatureChanged(
                contact_id=pk,
                from_temperature=current[pk],
                to_temperature=to,
                cause=causes[pk],
                occurred_at=at,
            )
        )
    return len(moving)


def _stage_follow(
    *, contact: Contact, result: Qualification, settings: ScoringSettings, at: dt.datetime
) -> None:
    """lead → MQL when the scores qualify; MQL → lead when they no longer do, only with
    ``demote_on_decay`` and only when the scores (not a person) made the lead MQL."""
    if contact.lifecycle_stage == LifecycleStage.LEAD and result.is_mql:
        contact_stage_change(
            contact=contact, to_stage=LifecycleStage.MQL, cause=result.mql_cause, at=at
        )
    elif (
        contact.lifecycle_stage == LifecycleStage.MQL
        and not result.is_mql
        and settings.demote_on_decay
    ):
        last = (
            StageChange.objects.filter(contact_id=contact.pk, to_stage=LifecycleStage.MQL)
            .order_by("-changed_at", "-pk")
            .first()
        )
        if last is not None and last.cause.startswith(SCORES_CAUSE):
            contact_stage_change(
                contact=contact, to_stage=LifecycleStage.LEAD, cause=result.mql_cause, at=at
            )


def scores_requalify(
    *, at: dt.datetime | None = None, batch_size: int = REQUALIFY_BATCH_SIZE
) -> int:
    """Bring every scored lead's temperature and stage in line with its scores as they
    decayed until ``at``; returns how many leads changed.

    Walks the leads in id order, ``batch_size`` at a time, each batch one short
    transaction: one query finds the leads of the batch whose temperature or stage is out
    of line (decay computed in SQL), one ``UPDATE`` per temperature moves them, and stage
    changes go through :func:`leadmill.contacts.services.contact_stage_change` (history
    and event). Stored scores are not rewritten.
    """
    at = at or timezone.now()
    settings = ScoringSettings.load()
    changed, after = 0, 0
    while True:
        with transaction.atomic():
            rows, last = _requalify_candidates(
                after=after, batch_size=batch_size, settings=settings, at=at
            )
            changed += _requalify_batch(rows, settings=settings, at=at)
        if last is None:
            break
        after = last
    if changed:
        logger.info("requalified %s leads after decay", changed)
    return changed


def _requalify_candidates(
    *, after: int, batch_size: int, settings: ScoringSettings, at: dt.datetime
) -> tuple[list[tuple], int | None]:
    score_table = connection.ops.quote_name(ContactScore._meta.db_table)
    contact_table = connection.ops.quote_name(Contact._meta.db_table)
    engagement = _decay_sql("s.engagement_score", "s.engagement_at", settings.half_life_days)
    total = f"(s.fit_score + {engagement})"
    temperature = (
        f"CASE WHEN s.intent_at > %s THEN 'hot' WHEN {total} >= %s THEN 'hot' "
        f"WHEN {total} >= %s THEN 'warm' ELSE 'cold' END"
    )
    qualifies = f"(s.fit_score >= %s AND {engagement} >= %s)"
    demote = "TRUE" if settings.demote_on_decay else "FALSE"
    sql = (
        f"SELECT c.id, c.lifecycle_stage, c.temperature, s.fit_score, {engagement}, s.intent_at, "  # noqa: S608 -- quoted names and placeholders only
        f"(c.lifecycle_stage = 'lead' AND {qualifies}) OR (c.lifecycle_stage = 'mql' AND {demote} AND NOT {qualifies}) "
        f"OR c.temperature <> {temperature} "
        f"FROM (SELECT contact_id FROM {score_table} WHERE contact_id > %s ORDER BY contact_id LIMIT %s) b "
        f"JOIN {score_table} s ON s.contact_id = b.contact_id JOIN {contact_table} c ON c.id = s.contact_id"
    )
    reference = rules.reference_param(at)
    hot_since = rules.reference_param(at - dt.timedelta(days=settings.intent_hot_days))
    qualifies_params = [settings.mql_fit_threshold, reference, settings.mql_engagement_threshold]
    params = [
        reference,
        *qualifies_params,
        *qualifies_params,
        hot_since,
        reference,
        settings.hot_threshold,
        reference,
        settings.warm_threshold,
        after,
        batch_size,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return [], None
    last = max(row[0] for row in rows)
    return [row for row in rows if row[6]], (last if len(rows) == batch_size else None)


def _requalify_batch(rows: list[tuple], *, settings: ScoringSettings, at: dt.datetime) -> int:
    by_temperature: dict[str, dict[int, str]] = {}
    current: dict[int, str] = {}
    moved = set()
    for contact_id, stage, temperature, fit, engagement, intent_at, _out_of_line in rows:
        if isinstance(intent_at, str):  # SQLite hands back the text it stored
            intent_at = dt.datetime.fromisoformat(intent_at)
        if intent_at is not None and timezone.is_naive(intent_at):
            intent_at = intent_at.replace(tzinfo=dt.UTC)
        result = qualification(
            fit=fit, engagement=engagement, intent_at=intent_at, settings=settings, at=at
        )
        current[contact_id] = temperature
        if temperature != result.temperature:
            by_temperature.setdefault(result.temperature, {})[contact_id] = result.temperature_cause
            moved.add(contact_id)
        contact = Contact(pk=contact_id, lifecycle_stage=stage, temperature=temperature)
        before = contact.lifecycle_stage
        _stage_follow(contact=contact, result=result, settings=settings, at=at)
        if contact.lifecycle_stage != before:
            moved.add(contact_id)
    for to, causes in by_temperature.items():  # one UPDATE per temperature and batch
        _temperature_set(current=current, to=to, causes=causes, at=at)
    return len(moved)
