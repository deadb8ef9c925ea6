"""The intake of every channel but the web form post: the API, an import, lead ads and
Instagram, an inbound webhook. The one way in (DESIGN.md): each lead becomes a submission row
with its channel and (where the channel has one) its external id, written first; then the
one processing path of :mod:`.services` (:func:`.services.submissions_process`) records its
consents with their proof, upserts its contact and publishes ``LeadCaptured`` — in the
worker, or, for the API, at once in the request through the group writer (ADR 51).

A channel describes its lead with an :class:`IntakeLead` and hands it to
:func:`lead_intake` (one lead) or :func:`leads_intake_now` (many, processed at once).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from leadmill.consent.selectors import purpose_texts_stated
from leadmill.consent.services import ip_for_storage
from leadmill.contacts.identity import email_normalise, phone_normalise
from leadmill.contacts.services import UpsertResult
from leadmill.core import events
from leadmill.core.db import instances_insert
from leadmill.core.errors import ValidationFailed
from leadmill.core.group_commit import GroupCommit
from leadmill.tracking.sources import UTM_PARAMS

from .models import Form, Submission
from .services import (
    RequestMeta,
    _json_value,
    _storable,
    _submissions_process_or_mark_each,
    processing_schedule,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StatedConsent:
    """A consent answer a channel states for the person: the purpose (its key), the
    version of its text the person saw, and whether they agreed."""

    purpose: str
    text_version: int
    granted: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntakeOutcome:
    """What the intake did with one lead: its submission row; ``duplicate`` when an earlier
    delivery with the same external id was written (that row is returned, nothing new is
    stored). Processed now: ``upsert`` (its contact) when it was accepted, ``rejection``
    (why) when its contact could not be known; neither when processing failed (the row is
    an error, retried by the worker)."""

    submission: Submission
    duplicate: bool = False
    upsert: UpsertResult | None = None
    rejection: ValidationFailed | None = None


def _repeat_refusal(first: Submission, values: dict[str, Any]) -> ValidationFailed | None:
    """Why a repeated delivery's own body would be refused (its email or phone cannot be
    known), so a repeat of an accepted lead never answers for a body the intake would refuse;
    None for a first delivery that was itself refused (the caller says so)."""
    if first.status == Submission.Status.REJECTED:
        return None
    return _identity_refusal(values)


def _identity_refusal(values: dict[str, Any]) -> ValidationFailed | None:
    """Why the email or phone of ``values`` cannot be known, in the active language; None
    when both can."""
    try:
        if values.get("email"):
            email_normalise(str(values["email"]))
        if values.get("phone"):
            phone_normalise(str(values["phone"]))
    except ValidationFailed as refusal:
        return refusal
    return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntakeLead:
    """One lead as a channel hands it in.

    ``values`` are the lead's fields in the form's vocabulary (``email``, ``phone``,
    ``first_name`` … ``country``, ``message``, ``custom_<key>``); ``consents`` what the
    channel states the person agreed to, each with the text version they saw; ``meta`` the
    page, referrer and UTM tags the lead came with; ``external_id`` the channel's own id of
    the lead (unique per channel: a retried delivery returns the first one's row, marked
    ``duplicate``); ``author`` who hands the lead in for the person (``api_key:12``), kept
    as the author of its consent proof; ``form`` the form it answered, when it has one.
    """

    channel: str
    values: dict[str, Any]
    consents: Sequence[StatedConsent] = ()
    meta: RequestMeta = dataclasses.field(default_factory=RequestMeta)
    external_id: str = ""
    author: str = ""
    form: Form | None = None


def lead_intake(*, lead: IntakeLead, process_now: bool = False) -> IntakeOutcome:
    """Hand one lead from any channel but the web form post to capture: the one way in.

    The submission row is written first; then the one processing path
    (:func:`.services.submissions_process`) runs in the worker, or, with ``process_now``, in
    the same transaction (the API answers with the lead's id); its events then go to the
    worker's drain as a batch's do, in its next chain of deliveries (ADR 51). Raises
    ValidationFailed (``consent_unknown``) before anything is stored when a stated purpose
    or text version does not exist. Database outages propagate.
    """
    ready = _lead_now(lead)
    if process_now:
        return _processed_now.submit([ready])[0]
    submission = ready.submission
    with transaction.atomic():
        first = _submission_insert_or_first(submission)
        if first is not None:
            return IntakeOutcome(
                submission=first, duplicate=True, rejection=_repeat_refusal(first, lead.values)
            )
        transaction.on_commit(processing_schedule)
    return IntakeOutcome(submission=submission)


def leads_intake_now(*, leads: Sequence[IntakeLead]) -> list[IntakeOutcome | ValidationFailed]:
    """:func:`lead_intake` with ``process_now`` for many leads at once: written and
    processed in one transaction, set-based, each with its own outcome; a lead refused
    before anything is stored (``consent_unknown``) gets its ValidationFailed in its place
    and refuses no other. Database outages propagate."""
    answers: list[IntakeOutcome | ValidationFailed | None] = []
    ready: list[_LeadNow] = []
    for lead in leads:
        try:
            ready.append(_lead_now(lead))
            answers.append(None)
        except ValidationFailed as refusal:
            answers.append(refusal)
    outcomes = iter(_processed_now.submit(ready) if ready else [])
    return [answer if answer is not None else next(outcomes) for answer in answers]


def _lead_now(lead: IntakeLead) -> _LeadNow:
    """The unsaved submission row of a lead handed to :func:`lead_intake`, its stated
    consents resolved (ValidationFailed ``consent_unknown``)."""
    meta = lead.meta
    granted, texts, purpose_keys = _stated_consents_resolve(lead.consents)
    raw = {key: _json_value(value) for key, value in lead.values.items()}
    submission = Submission(
        channel=lead.channel,
        external_id=lead.external_id[:200],
        author=lead.author[:100],
        form=lead.form,
        status=Submission.Status.RECEIVED,
        data=raw,
        values={**raw, **granted, "_consent_texts": texts} if texts else raw,
        page_url=_storable(meta.page_url, "page_url"),
        referrer=_storable(meta.referrer, "referrer"),
        ip_address=ip_for_storage(meta.ip_address),
        user_agent=_storable(meta.user_agent, "user_agent"),
        visitor_id=_storable(meta.visitor_id, "visitor_id"),
        **{name: _storable(str(meta.utm.get(name) or ""), name) for name in UTM_PARAMS},
    )
    return _LeadNow(
        submission=submission, purpose_keys=purpose_keys, language=translation.get_language()
    )


def _submission_insert_or_first(submission: Submission) -> Submission | None:
    """Insert ``submission``; None, or, when its external id was written before (a repeated
    delivery), that first row, with nothing inserted. Inside a transaction."""
    if not submission.external_id:  # nothing can repeat (the one unique constraint)
        submission.save(force_insert=True)
        return None
    try:
        with transaction.atomic():
            submission.save(force_insert=True)
    except IntegrityError:
        first = Submission.objects.filter(
            channel=submission.channel, external_id=submission.external_id
        ).first()
        if first is None:
            raise
        logger.info(
            "submission %s: a repeated %s delivery, not stored again", first.pk, submission.channel
        )
        return first
    return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class _LeadNow:
    """A lead to write and process at once (``lead_intake(process_now=True)``): its
    unsaved submission row and its consents' purpose keys by id."""

    submission: Submission
    purpose_keys: dict[int, str]
    language: str | None = None  # of its request: another request's thread may write it


def _leads_process_now(groups: Sequence[list[_LeadNow]]) -> list[list[IntakeOutcome]]:
    """Write and process the leads of concurrent requests in one transaction: each row
    inserted (a repeated external id answered by its first row), then the one processing
    path set-based over all of them (:func:`.services._submissions_process_or_mark_each`),
    their events left for the worker's drain to deliver with its batch's (ADR 51). One
    outcome per lead, per group, in order."""
    leads = [lead for group in groups for lead in group]
    outcomes: list[IntakeOutcome | None] = [None] * len(leads)
    with transaction.atomic():
        # The rows without an external id in one INSERT (none can repeat); the others alone.
        instances_insert([x.submission for x in leads if not x.submission.external_id])
        fresh: list[int] = []
        ours: dict[int, Submission] = {}
        repeats: list[tuple[int, Submission]] = []
        for index, lead in enumerate(leads):
            first = None
            if lead.submission.external_id:
                first = _submission_insert_or_first(lead.submission)
            if first is None:
                fresh.append(index)
                ours[lead.submission.pk] = lead.submission
            else:  # a first row of this very group is ours, processed below
                repeats.append((index, ours.get(first.pk, first)))
        purpose_keys = {pk: key for lead in leads for pk, key in lead.purpose_keys.items()}
        # Not yet committed, so the worker's drain cannot take them meanwhile.
        with events.left_for_claim():
            processed = _submissions_process_or_mark_each(
                [leads[i].submission for i in fresh], purpose_keys=purpose_keys
            )
        for index, result in zip(fresh, processed, strict=True):
            submission, language = leads[index].submission, leads[index].language
            if isinstance(result, ValidationFailed) and language != translation.get_language():
                # Written by another request's thread: the refusal in this lead's language.
                with translation.override(language):
                    result = _identity_refusal(submission.data) or result
            if isinstance(result, ValidationFailed):
                outcomes[index] = IntakeOutcome(submission=submission, rejection=result)
            else:
                outcomes[index] = IntakeOutcome(submission=submission, upsert=result)
        for index, first in repeats:
            values = leads[index].submission.data
            with translation.override(leads[index].language):
                refusal = _repeat_refusal(first, values)
            outcomes[index] = IntakeOutcome(submission=first, duplicate=True, rejection=refusal)
        if fresh:
            transaction.on_commit(processing_schedule)  # the drain delivers their events
    answers, start = [], 0
    for group in groups:
        answers.append(outcomes[start : start + len(group)])
        start += len(group)
    return answers


# The web process's writer of leads processed at once (the API's): the requests that arrive
# while one group is written share the next one's transaction and set-based statements
# (leadmill.core.group_commit). A caller waits in its queue at most 10 s (then 503).
_processed_now: GroupCommit[list[_LeadNow], list[IntakeOutcome]] = GroupCommit(
    _leads_process_now, max_size=100, size=len, wait_s=10.0
)


def _stated_consents_resolve(
    consents: Sequence[StatedConsent],
) -> tuple[dict[str, bool], dict[str, int], dict[int, str]]:
    """The stated answers as a form post keeps them (``consent_<key>``: agreed, and the text
    version id per purpose id), so one processing path records them all; and each purpose's
    key by id (the processing's ``purpose_keys``, read here already)."""
    if not consents:
        return {}, {}, {}
    found = purpose_texts_stated({(c.purpose, c.text_version) for c in consents})
    granted: dict[str, bool] = {}
    texts: dict[str, int] = {}
    keys: dict[int, str] = {}
    problems: dict[str, list[str]] = {}
    for index, stated in enumerate(consents):
        text = found.get((stated.purpose, stated.text_version))  # (purpose id, text id)
        if text is None:
            problems[f"consents.{index}"] = [
                _("No consent purpose “%(purpose)s” with a text version %(version)s.")
                % {"purpose": stated.purpose, "version": stated.text_version}
            ]
            continue
        granted[f"consent_{stated.purpose}"] = stated.granted
        purpose_id, text_id = text
        texts[str(purpose_id)] = text_id
        keys[purpose_id] = stated.purpose
    if problems:
        raise ValidationFailed(
            _("Name each consent by a purpose key and a version of its text that exist."),
            code="consent_unknown",
            field_errors=problems,
        )
    return granted, texts, keys
