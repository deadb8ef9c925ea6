"""The submission pipeline: every form post from a page or an embed comes through here.

Two steps, as DESIGN.md asks of public hot paths ("validate, write once and return"):

1. :func:`submission_receive`, in the request: spam checks and validation in Python, then
   ONE insert of the submission — ``received`` (valid, waiting), ``rejected`` (with an error
   per field) or ``spam`` — and the answer. Nothing a person sent is lost, and the answer
   never claims a success that was not stored.
2. :func:`submissions_process`, in the worker, soon after commit: each received submission
   becomes a contact (upsert), its consents with their proof, the ``LeadCaptured`` event;
   many submissions per transaction, set-based (one statement per table for the batch),
   and when the batch fails each again in a savepoint of its own, so one failure marks
   only its own row ``error``. See docs/adr/0005-capture-writes-once-and-processes-in-batches.md
   and docs/adr/0042-set-based-capture-processing-and-two-drains.md.

The other channels (the API, an import, lead ads, an inbound webhook) hand their leads in
through :mod:`.intake`, which writes their rows and then takes the same processing path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.consent.models import Consent
from leadmill.consent.services import (
    ConsentAnswers,
    ConsentProof,
    consent_answers_record,
    ip_for_storage,
)
from leadmill.contacts.services import (
    PROFILE_FIELDS,
    ContactDetails,
    Touch,
    UpsertResult,
    contacts_upsert,
)
from leadmill.core import events
from leadmill.core.db import sqlite_writer_turn
from leadmill.core.errors import ValidationFailed
from leadmill.core.middleware import is_database_unavailable
from leadmill.core.text import text_for_storage, text_problem, value_problem
from leadmill.tracking import bots
from leadmill.tracking.selectors import bot_rules_active
from leadmill.tracking.sources import UTM_PARAMS, Source, host_of, source_of

from . import tokens
from .events import CallToActionClicked, LeadCaptured
from .forms import HONEYPOT_FIELD, PAGE_FIELD, RENDER_TOKEN_FIELD, VISITOR_FIELD
from .models import CallToAction, Channel, Submission
from .proof import PROOF_FIELD, proof_accept
from .selectors import FormDefinition, event_full, form_definition, lead_language

logger = logging.getLogger(__name__)

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
    channel: str = Channel.WEB_FORM  # a web post from a site the form is embedded on: Channel.EMBED


# Spam reasons of a valid post that came without the proof-of-work it needed (capture/proof.py).
TOO_FAST = "too_fast"
RENDER_TOKEN_REUSED = "render_token_reused"  # noqa: S105 (a reason, not a secret)
UNPROVEN_REASONS = (TOO_FAST, RENDER_TOKEN_REUSED)
RENDER_TOKEN_WINDOW_S = (
    3600  # posts per token are counted per hour (the shared store keeps an hour)
)


@dataclasses.dataclass(frozen=True)
class SubmissionOutcome:
    submission: Submission
    status: str
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def unproven(self) -> bool:
        """Valid, but sent too soon or with an over-used token, and without the proof: a
        bot is answered as for any spam; a page without JavaScript asks to send it again."""
        return (
            self.status == Submission.Status.SPAM
            and self.submission.spam_reason in UNPROVEN_REASONS
        )

    @property
    def accepted_like(self) -> bool:
        """Received posts get the thank-you; so does spam, so bots learn nothing."""
        return self.status in (
            Submission.Status.RECEIVED,
            Submission.Status.ACCEPTED,
            Submission.Status.SPAM,
        )


def _clean_raw(data: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What is kept verbatim: every posted value as text, capped, without our hidden fields;
    and the posted fields that cannot be taken, each with why (the one input edge,
    :mod:`leadmill.core.text`). What is kept can always be stored: a character no column
    holds (NUL, a lone surrogate) is kept as U+FFFD."""
    kept: dict[str, str] = {}
    problems: dict[str, list[str]] = {}
    for key, value in list(data.items())[:100]:
        if key in (RENDER_TOKEN_FIELD, VISITOR_FIELD, PROOF_FIELD):
            continue
        name = text_for_storage(str(key)[:100])
        text, problem = _raw_value(value)
        kept[name] = text
        if problem is None:
            problem = text_problem(str(key))
        if problem is not None:
            problems[name] = [problem]
    return kept, problems


