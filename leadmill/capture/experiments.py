"""A/B tests of landing pages (ADR 40, ADR 48): serving the variants, recording exposures and
conversions, the results with their statistics, and the marketer's actions (start, stop,
promote the winner).

Serving stays lean: the running test of a page is cached per process (as forms are, for
``LEADMILL_FORM_CACHE_SECONDS``); a view costs one ``INSERT … ON CONFLICT DO NOTHING`` of the
visitor's exposure, and the variant is a pure function of the test's salt, the visitor's key
and the split, so it is the same on every view without reading anything back.

A conversion is the one intake's accepted submission from the page: after commit, a batch
handler of ``LeadCaptured`` marks the exposure of the submitting visitor (found by the same
key) converted; the form post itself does nothing more.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import hmac
import math
import secrets
import threading
import time
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leadmill.core.errors import Conflict, ValidationFailed
from leadmill.core.http import client_ip
from leadmill.core.stats import (
    Arm,
    StopRule,
    expected_loss,
    probability_to_be_best,
    sample_ratio_mismatch,
    stop_decision,
)
from leadmill.tracking.bots import is_bot
from leadmill.tracking.schemas import VISITOR_COOKIE, visitor_id_valid
from leadmill.tracking.selectors import bot_rules_active

from .models import Experiment, Exposure, Submission, Variant

_ADDRESS_KEY_PREFIX = "~"  # not in a visitor id's alphabet: an address key never equals one


# --- Which variant a visitor sees -----------------------------------------------------------


def visitor_key(*, visitor_id: str, ip_address: str | None, user_agent: str) -> str:
    """Who the visitor is for a test: its ``lm_vid`` id, or, in the cookieless mode
    (``LEADMILL_TRACKING_REQUIRE_CONSENT``) and when it has none, a keyed hash of its address
    and browser (never stored in clear). The page view and the later form post compute it
    the same way, so the post finds the exposure."""
    if not settings.LEADMILL_TRACKING_REQUIRE_CONSENT and visitor_id_valid(visitor_id):
        return visitor_id
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"ab|{ip_address or ''}|{user_agent or ''}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return _ADDRESS_KEY_PREFIX + digest[:40]


def variant_pick(*, salt: str, key: str, weights: list[int]) -> int:
    """The index of the variant for ``key``: a stable hash of the test's salt and the key,
    placed on the split. Uniform over keys, so the shares follow the weights."""
    digest = hashlib.sha256(f"{salt}|{key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(weights)
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    return len(weights) - 1


@dataclasses.dataclass(frozen=True)
class RunningTest:
    """What serving needs of a running test, cached per process."""

    id: int
    salt: str
    variants: tuple[Variant, ...]
    weights: list[int]

    @property
    def control(self) -> Variant:
        """What bots see: the first variant that changes nothing, else the first."""
        return next((v for v in self.variants if v.is_control), self.variants[0])


_running: dict[int, tuple[float, RunningTest | None]] = {}
_running_lock = threading.Lock()


def running_test(*, page_id: int) -> RunningTest | None:
    """The page's running test, read at most once per ``LEADMILL_FORM_CACHE_SECONDS`` per
    process; starting, stopping or promoting in this process forgets it at once."""
    now = time.monotonic()
    cached = _running.get(page_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    experiment = (
        Experiment.objects.filter(page_id=page_id, status=Experiment.Status.RUNNING)
        .prefetch_related("variants__form")
        .first()
    )
    test = None
    if experiment is not None:
        variants = tuple(experiment.variants.all())
        if len(variants) >= 2:
            test = RunningTest(
                experiment.pk, experiment.salt, variants, [v.weight for v in variants]
            )
    with _running_lock:
        _running[page_id] = (now + settings.LEADMILL_FORM_CACHE_SECONDS, test)
    return test


def running_tests_clear() -> None:
    """Forget the cached running tests (after a change in this process; in tests)."""
    with _running_lock:
        _running.clear()


@dataclasses.dataclass(frozen=True)
class Served:
    """The variant a page view shows, and the visitor id to set when serving minted one."""

    variant: Variant
    new_visitor_id: str = ""


def variant_serve(*, page_id: int, request, record: bool = True) -> Served | None:
    """The variant of the page's running test for this request (None: no test runs).

    Bots (tracking's verdict, ADR 20) see the control and are not recorded. A person is
    recorded as exposed once (the first view; later views change nothing). Without a visitor
    id and outside the cookieless mode, a new ``lm_vid`` is minted for the answer's cookie,
    the one the tracker then keeps, so the next view and the form post name the same visitor.
    ``record=False`` (a form shown again with its errors): the same variant, nothing written.
    """
    test = running_test(page_id=page_id)
    if test is None:
        return None
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    if is_bot(user_agent, bot_rules_active()):
        return Served(test.control)
    visitor_id = request.COOKIES.get(VISITOR_COOKIE, "")
    new_visitor_id = ""
    if (
        record
        and not settings.LEADMILL_TRACKING_REQUIRE_CONSENT
        and not visitor_id_valid(visitor_id)
    ):
        visitor_id = new_visitor_id = secrets.token_hex(16)
    key = visitor_key(visitor_id=visitor_id, ip_address=client_ip(request), user_agent=user_agent)
    variant = test.variants[variant_pick(salt=test.salt, key=key, weights=test.weights)]
    if record:
        Exposure.objects.bulk_create(
            [
                Exposure(
                    experiment_id=test.id,
                    variant_id=variant.pk,
                    visitor_key=key,
                    exposed_at=timezone.now(),
                )
            ],
            ignore_conflicts=True,
        )
    return Served(variant, new_visitor_id)


def page_as_variant(page, variant: Variant):
    """A copy of the page showing the variant's content where it has some (never saved)."""
    shown = copy.copy(page)
    if variant.headline:
        shown.title = variant.headline
    if variant.intro:
        shown.intro = variant.intro
    if variant.body.raw_data:
        shown.body = variant.body
    if variant.form_id:
        shown.form = variant.form
    return shown


# --- Conversions ----------------------------------------------------------------------------


def conversions_record(*, submission_ids: list[int]) -> int:
    """Mark converted the exposures of the visitors who sent these accepted submissions from
    a page under a running test, after they were shown it; the first such submission counts.
    Idempotent (at-least-once delivery): a converted exposure is left alone. Returns how
    many exposures it marked."""
    submissions = list(
        Submission.objects.filter(
            pk__in=submission_ids, status=Submission.Status.ACCEPTED, page_id__isnull=False
        )
        .order_by("pk")
        .values_list("pk", "page_id", "visitor_id", "ip_address", "user_agent", "created_at")
    )
    if not submissions:
        return 0
    tests = dict(
        Experiment.objects.filter(
            page_id__in={row[1] for row in submissions}, status=Experiment.Status.RUNNING
        ).values_list("page_id", "pk")
    )
    marked = 0
    for pk, page_id, visitor_id, ip_address, user_agent, created_at in submissions:
        if page_id not in tests:
            continue
        key = visitor_key(visitor_id=visitor_id, ip_address=ip_address, user_agent=user_agent)
        marked += Exposure.objects.filter(
            experiment_id=tests[page_id],
            visitor_key=key,
            converted_at__isnull=True,
            exposed_at__lte=created_at,
        ).update(converted_at=created_at, submission_id=pk)
    return marked


# --- Results --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VariantResult:
    variant_id: int
    label: str
    weight: int
    exposures: int
    conversions: int
    rate: float | None
    probability_best: float
    expected_loss: float

    @property
    def rate_percent(self) -> float | None:
        return None if self.rate is None else self.rate * 100

    @property
    def probability_best_percent(self) -> float:
        return self.probability_best * 100

    @property
    def risk_points(self) -> float:
        """The expected loss in percentage points of conversion rate."""
        return self.expected_loss * 100


@dataclasses.dataclass(frozen=True)
class Results:
    """An A/B test's figures (docs/analytics.md, "A/B tests")."""

    experiment: Experiment
    variants: list[VariantResult]
    srm_p_value: float
    srm: bool
    days_running: float
    may_stop: bool
    leader_id: int | None
    verdict: str  # the stop rule's state as a plain sentence

    @property
    def exposures(self) -> int:
        return sum(v.exposures for v in self.variants)


def _stop_rule(experiment: Experiment) -> StopRule:
    return StopRule(
        min_days=experiment.min_days,
        min_exposures=experiment.min_exposures,
        risk_threshold=float(Decimal(experiment.risk_threshold_percent) / 100),
    )


def experiment_results(*, experiment: Experiment, now: dt.datetime | None = None) -> Results:
    """Per variant: exposures, conversions, rate, probability to be best, expected loss
    (:mod:`leadmill.core.stats`); the sample-ratio check against the split (flagged at
    p < 0.001); and the stop rule's decision with a sentence that explains it."""
    variants = list(experiment.variants.all())
    counts = {
        row["variant_id"]: (row["shown"], row["converted"])
        for row in Exposure.objects.filter(experiment=experiment)
        .values("variant_id")
        .annotate(shown=Count("id"), converted=Count("converted_at"))
        .order_by()
    }
    arms = [Arm(*counts.get(v.pk, (0, 0))) for v in variants]
    best = probability_to_be_best(arms) if len(arms) >= 2 else [1.0] * len(arms)
    risks = expected_loss(arms) if len(arms) >= 2 else [0.0] * len(arms)
    rows = [
        VariantResult(v.pk, v.label, v.weight, a.exposures, a.conversions, a.rate, p, r)
        for v, a, p, r in zip(variants, arms, best, risks, strict=True)
    ]
    if len(arms) >= 2:
        srm = sample_ratio_mismatch([a.exposures for a in arms], [v.weight for v in variants])
        srm_p, srm_flag = srm.p_value, srm.mismatch
    else:
        srm_p, srm_flag = 1.0, False
    end = experiment.ended_at or now or timezone.now()
    days = (end - experiment.started_at).total_seconds() / 86400 if experiment.started_at else 0.0
    rule = _stop_rule(experiment)
    may_stop, leader = (
        stop_decision(arms, days_running=days, rule=rule) if len(arms) >= 2 else (False, None)
    )
    return Results(
        experiment=experiment,
        variants=rows,
        srm_p_value=srm_p,
        srm=srm_flag,
        days_running=days,
        may_stop=may_stop,
        leader_id=rows[leader].variant_id if leader is not None else None,
        verdict=_verdict(experiment, rows, rule=rule, days=days, leader=leader),
    )


def _verdict(
    experiment: Experiment, rows: list[VariantResult], *, rule: StopRule, days: float, leader
) -> str:
    """The stop rule in one plain sentence: what it waits for, or which variant won."""
    if experiment.status == Experiment.Status.DRAFT:
        return _("Not started: start the test to show its variants to visitors.")
    if experiment.status == Experiment.Status.ENDED:
        if experiment.winner_id:
            return _("Ended: “%(label)s” was promoted and is now the page.") % {
                "label": experiment.winner.label
            }
        return _("Ended without a winner: the page shows its own content.")
    threshold = rule.risk_threshold * 100
    if days < rule.min_days:
        left = math.ceil(rule.min_days - days)
        return ngettext(
            "Keep the test running: it needs %(left)d more day before a winner may be called "
            "(minimum %(min)d days).",
            "Keep the test running: it needs %(left)d more days before a winner may be called "
            "(minimum %(min)d days).",
            left,
        ) % {"left": left, "min": rule.min_days}
    short = [row for row in rows if row.exposures < rule.min_exposures]
    if short:
        return _(
            "Keep the test running: every variant needs at least %(min)d visitors; "
            "“%(label)s” has %(count)d."
        ) % {"min": rule.min_exposures, "label": short[0].label, "count": short[0].exposures}
    if leader is None:
        lowest = min(rows, key=lambda row: row.expected_loss)
        return _(
            "Keep the test running: no variant is safe to choose yet. The leader, “%(label)s”, "
            "would still lose %(risk).2f percentage points of conversion rate on average "
            "(threshold %(threshold).2f)."
        ) % {"label": lowest.label, "risk": lowest.expected_loss * 100, "threshold": threshold}
    row = rows[leader]
    return _(
        "“%(label)s” wins: %(best).1f %% probability to be best, and choosing it loses at most "
        "%(risk).2f percentage points on average (under the %(threshold).2f threshold). "
        "Promote it to end the test."
    ) % {
        "label": row.label,
        "best": row.probability_best * 100,
        "risk": row.expected_loss * 100,
        "threshold": threshold,
    }


# --- The marketer's actions -----------------------------------------------------------------


def experiment_start(*, experiment: Experiment) -> Experiment:
    """Start showing the variants. Raises :class:`ValidationFailed` (what to fix) when the
    test has fewer than two variants, a variant with no share, or a page that is not live,
    and :class:`Conflict` when another test of the page is running."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.DRAFT:
            raise Conflict(_("This test has already been started."), code="already_started")
        variants = list(experiment.variants.all())
        if len(variants) < 2:
            raise ValidationFailed(
                _("Add at least two variants (e.g. the page as it is, and one change)."),
                code="too_few_variants",
            )
        if any(v.weight <= 0 for v in variants):
            raise ValidationFailed(
                _("Give every variant a share of visitors above 0."), code="zero_share"
            )
        if not experiment.page.live:
            raise ValidationFailed(
                _("Publish the landing page before testing it."), code="page_not_live"
            )
        if (
            Experiment.objects.filter(page_id=experiment.page_id, status=Experiment.Status.RUNNING)
            .exclude(pk=experiment.pk)
            .exists()
        ):
            raise Conflict(
                _("Another test of this page is running: end it first."), code="page_busy"
            )
        experiment.status = Experiment.Status.RUNNING
        experiment.started_at = timezone.now()
        experiment.save(update_fields=["status", "started_at"])
    running_tests_clear()
    return experiment


def experiment_stop(*, experiment: Experiment) -> Experiment:
    """End the test without a winner: the page shows its own content again."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.RUNNING:
            raise Conflict(_("This test is not running."), code="not_running")
        experiment.status = Experiment.Status.ENDED
        experiment.ended_at = timezone.now()
        experiment.save(update_fields=["status", "ended_at"])
    running_tests_clear()
    return experiment


def experiment_promote(*, experiment: Experiment, variant_id: int, user=None) -> Experiment:
    """End the test and publish the variant's content as the page (a new revision of the
    page, published, so the page's history shows it and it can be reverted). Raises
    :class:`Conflict` when the test is not running, :class:`ValidationFailed` for a variant
    of another test."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.RUNNING:
            raise Conflict(_("Only a running test can be promoted."), code="not_running")
        variant = experiment.variants.filter(pk=variant_id).first()
        if variant is None:
            raise ValidationFailed(_("This variant is not part of the test."), code="no_variant")
        if not variant.is_control:
            page = experiment.page.get_latest_revision_as_object()
            page = page_as_variant(page, variant)
            if variant.headline:
                page.draft_title = variant.headline
            page.save_revision(user=user, log_action=True).publish(user=user)
        experiment.status = Experiment.Status.ENDED
        experiment.ended_at = timezone.now()
        experiment.winner = variant
        experiment.save(update_fields=["status", "ended_at", "winner"])
    running_tests_clear()
    return experiment
