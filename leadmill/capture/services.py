"""The submission pipeline: every form post from a page or an embed comes through here.

Order matters and is the promise of DESIGN.md: the raw submission row is written first;
the rest (spam checks, validation, contact upsert, consents, the LeadCaptured event) runs in
a savepoint after it, so a failure there never loses what the person sent.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.consent.models import PurposeText
from leadmill.consent.services import ConsentProof, consents_record, ip_for_storage
from leadmill.contacts.services import PROFILE_FIELDS, Touch, contact_upsert
from leadmill.core import events
from leadmill.core.errors import ValidationFailed
from leadmill.core.middleware import is_database_unavailable

from . import tokens
from .events import CallToActionClicked, LeadCaptured
from .forms import HONEYPOT_FIELD, PAGE_FIELD, RENDER_TOKEN_FIELD, VISITOR_FIELD, lead_form_class
from .models import CallToAction, Form, Submission

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
    contact_id: int | None = None
    created: bool = False

    @property
    def accepted_like(self) -> bool:
        """Spam is answered exactly like a success, so bots learn nothing."""
        return self.status in (Submission.Status.ACCEPTED, Submission.Status.SPAM)


def _fit(field_name: str, value: str) -> str:
    """Cut a value to its Submission column's length, so the first insert never fails."""
    return str(value)[: Submission._meta.get_field(field_name).max_length]


def _clean_raw(data: dict[str, Any]) -> dict[str, Any]:
    """What is kept verbatim: every posted value as text, capped, without our hidden token."""
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


def submission_receive(*, form: Form, data: dict[str, Any], meta: RequestMeta) -> SubmissionOutcome:
    """Store one form post and process it: spam, validation, contact, consents, event.

    Never raises for bad input: the outcome carries status (accepted, rejected with
    per-field errors, spam) and the stored submission. Database outages propagate, so the
    edge answers 503 and nothing pretends to be saved.
    """
    raw = _clean_raw(data)
    utm = {name: _fit(name, meta.utm.get(name) or raw.get(name) or "") for name in UTM_FIELDS}
    page_id = raw.get(PAGE_FIELD, "")
    with transaction.atomic():
        submission = Submission.objects.create(
            form=form,
            data=raw,
            page_id=int(page_id) if str(page_id).isdigit() and len(str(page_id)) < 18 else None,
            page_url=_fit("page_url", meta.page_url),
            referrer=_fit("referrer", meta.referrer),
            ip_address=ip_for_storage(meta.ip_address),
            user_agent=_fit("user_agent", meta.user_agent),
            visitor_id=_fit("visitor_id", meta.visitor_id),
            **utm,
        )
        try:
            with transaction.atomic():
                return _submission_process(submission, form=form, data=data, raw=raw, meta=meta)
        except DatabaseError as exc:
            if is_database_unavailable(exc):
                raise  # the edge answers 503: nothing pretends to be saved
            logger.exception("submission %s hit a database error; kept with status error", submission.pk)
            Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.ERROR)
            submission.status = Submission.Status.ERROR
            return SubmissionOutcome(submission=submission, status=Submission.Status.ERROR)
        except Exception:
            logger.exception("submission %s could not be processed; kept with status error", submission.pk)
            Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.ERROR)
            submission.status = Submission.Status.ERROR
            return SubmissionOutcome(submission=submission, status=Submission.Status.ERROR)


def _spam_reason(form: Form, raw: dict[str, Any], data: dict[str, Any]) -> str:
    if raw.get(HONEYPOT_FIELD, "").strip():
        return "honeypot"
    age = tokens.render_token_age(str(data.get(RENDER_TOKEN_FIELD) or ""), form_id=form.pk)
    if age is None:
        return "render_token_invalid"
    if age < settings.LEADMILL_FORM_MIN_SECONDS:
        return "too_fast"
    return ""


def _submission_process(
    submission: Submission, *, form: Form, data: dict[str, Any], raw: dict[str, Any], meta: RequestMeta
) -> SubmissionOutcome:
    if spam := _spam_reason(form, raw, data):
        Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.SPAM, spam_reason=spam)
        submission.status, submission.spam_reason = Submission.Status.SPAM, spam
        logger.info("submission %s of form %s stored as spam: %s", submission.pk, form.pk, spam)
        return SubmissionOutcome(submission=submission, status=Submission.Status.SPAM)

    age = tokens.render_token_age(str(data.get(RENDER_TOKEN_FIELD) or ""), form_id=form.pk)
    if not form.is_active:
        return _reject(submission, {"__all__": [_("This form no longer accepts submissions.")]})
    if age is not None and age > settings.LEADMILL_FORM_MAX_SECONDS:
        return _reject(submission, {"__all__": [_("This form was open for too long. Please check your details and send it again.")]})

    django_form = lead_form_class(form)(data=raw)
    if not django_form.is_valid():
        return _reject(submission, {name: [str(e) for e in errs] for name, errs in django_form.errors.items()})
    values = django_form.cleaned_data

    profile = {name: str(values.get(name) or "") for name in PROFILE_FIELDS if name in values}
    custom = {
        name.removeprefix("custom_"): (value.isoformat() if hasattr(value, "isoformat") else
                                       float(value) if hasattr(value, "as_tuple") else value)
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
        return _reject(submission, {"email": [exc.message]})

    consent_rows = list(form.consents.all())
    if consent_rows:
        purpose_ids = [row.purpose_id for row in consent_rows]
        texts = _current_texts(purpose_ids)
        consents_record(
            contact=result.contact,
            granted={row.purpose_id: bool(values.get(row.name)) for row in consent_rows},
            texts=texts,
            proof=ConsentProof(
                form_id=form.pk, submission_id=submission.pk, page_url=submission.page_url,
                ip_address=meta.ip_address, user_agent=meta.user_agent, occurred_at=submission.created_at,
            ),
        )
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.ACCEPTED, contact=result.contact)
    submission.status, submission.contact = Submission.Status.ACCEPTED, result.contact
    events.publish(
        LeadCaptured(
            contact_id=result.contact.pk, submission_id=submission.pk, form_id=form.pk,
            offer_id=form.offer_id, created=result.created, occurred_at=submission.created_at,
        )
    )
    return SubmissionOutcome(
        submission=submission, status=Submission.Status.ACCEPTED, contact_id=result.contact.pk, created=result.created
    )


def _current_texts(purpose_ids: list[int]) -> dict[int, PurposeText]:
    texts: dict[int, PurposeText] = {}
    for text in PurposeText.objects.filter(purpose_id__in=purpose_ids).order_by("purpose_id", "-version"):
        texts.setdefault(text.purpose_id, text)
    return texts


def _reject(submission: Submission, errors: dict[str, list[str]]) -> SubmissionOutcome:
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.REJECTED, errors=errors)
    submission.status, submission.errors = Submission.Status.REJECTED, errors
    return SubmissionOutcome(submission=submission, status=Submission.Status.REJECTED, errors=errors)


def cta_click(*, cta: CallToAction) -> None:
    """Count one click on a call to action and publish it."""
    with transaction.atomic():
        CallToAction.objects.filter(pk=cta.pk).update(clicks=F("clicks") + 1)
        events.publish(CallToActionClicked(cta_id=cta.pk, occurred_at=timezone.now()))


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