def _raw_value(value: Any) -> tuple[str, str | None]:
    """One posted value as the text kept, and why it cannot be taken (``None``: it can).

    A form field holds text, a number or true / false; a list (a field posted twice) is
    its last value. Text follows the multi-line rule here: the form's own fields say
    where a line break is not allowed (:func:`.forms.lead_form_class`).
    """
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    if isinstance(value, bool):
        value = "on" if value else ""
    if value is None:
        value = ""
    if isinstance(value, dict | list | tuple):
        return "", _("Send this field as text, a number or true / false.")
    problem = value_problem(value)
    return text_for_storage(str(value)[:_MAX_VALUE_LENGTH]), problem


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
    *,
    definition: FormDefinition,
    data: dict[str, Any],
    meta: RequestMeta,
    per_ip: PerIpLimit | None = None,
    undecodable: dict[str, str] | None = None,
) -> SubmissionOutcome:
    """Check one form post and store it with one insert; processing follows in the worker.

    Never raises for bad input: the outcome carries the status (received, rejected with
    per-field errors, spam) and the stored row. A post is received only when every posted
    value passes the one input edge (:mod:`leadmill.core.text`) and the form's fields, so
    the worker never meets a value it cannot process; ``undecodable`` names the fields the
    edge could not decode at all (a value nested too deeply), with why. A valid post sent
    sooner than the minimum fill time, or with a render token that already made
    ``LEADMILL_FORM_TOKEN_POSTS`` posts this hour (counted by the insert itself, in the
    stored submissions: ADR 27), is received only with a solved proof-of-work (:mod:`.proof`);
    without it, it is stored as spam with its validated values (it can be reprocessed). With ``per_ip``, the insert itself counts
    the address's posts in the window and stores nothing past the limit: the outcome is
    then ``rate_limited`` and its submission has no ``pk``. Database outages propagate, so
    the edge answers 503 and nothing pretends to be saved.
    """
    form = definition.form
    raw, problems = _clean_raw(data)
    for name, problem in (undecodable or {}).items():
        name = text_for_storage(name[:100])
        raw.setdefault(name, "")
        problems[name] = [problem]
    status, errors, values, spam, token_id = _submission_check(
        definition, raw=raw, data=data, problems=problems
    )
    page_id = str(raw.get(PAGE_FIELD, ""))
    submission = Submission(
        channel=meta.channel,
        form=form,
        status=status,
        data=raw,
        values=values,
        errors=errors,
        spam_reason=spam,
        page_id=int(page_id)
        if page_id.isascii() and page_id.isdigit() and len(page_id) < 18
        else None,
        page_url=_storable(meta.page_url, "page_url"),
        referrer=_storable(meta.referrer, "referrer"),
        ip_address=ip_for_storage(meta.ip_address),
        user_agent=_storable(meta.user_agent, "user_agent"),
        visitor_id=_storable(meta.visitor_id, "visitor_id"),
        render_token_id=token_id,
        **{
            name: _storable(str(meta.utm.get(name) or raw.get(name) or ""), name)
            for name in UTM_PARAMS
        },
    )
    per_ip = per_ip if submission.ip_address else None
    inserted = _submission_insert(submission, per_ip=per_ip, per_token=bool(token_id))
    if not inserted and token_id and _render_token_used_up(nonce=token_id):
        status, spam = _render_token_reused(submission, data=data)
        inserted = _submission_insert(submission, per_ip=per_ip)
    if not inserted:
        return SubmissionOutcome(submission=submission, status=RATE_LIMITED)
    if spam:
        logger.info("submission %s of form %s stored as spam: %s", submission.pk, form.pk, spam)
    if status == Submission.Status.RECEIVED:
        transaction.on_commit(processing_schedule)
    return SubmissionOutcome(submission=submission, status=status, errors=errors)


