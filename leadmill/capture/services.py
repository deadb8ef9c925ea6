"""The submission pipeline: every form post from a page or an embed comes through here.

Two steps, as DESIGN.md asks of public hot paths ("validate, write once and return"):

1. :func:`submission_receive`, in the request: spam checks and validation in Python, then
   ONE insert of the submission — ``received`` (valid, waiting), ``rejected`` (with an error
   per field) or ``spam`` — and the answer. Nothing a person sent is lost, and the answer
   never claims a success that was not stored.
2. :func:`submissions_process`, in the worker, soon after commit: each received submission
   becomes a contact (upsert), its consents with their proof, the ``LeadCaptured`` event;
   many submissions per transaction, a savepoint each, so one failure marks only its own
   row ``error``. See docs/adr/0005-capture-writes-once-and-processes-in-batches.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.consent.services import ConsentProof, consents_record, ip_for_storage
from leadmill.contacts.services import PROFILE_FIELDS, Touch, contact_upsert
from leadmill.core import events
from leadmill.core.db import sqlite_writer_turn
from leadmill.core.errors import ValidationFailed
from leadmill.core.middleware import is_database_unavailable
from leadmill.tracking import bots
from leadmill.tracking.selectors import bot_rules_active

from . import tokens
from .events import CallToActionClicked, LeadCaptured
from .forms import HONEYPOT_FIELD, PAGE_FIELD, RENDER_TOKEN_FIELD, VISITOR_FIELD
from .models import CallToAction, Submission
from .selectors import FormDefinition

logger = logging.getLogger(__name__)

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_MAX_VALUE_LENGTH = 5000


@dataclasses.dataclass(frozen=True, kw_only=True)
class RequestMeta:
    """Facts about the HTTP request that a submission keeps as its context and proof."""

    ip_address: str | None = None
    user_agent: str = ""
    referrer: str = ""
    page_url: str = ""
    visitor_id: str = ""
    utm: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SubmissionOutcome:
    submission: Submission
    status: str
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def accepted_like(self) -> bool:
        """Received posts get the thank-you; so does spam, so bots learn nothing."""
        return self.status in (Submission.Status.RECEIVED, Submission.Status.ACCEPTED, Submission.Status.SPAM)


def _clean_raw(data: dict[str, Any]) -> dict[str, Any]:
    """What is kept verbatim: every posted value as text, capped, without our hidden fields."""
    kept: dict[str, Any] = {}
    for key, value in list(data.items())[:100]:
        if key in (RENDER_TOKEN_FIELD, VISITOR_FIELD):
            continue
        if isinstance(value, list | tuple):
            value = value[-1] if value else ""
        if isinstance(value, bool):
            value = "on" if value else ""
        kept[str(key)[:100]] = ("" if value is None else str(value))[:_MAX_VALUE_LENGTH]
    return kept


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    return value


@dataclasses.dataclass(frozen=True)
class PerIpLimit:
    """At most ``limit`` stored posts from one address in ``window_s`` seconds."""

    limit: int
    window_s: int


def submission_receive(
    *, definition: FormDefinition, data: dict[str, Any], meta: RequestMeta, per_ip: PerIpLimit | None = None
) -> SubmissionOutcome:
    """Check one form post and store it with one insert; processing follows in the worker.

    Never raises for bad input: the outcome carries the status (received, rejected with
    per-field errors, spam) and the stored row. With ``per_ip``, the insert itself counts
    the address's posts in the window and stores nothing past the limit: the outcome is
    then ``rate_limited`` and its submission has no ``pk``. Database outages propagate, so
    the edge answers 503 and nothing pretends to be saved.
    """
    form = definition.form
    raw = _clean_raw(data)
    status, errors, values, spam = _submission_check(definition, raw=raw, data=data)
    page_id = str(raw.get(PAGE_FIELD, ""))
    submission = Submission(
        form=form,
        status=status,
        data=raw,
        values=values,
        errors=errors,
        spam_reason=spam,
        page_id=int(page_id) if page_id.isdigit() and len(page_id) < 18 else None,
        page_url=meta.page_url[: _MAX_LENGTHS["page_url"]],
        referrer=meta.referrer[: _MAX_LENGTHS["referrer"]],
        ip_address=ip_for_storage(meta.ip_address),
        user_agent=meta.user_agent[: _MAX_LENGTHS["user_agent"]],
        visitor_id=meta.visitor_id[: _MAX_LENGTHS["visitor_id"]],
        **{name: str(meta.utm.get(name) or raw.get(name) or "")[: _MAX_LENGTHS[name]] for name in UTM_FIELDS},
    )
    if not _submission_insert(submission, per_ip=per_ip if submission.ip_address else None):
        return SubmissionOutcome(submission=submission, status=RATE_LIMITED)
    if spam:
        logger.info("submission %s of form %s stored as spam: %s", submission.pk, form.pk, spam)
    if status == Submission.Status.RECEIVED:
        transaction.on_commit(processing_schedule)
    return SubmissionOutcome(submission=submission, status=status, errors=errors)


RATE_LIMITED = "rate_limited"  # an outcome's status when nothing was stored: the address sent too many
_INSERT_COLUMNS = (
    "form_id", "status", "data", "values", "errors", "spam_reason", "page_id", "page_url", "referrer",
    *UTM_FIELDS, "ip_address", "user_agent", "visitor_id", "created_at",
)
_JSON_COLUMNS = frozenset({"data", "values", "errors"})
_MAX_LENGTHS = {
    field.name: field.max_length for field in Submission._meta.concrete_fields if field.max_length
}


@functools.cache
def _insert_sql(vendor: str, *, limited: bool) -> str:
    """The submission's INSERT, built once (``vendor`` only keys the cache: the SQL is the
    same on SQLite and PostgreSQL). ``limited``: insert only while the client address has
    fewer than N posts since a time — a bounded count on the (ip_address, created_at)
    index, in the same statement."""
    quote = connection.ops.quote_name
    table = quote(Submission._meta.db_table)
    columns = ", ".join(quote(Submission._meta.get_field(name).column) for name in _INSERT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(_INSERT_COLUMNS))
    if not limited:
        return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING id"  # noqa: S608 -- our names, bound values
    return (
        f"INSERT INTO {table} ({columns}) SELECT {placeholders} "  # noqa: S608 -- our names, bound values
        f"WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE ip_address = %s AND created_at >= %s "
        f"LIMIT %s) AS recent) < %s RETURNING id"
    )


def _submission_insert(submission: Submission, *, per_ip: PerIpLimit | None = None) -> bool:
    """Store a new submission with one ``INSERT … RETURNING id``; False when ``per_ip``
    refused it (nothing stored).

    The same row ``submission.save(force_insert=True)`` writes, without the ORM compiling
    that statement again on every form post (it was a third of the request's time), and
    with the per-address rate limit in the same statement: the form post's one round trip
    to the database (see ADR 5). Sets ``pk`` and ``created_at``.
    """
    ops = connection.ops
    submission.created_at = timezone.now()
    params = []
    for name in _INSERT_COLUMNS:
        value = getattr(submission, name)
        if name in _JSON_COLUMNS:
            value = ops.adapt_json_value(value, None)
        elif name == "created_at":
            value = ops.adapt_datetimefield_value(value)
        elif name == "ip_address":
            value = ops.adapt_ipaddressfield_value(value or None)
        params.append(value)
    if per_ip is not None:
        since = submission.created_at - dt.timedelta(seconds=per_ip.window_s)
        params += [
            ops.adapt_ipaddressfield_value(submission.ip_address), ops.adapt_datetimefield_value(since),
            per_ip.limit, per_ip.limit,
        ]
    # The cursor is made before the turn and closed after it: on SQLite one web writer at a
    # time, for as short as can be.
    with connection.cursor() as cursor, sqlite_writer_turn():
        cursor.execute(_insert_sql(connection.vendor, limited=per_ip is not None), params)
        rows = cursor.fetchall()  # read to its end, the statement (and on SQLite its commit) is over
    if not rows:
        return False
    submission.pk = rows[0][0]
    submission._state.adding = False
    submission._state.db = "default"
    return True


def _submission_check(
    definition: FormDefinition, *, raw: dict[str, Any], data: dict[str, Any]
) -> tuple[str, dict, dict, str]:
    """(status, errors, cleaned values, spam reason) of one post, without touching the database."""
    form = definition.form
    if raw.get(HONEYPOT_FIELD, "").strip():
        return Submission.Status.SPAM, {}, {}, "honeypot"
    read = tokens.render_token_read(str(data.get(RENDER_TOKEN_FIELD) or ""), form_id=form.pk)
    if read is None:
        return Submission.Status.SPAM, {}, {}, "render_token_invalid"
    age, omitted = read
    if age < settings.LEADMILL_FORM_MIN_SECONDS:
        return Submission.Status.SPAM, {}, {}, "too_fast"
    if not form.is_active:
        return Submission.Status.REJECTED, {"__all__": [_("This form no longer accepts submissions.")]}, {}, ""
    if age > settings.LEADMILL_FORM_MAX_SECONDS:
        message = _("This form was open for too long. Please check your details and send it again.")
        return Submission.Status.REJECTED, {"__all__": [message]}, {}, ""
    django_form = definition.form_class(data=raw)
    for name in omitted:  # progressive profiling left these out for this person
        if name != "email":
            django_form.fields.pop(name, None)
    if not django_form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in django_form.errors.items()}
        return Submission.Status.REJECTED, errors, {}, ""
    values = {name: _json_value(value) for name, value in django_form.cleaned_data.items()}
    # The consent text version each checkbox showed, kept with the answer as its proof.
    values["_consent_texts"] = {str(pid): text_id for pid, text_id in definition.consent_text_ids.items()}
    return Submission.Status.RECEIVED, {}, values, ""


# --- Processing in the worker ---------------------------------------------------------------

_schedule_lock = threading.Lock()
_last_scheduled = 0.0
SCHEDULE_EVERY_S = 0.25


def processing_schedule() -> None:
    """Ask the worker to process received submissions; at most every 0.25 s per process.

    The processing task keeps polling for a moment after it empties the queue, so posts
    that skip the enqueue here are picked up by the running task; a periodic task catches
    anything left behind (a crash, a full queue).
    """
    global _last_scheduled
    from huey.contrib.djhuey import HUEY

    from .tasks import submissions_process_task

    now = time.monotonic()
    if not HUEY.immediate:
        with _schedule_lock:
            if now - _last_scheduled < SCHEDULE_EVERY_S:
                return
            _last_scheduled = now
    try:
        submissions_process_task()
    except Exception:  # the queue is unreachable: the periodic task processes them later
        logger.exception("could not queue submission processing")


def submissions_process(*, limit: int = 200) -> int:
    """Process up to ``limit`` received submissions, oldest first, in one transaction.

    Each gets a savepoint: a failure marks only its own row ``error`` (kept, with the data).
    Returns how many were processed (accepted, rejected or error).
    """
    with transaction.atomic():
        pending = Submission.objects.filter(status=Submission.Status.RECEIVED).order_by("pk")
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        batch = list(pending.select_related("form")[:limit])
        for submission in batch:
            try:
                with transaction.atomic():
                    _submission_process(submission)
            except DatabaseError as exc:
                if is_database_unavailable(exc):
                    raise
                _mark_error(submission)
            except Exception:
                _mark_error(submission)
    return len(batch)


def _mark_error(submission: Submission) -> None:
    logger.exception("submission %s could not be processed; kept with status error", submission.pk)
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.ERROR)
    submission.status = Submission.Status.ERROR


def _submission_process(submission: Submission) -> None:
    form, values = submission.form, submission.values
    profile = {name: str(values.get(name) or "") for name in PROFILE_FIELDS if name in values}
    custom = {
        name.removeprefix("custom_"): value
        for name, value in values.items()
        if name.startswith("custom_") and value not in ("", None)
    }
    if values.get("message"):
        custom["last_message"] = values["message"]
    touch = Touch(
        source=submission.utm_source, medium=submission.utm_medium, campaign=submission.utm_campaign,
        referrer=submission.referrer, landing_url=submission.page_url, occurred_at=submission.created_at,
    )
    try:
        result = contact_upsert(
            email=values.get("email", ""), phone=values.get("phone", ""), profile=profile,
            custom=custom, touch=touch, cause=f"form:{form.slug}",
        )
    except ValidationFailed as exc:
        errors = {"email": [exc.message]}
        Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.REJECTED, errors=errors)
        submission.status, submission.errors = Submission.Status.REJECTED, errors
        return
    texts = {int(pid): text_id for pid, text_id in (values.get("_consent_texts") or {}).items()}
    if texts:
        consents_record(
            contact=result.contact,
            granted={pid: bool(values.get(f"consent_{key}")) for pid, key in _purpose_keys(texts).items()},
            texts=texts,
            proof=ConsentProof(
                form_id=form.pk, submission_id=submission.pk, page_url=submission.page_url,
                ip_address=submission.ip_address, user_agent=submission.user_agent,
                occurred_at=submission.created_at,
            ),
            # Marketing grants wait for the emailed link (handlers.request_opt_in_confirmation).
            double_opt_in=form.double_opt_in,
        )
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.ACCEPTED, contact=result.contact)
    submission.status, submission.contact = Submission.Status.ACCEPTED, result.contact
    events.publish(
        LeadCaptured(
            contact_id=result.contact.pk, submission_id=submission.pk, form_id=form.pk,
            offer_id=form.offer_id, created=result.created, occurred_at=submission.created_at,
        )
    )


def _purpose_keys(texts: dict[int, int]) -> dict[int, str]:
    from leadmill.consent.models import Purpose

    return dict(Purpose.objects.filter(pk__in=texts).values_list("pk", "key"))


def cta_click(*, cta: CallToAction, user_agent: str) -> bool:
    """Count one click on a call to action and publish it, unless the user agent is a
    bot's (tracking's :func:`~leadmill.tracking.bots.is_bot`: crawlerdetect's list and the
    admin's bot rules and exceptions; an empty user agent is a bot's). Returns whether the
    click was counted."""
    if bots.is_bot(user_agent, bot_rules_active()):
        return False
    with transaction.atomic():
        CallToAction.objects.filter(pk=cta.pk).update(clicks=F("clicks") + 1)
        events.publish(CallToActionClicked(cta_id=cta.pk, occurred_at=timezone.now()))
    return True


def offer_email_claim(*, submission_id: int) -> bool:
    """Claim the sending of a submission's offer email. True for exactly one caller, so an
    event delivered twice sends one email."""
    return (
        Submission.objects.filter(pk=submission_id, offer_emailed_at__isnull=True).update(
            offer_emailed_at=timezone.now()
        )
        == 1
    )


def offer_email_release(*, submission_id: int) -> None:
    """Undo a claim after a failed send, so a retry sends it."""
    Submission.objects.filter(pk=submission_id).update(offer_emailed_at=None)