RATE_LIMITED = (
    "rate_limited"  # an outcome's status when nothing was stored: the address sent too many
)
_INSERT_COLUMNS = (
    "channel",
    "form_id",
    "status",
    "data",
    "values",
    "errors",
    "spam_reason",
    "page_id",
    "page_url",
    "referrer",
    *UTM_PARAMS,
    "ip_address",
    "user_agent",
    "visitor_id",
    "render_token_id",
    "created_at",
)
_JSON_COLUMNS = frozenset({"data", "values", "errors"})
_MAX_LENGTHS = {
    field.name: field.max_length for field in Submission._meta.concrete_fields if field.max_length
}


@functools.cache
def _insert_sql(vendor: str, *, limited: bool, per_token: bool = False) -> str:
    """The submission's INSERT, built once (``vendor`` only keys the cache: the SQL is the
    same on SQLite and PostgreSQL). ``limited``: insert only while the client address has
    fewer than N posts since a time — a bounded count on the (ip_address, created_at)
    index, in the same statement. ``per_token``: likewise only while the row's render
    token has fewer than N counted posts (the partial (render_token_id, created_at) index;
    its condition is repeated as the migration wrote it: SQLite uses a partial index only
    for a query that has the very same term)."""
    quote = connection.ops.quote_name
    table = quote(Submission._meta.db_table)
    columns = ", ".join(quote(Submission._meta.get_field(name).column) for name in _INSERT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(_INSERT_COLUMNS))
    if not limited and not per_token:
        return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING id"  # noqa: S608 -- our names, bound values
    conditions = []
    if limited:
        conditions.append(
            f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE ip_address = %s AND created_at >= %s "  # noqa: S608
            f"LIMIT %s) AS recent) < %s"
        )
    if per_token:
        conditions.append(
            f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE render_token_id = %s AND NOT (render_token_id = '') "  # noqa: S608
            f"AND created_at >= %s LIMIT %s) AS used) < %s"
        )
    return (
        f"INSERT INTO {table} ({columns}) SELECT {placeholders} "  # noqa: S608 -- our names, bound values
        f"WHERE {' AND '.join(conditions)} RETURNING id"
    )


def _submission_insert(
    submission: Submission, *, per_ip: PerIpLimit | None = None, per_token: bool = False
) -> bool:
    """Store a new submission with one ``INSERT … RETURNING id``; False when ``per_ip``
    or ``per_token`` refused it (nothing stored).

    The same row ``submission.save(force_insert=True)`` writes, without the ORM compiling
    that statement again on every form post (it was a third of the request's time), and
    with the rate limits in the same statement: the per-address limit, and with
    ``per_token`` the valid posts of its render token this hour
    (``LEADMILL_FORM_TOKEN_POSTS``, ADR 13): the form post's one round trip to the
    database (see ADR 5 and ADR 27). Sets ``pk`` and ``created_at``.
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
            ops.adapt_ipaddressfield_value(submission.ip_address),
            ops.adapt_datetimefield_value(since),
            per_ip.limit,
            per_ip.limit,
        ]
    if per_token:
        since = submission.created_at - dt.timedelta(seconds=RENDER_TOKEN_WINDOW_S)
        limit = settings.LEADMILL_FORM_TOKEN_POSTS
        params += [submission.render_token_id, ops.adapt_datetimefield_value(since), limit, limit]
    # The cursor is made before the turn and closed after it: on SQLite one web writer at a
    # time, for as short as can be.
    with connection.cursor() as cursor, sqlite_writer_turn():
        cursor.execute(
            _insert_sql(connection.vendor, limited=per_ip is not None, per_token=per_token), params
        )
        rows = (
            cursor.fetchall()
        )  # read to its end, the statement (and on SQLite its commit) is over
    if not rows:
        return False
    submission.pk = rows[0][0]
    submission._state.adding = False
    submission._state.db = "default"
    return True


def _storable(value: str, column: str) -> str:
    """A request fact (a header, the page's URL) as its column can hold it: cut to fit, and
    without the characters no column holds."""
    return text_for_storage(value[: _MAX_LENGTHS[column]])


def _submission_check(
    definition: FormDefinition,
    *,
    raw: dict[str, Any],
    data: dict[str, Any],
    problems: dict[str, list[str]],
) -> tuple[str, dict, dict, str, str]:
    """(status, errors, cleaned values, spam reason, render token id) of one post. Touches
    the database only to count a proof-of-work as used. ``problems``: the posted fields the
    input edge refused, each with why. The render token id is set on a valid post whose
    token's posts are to be counted: the insert counts them (:func:`_submission_insert`),
    and a post past the limit is judged again by :func:`_render_token_reused`."""
    form = definition.form
    if raw.get(HONEYPOT_FIELD, "").strip():
        return Submission.Status.SPAM, {}, {}, "honeypot", ""
    read = tokens.render_token_read(str(data.get(RENDER_TOKEN_FIELD) or ""), form_id=form.pk)
    if read is None:
        return Submission.Status.SPAM, {}, {}, "render_token_invalid", ""
    if not form.is_active:
        return (
            Submission.Status.REJECTED,
            {"__all__": [_("This form no longer accepts submissions.")]},
            {},
            "",
            "",
        )
    if read.age > settings.LEADMILL_FORM_MAX_SECONDS:
        message = _("This form was open for too long. Please check your details and send it again.")
        return Submission.Status.REJECTED, {"__all__": [message]}, {}, "", ""
    # Validated first, even when too fast: a quick person sees their mistakes as usual.
    status, errors, values = _submission_validate(
        definition, raw=raw, omitted=read.omitted, problems=problems
    )
    if status == Submission.Status.REJECTED:
        return status, errors, {}, "", ""
    unproven = ""
    if read.age < settings.LEADMILL_FORM_MIN_SECONDS:
        unproven = TOO_FAST
    elif not read.nonce:  # a token made before tokens had an id: its posts cannot be counted
        unproven = RENDER_TOKEN_REUSED
    if unproven and not proof_accept(payload=str(data.get(PROOF_FIELD) or ""), form_id=form.pk):
        return Submission.Status.SPAM, {}, values, unproven, ""
    return Submission.Status.RECEIVED, {}, values, "", "" if unproven else read.nonce


def _render_token_used_up(*, nonce: str) -> bool:
    """True when the render token ``nonce`` already made LEADMILL_FORM_TOKEN_POSTS counted
    posts this hour. A read (no write lock on SQLite), asked only when the insert refused
    a post, to tell a used-up token from the per-address limit."""
    limit = settings.LEADMILL_FORM_TOKEN_POSTS
    since = timezone.now() - dt.timedelta(seconds=RENDER_TOKEN_WINDOW_S)
    used = Submission.objects.filter(render_token_id=nonce, created_at__gte=since).exclude(
        render_token_id=""
    )
    return used.order_by()[:limit].count() >= limit


def _render_token_reused(submission: Submission, *, data: dict[str, Any]) -> tuple[str, str]:
    """A valid post on a used-up render token: received only with a solved proof-of-work,
    else spam (kept with its validated values). Sets and returns (status, spam reason)."""
    if proof_accept(payload=str(data.get(PROOF_FIELD) or ""), form_id=submission.form_id):
        submission.status, submission.spam_reason = Submission.Status.RECEIVED, ""
    else:
        submission.status, submission.spam_reason = Submission.Status.SPAM, RENDER_TOKEN_REUSED
    return submission.status, submission.spam_reason


def _submission_validate(
    definition: FormDefinition,
    *,
    raw: dict[str, Any],
    omitted: frozenset[str] = frozenset(),
    problems: dict[str, list[str]] | None = None,
) -> tuple[str, dict, dict]:
    """(received or rejected, errors, cleaned values) of what was sent, by the form's rules;
    ``problems``: the posted fields the input edge refused, each with why."""
    django_form = definition.form_class(data=raw)
    for name in omitted:  # progressive profiling left these out for this person
        if name != "email":
            django_form.fields.pop(name, None)
    if not django_form.is_valid() or problems:
        errors = {name: [str(e) for e in errs] for name, errs in django_form.errors.items()}
        errors.update(problems or {})  # the edge's reason is the clearer one for these fields
        return Submission.Status.REJECTED, errors, {}
    if full := event_full(definition.form.offer):
        return Submission.Status.REJECTED, {"__all__": [full]}, {}
    values = {name: _json_value(value) for name, value in django_form.cleaned_data.items()}
    # The consent text version each checkbox showed, kept with the answer as its proof.
    values["_consent_texts"] = {
        str(pid): text_id for pid, text_id in definition.consent_text_ids.items()
    }
    return Submission.Status.RECEIVED, {}, values


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


def submissions_waiting() -> bool:
    """Whether any submission waits to be processed (``received``)."""
    return Submission.objects.filter(status=Submission.Status.RECEIVED).exists()


def submissions_process(*, limit: int = 200) -> int:
    """Process up to ``limit`` received submissions, oldest first, in one transaction.

    Set-based (:func:`_submissions_process`: one statement per table for the batch) in a
    savepoint; when that raises, each submission is processed again alone, in a savepoint
    of its own, so a failure marks only its own row ``error`` (kept, with the data).
    Returns how many were processed (accepted, rejected or error).
    """
    with transaction.atomic():
        pending = Submission.objects.filter(status=Submission.Status.RECEIVED).order_by("pk")
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            # Only the submission rows: a lead without a form joins none (an outer join).
            pending = pending.select_for_update(skip_locked=True, of=("self",))
        batch = list(pending.select_related("form")[:limit])
        _submissions_process_or_mark_each(batch, purpose_keys={})  # keys read once per batch
    return len(batch)


def _submissions_process_or_mark_each(
    batch: list[Submission], *, purpose_keys: dict[int, str]
) -> list[UpsertResult | ValidationFailed | None]:
    """Process ``batch`` set-based (:func:`_submissions_process`) in a savepoint; when that
    raises, each submission alone in a savepoint of its own, so a failure marks only its own
    row ``error``. A database outage propagates. Returns what each one's processing returned
    (None for an error)."""
    if len(batch) > 1:
        try:
            with transaction.atomic():
                return _submissions_process(batch, purpose_keys=purpose_keys)
        except DatabaseError as exc:
            if is_database_unavailable(exc):
                raise
            logger.warning(
                "processing batch of submissions %s… failed; processing them one by one",
                batch[0].pk,
                exc_info=True,
            )
        except Exception:
            logger.warning(
                "processing batch of submissions %s… failed; processing them one by one",
                batch[0].pk,
                exc_info=True,
            )
    return [_submission_process_or_mark(s, purpose_keys=purpose_keys) for s in batch]


def _submission_process_or_mark(
    submission: Submission, *, purpose_keys: dict[int, str] | None = None
) -> UpsertResult | ValidationFailed | None:
    """Process one row in a savepoint; a failure marks only this row ``error`` (with its
    retry time). A database outage propagates: nothing is marked that was not tried.
    Returns what :func:`_submissions_process` returns for it; None for an error."""
    try:
        with transaction.atomic():
            return _submissions_process([submission], purpose_keys=purpose_keys)[0]
    except DatabaseError as exc:
        if is_database_unavailable(exc):
            raise
        _mark_error(submission)
    except Exception:
        _mark_error(submission)
    return None


RETRY_FIRST_AFTER_S = 60  # then four times longer after each failure: 1, 4, 16, 64 minutes …


def _mark_error(submission: Submission) -> None:
    """Keep the row as ``error``; while it has attempts left, with the time of its retry."""
    attempts = submission.processing_attempts + 1
    retry_at = None
    if attempts < settings.LEADMILL_SUBMISSION_PROCESS_ATTEMPTS:
        retry_at = timezone.now() + dt.timedelta(seconds=RETRY_FIRST_AFTER_S * 4 ** (attempts - 1))
    logger.exception(
        "submission %s could not be processed (attempt %s of %s); %s",
        submission.pk,
        attempts,
        settings.LEADMILL_SUBMISSION_PROCESS_ATTEMPTS,
        "retried later" if retry_at else "given up",
    )
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.ERROR, processing_attempts=attempts, retry_at=retry_at
    )
    submission.status, submission.processing_attempts, submission.retry_at = (
        Submission.Status.ERROR,
        attempts,
        retry_at,
    )


def submissions_retry_due(*, now: dt.datetime | None = None) -> int:
    """Put the errors whose retry time has come back in the processing queue (``received``),
    for the drain to process. Returns how many. An error with no retry time was given up
    (it stays listed in the back office, where a person can reprocess it)."""
    due = Submission.objects.filter(
        status=Submission.Status.ERROR, retry_at__lte=now or timezone.now()
    )
    return due.update(status=Submission.Status.RECEIVED, retry_at=None)


REPROCESSABLE = (Submission.Status.SPAM, Submission.Status.ERROR)


def submission_reprocess(*, submission_id: int) -> str | None:
    """Process again, at once, a submission stored as spam or ended in error, because a
    person judged it: its spam checks are skipped, not its validation.

    A row kept with validated values (an error, or spam that was only too fast) is processed
    with them, with the consent texts it showed; any other spam is validated again by the
    form as it is now. Returns the row's new status (``accepted``, ``rejected`` with its
    errors, or ``error`` with a retry scheduled), or None when the row is neither spam nor
    error (nothing changes; e.g. someone reprocessed it first). Database outages propagate.
    """
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update(of=("self",))
            .select_related("form")
            .filter(pk=submission_id, status__in=REPROCESSABLE)
            .first()
        )
        if submission is None:
            return None
        values = submission.values
        if not values and submission.form_id is not None:
            definition = form_definition(slug=submission.form.slug)
            status, errors, values = _submission_validate(definition, raw=submission.data)
            if status == Submission.Status.REJECTED:
                Submission.objects.filter(pk=submission.pk).update(status=status, errors=errors)
                return status
        Submission.objects.filter(pk=submission.pk).update(
            status=Submission.Status.RECEIVED, values=values, retry_at=None
        )
        submission.status, submission.values, submission.retry_at = (
            Submission.Status.RECEIVED,
            values,
            None,
        )
        _submission_process_or_mark(submission)
        return submission.status


# How each channel's consent proof is recorded: a person's own form (ours, an embed, a lead
# ad's form) or a caller who states the answer for the person (the API, an import, a webhook).
_CONSENT_METHODS = {
    Channel.API: Consent.Method.API,
    Channel.INBOUND_WEBHOOK: Consent.Method.API,
    Channel.IMPORT: Consent.Method.IMPORT,
}


def _submissions_process(
    submissions: list[Submission], *, purpose_keys: dict[int, str] | None = None
) -> list[UpsertResult | ValidationFailed]:
    """The one processing path of every channel's lead, for a batch (a list of one when
    processed alone): upsert the contacts, record their consents with their proof, classify
    each source once with tracking's vocabulary, mark the rows accepted and publish
    ``LeadCaptured``; one statement per table for the batch (:func:`contacts_upsert`,
    :func:`consent_answers_record`, one UPDATE of the rows, one outbox INSERT). Returns each
    submission's contact upsert, in order. A lead whose contact cannot be known (a malformed
    email, no email nor phone) is marked rejected; the reason is returned in its place (not
    raised: the row's status is the outcome). ``purpose_keys``: the consent purposes' keys
    already read by this batch (filled in)."""
    upserts = contacts_upsert(details=[_contact_details(s) for s in submissions])
    answers: list[ConsentAnswers] = []
    accepted: list[Submission] = []
    for submission, result in zip(submissions, upserts, strict=True):
        if isinstance(result, ValidationFailed):
            errors = {"email": [result.message]}
            Submission.objects.filter(pk=submission.pk).update(
                status=Submission.Status.REJECTED, errors=errors
            )
            submission.status, submission.errors = Submission.Status.REJECTED, errors
            continue
        form, values = submission.form, submission.values
        texts = {int(pid): text_id for pid, text_id in (values.get("_consent_texts") or {}).items()}
        if texts:
            answers.append(
                ConsentAnswers(
                    contact=result.contact,
                    granted={
                        pid: bool(values.get(f"consent_{key}"))
                        for pid, key in _purpose_keys(texts, known=purpose_keys).items()
                    },
                    texts=texts,
                    proof=ConsentProof(
                        method=_CONSENT_METHODS.get(submission.channel, Consent.Method.FORM),
                        form_id=submission.form_id,
                        submission_id=submission.pk,
                        page_url=submission.page_url,
                        ip_address=submission.ip_address,
                        user_agent=submission.user_agent,
                        occurred_at=submission.created_at,
                        author=submission.author,
                    ),
                    # Marketing grants wait for the emailed link (handlers.request_opt_in_confirmation).
                    double_opt_in=bool(form and form.double_opt_in),
                )
            )
        submission.status, submission.contact = Submission.Status.ACCEPTED, result.contact
        accepted.append(submission)
    consent_answers_record(answers=answers)
    _submissions_accepted_write(accepted)
    events.publish_many(
        [
            LeadCaptured(
                contact_id=submission.contact_id,
                submission_id=submission.pk,
                form_id=submission.form_id,
                offer_id=submission.form.offer_id if submission.form else None,
                created=result.created,
                occurred_at=submission.created_at,
                channel=submission.channel,
                source_channel=submission.source_channel,
                source=submission.source,
                medium=submission.medium,
                campaign=submission.campaign,
            )
            for submission, result in zip(submissions, upserts, strict=True)
            if submission.status == Submission.Status.ACCEPTED
        ]
    )
    return upserts


def _contact_details(submission: Submission) -> ContactDetails:
    """What a submission says about its person, for the contact's upsert (and its source,
    classified: :func:`_submission_touch`)."""
    form, values = submission.form, submission.values
    profile = {name: str(values.get(name) or "") for name in PROFILE_FIELDS if name in values}
    # The language of the page (or form) the lead converted on: its emails follow it.
    if not profile.get("language") and (
        language := lead_language(page_id=submission.page_id, form=form)
    ):
        profile["language"] = language
    custom = {
        name.removeprefix("custom_"): value
        for name, value in values.items()
        if name.startswith("custom_") and value not in ("", None)
    }
    if values.get("message"):
        custom["last_message"] = values["message"]
    return ContactDetails(
        email=values.get("email", ""),
        phone=values.get("phone", ""),
        profile=profile,
        custom=custom,
        touch=_submission_touch(submission),
        cause=f"form:{form.slug}" if form else submission.channel,
    )


_ACCEPTED_COLUMNS = ("contact_id", "source_channel", "source", "medium", "campaign")


def _submissions_accepted_write(submissions: list[Submission]) -> None:
    """Mark processed rows accepted with their contact and classified source: one
    ``UPDATE … FROM`` the rows' values for them all: on PostgreSQL one JSON document
    (``jsonb_to_recordset``: a statement psycopg parses once, ADR 63), on SQLite a
    ``VALUES`` list."""
    if not submissions:
        return
    quote = connection.ops.quote_name
    table = quote(Submission._meta.db_table)
    sets = ", ".join(
        f"{quote(Submission._meta.get_field(name.removesuffix('_id')).column)} = "
        + (f"CAST(v.{quote(name)} AS BIGINT)" if name == "contact_id" else f"v.{quote(name)}")
        for name in _ACCEPTED_COLUMNS
    )
    rows = [
        (submission.pk, *(getattr(submission, name) for name in _ACCEPTED_COLUMNS))
        for submission in submissions
    ]
    if connection.vendor == "postgresql":
        types = ", ".join(
            f"{quote(name)} {'bigint' if name.endswith('id') else 'text'}"
            for name in ("id", *_ACCEPTED_COLUMNS)
        )
        rows_sql = f"v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r ({types}))"  # noqa: S608 -- our names
        params: list[Any] = [
            json.dumps([dict(zip(("id", *_ACCEPTED_COLUMNS), row, strict=True)) for row in rows])
        ]
    else:
        names = ", ".join(quote(name) for name in ("id", *_ACCEPTED_COLUMNS))
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
        rows_sql = f"v ({names}) AS (VALUES {values})"
        params = [value for row in rows for value in row]
    sql = (
        f"WITH {rows_sql} UPDATE {table} SET {quote('status')} = %s, {sets} "  # noqa: S608 -- our names, bound values
        f"FROM v WHERE {table}.{quote('id')} = CAST(v.{quote('id')} AS BIGINT)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Submission.Status.ACCEPTED])


def _submission_touch(submission: Submission) -> Touch | None:
    """The submission's source, classified once by tracking (:func:`~leadmill.tracking.sources.source_of`):
    set on the submission (``source_channel``, ``source``, ``medium``, ``campaign``) and
    returned as the contact's touch, with the raw UTM values beside it. None when the lead
    came with no source at all (an API call without tags): the contact's touch is left as it is."""
    utm = {name: getattr(submission, name) for name in UTM_PARAMS}
    if not (any(utm.values()) or submission.referrer or submission.page_url):
        return None
    source = source_classify(utm=utm, referrer=submission.referrer, page_url=submission.page_url)
    submission.source_channel = source.channel if source.is_touch else ""
    submission.source, submission.medium, submission.campaign = (
        source.source,
        source.medium,
        source.campaign,
    )
    return Touch(
        channel=submission.source_channel,
        source=source.source,
        medium=source.medium,
        campaign=source.campaign,
        utm_source=submission.utm_source,
        utm_medium=submission.utm_medium,
        utm_campaign=submission.utm_campaign,
        referrer=submission.referrer,
        landing_url=submission.page_url,
        occurred_at=submission.created_at,
    )


def source_classify(*, utm: dict[str, str], referrer: str, page_url: str) -> Source:
    """A lead's :class:`~leadmill.tracking.sources.Source` in tracking's one vocabulary: its
    UTM tags (those given win over the page URL's), the ad click ids in the page URL, and
    its referrer (a referrer on Leadmill's own site, or the page itself, is not a touch).
    Pure: the data migration that classified the stored values calls it too."""
    own_hosts = frozenset(host for host in (host_of(settings.BASE_URL),) if host)
    source, _click_ids = source_of(url=page_url, referrer=referrer, utm=utm, own_hosts=own_hosts)
    return source


def _purpose_keys(texts: dict[int, int], *, known: dict[int, str] | None = None) -> dict[int, str]:
    """The keys of the purposes of ``texts``; ``known`` (the batch's) is read first and
    filled in."""
    from leadmill.consent.models import Purpose

    known = {} if known is None else known
    missing = [pk for pk in texts if pk not in known]
    if missing:
        known.update(Purpose.objects.filter(pk__in=missing).values_list("pk", "key"))
    return {pk: known[pk] for pk in texts if pk in known}


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
