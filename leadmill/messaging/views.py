"""Public endpoints of email: open pixel, click redirect, one-click unsubscribe and
the preference centre. Thin: read the signed token, call a service, answer.

None of them needs a session: the signed token in the address is what proves the visitor
holds the email (see :mod:`.tokens`). Only the click redirect sets a cookie: the tracker's
visitor id, when the browser has none (ADR 57).
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from leadmill.consent.models import Consent, Purpose
from leadmill.consent.selectors import consent_current
from leadmill.consent.services import ConsentProof, consents_record, marketing_unsubscribe
from leadmill.core import events
from leadmill.core.http import PIXEL_GIF, client_ip
from leadmill.core.ratelimit import rate_limit_hit
from leadmill.tracking.schemas import VISITOR_COOKIE, VISITOR_COOKIE_AGE, visitor_id_valid

from . import scanners, tokens
from .events import MessageUnsubscribed
from .models import Message

logger = logging.getLogger(__name__)

# A token can be replayed at will: beyond this many hits per message a minute, the pixel and
# the redirect still answer but record nothing, so no one can flood the event table.
HITS_PER_MESSAGE_PER_MINUTE = 20
NO_STORE = "no-store, no-cache, must-revalidate, max-age=0"


def _user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


def _flooded(message_pk: int) -> bool:
    return (
        rate_limit_hit(key=f"email:{message_pk}", limit=HITS_PER_MESSAGE_PER_MINUTE, window_s=60)
        is not None
    )


@require_GET
def open_pixel(request, token: str):
    """The 1x1 GIF, always (a broken image would show in the email); records the open.
    An open that could not be recorded (the database is unreachable) is answered 503 with
    Retry-After, still with the GIF, so a client that fetches it again later counts it."""
    message_pk = tokens.open_token_read(token)
    status = 200
    if message_pk is not None:
        try:
            if not _flooded(message_pk):
                scanners.open_record(message_pk=message_pk, user_agent=_user_agent(request))
        except DatabaseError as exc:
            logger.error("open of message %s not recorded: %s", message_pk, type(exc).__name__)
            status = 503
    response = HttpResponse(PIXEL_GIF, content_type="image/gif", status=status)
    if status == 503:
        response["Retry-After"] = "30"
    response["Cache-Control"] = NO_STORE
    return response


@require_GET
def click_redirect(request, token: str):
    """Records the click and redirects — only to the very URL the token signs, so the
    endpoint can never be used to send people elsewhere (no open redirect).

    The click names the browser that made it (its ``lm_vid``), so a form that browser
    sends afterwards is credited to the email (docs/analytics.md, ADR 57). A browser
    without one gets one minted, in the tracker's own cookie, except in the cookieless
    mode; a browser that refuses it is credited by its lead only."""
    url = request.GET.get("u", "")
    message_pk = tokens.click_token_read(token, url)
    if message_pk is None or not url.startswith(("https://", "http://")):
        return _invalid_link(request)
    visitor_id = request.COOKIES.get(VISITOR_COOKIE, "")
    new_visitor_id = ""
    if not visitor_id_valid(visitor_id):
        visitor_id = ""
        if not settings.LEADMILL_TRACKING_REQUIRE_CONSENT:
            visitor_id = new_visitor_id = secrets.token_hex(16)
    try:
        if not _flooded(message_pk):
            scanners.click_record(
                message_pk=message_pk,
                url=url,
                user_agent=_user_agent(request),
                visitor_id=visitor_id,
            )
    except DatabaseError:  # the person still gets where they wanted to go
        logger.exception("click of message %s not recorded", message_pk)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = NO_STORE
    if new_visitor_id:
        response.set_cookie(
            VISITOR_COOKIE,
            new_visitor_id,
            max_age=VISITOR_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


def _message_of(token: str) -> Message | None:
    message_pk = tokens.unsubscribe_token_read(token)
    if message_pk is None:
        return None
    return (
        Message.objects.select_related("contact", "template")
        .filter(pk=message_pk, contact__isnull=False, template__isnull=False)
        .first()
    )


def _invalid_link(request):
    return render(request, "messaging/public/link_invalid.html", status=400)


def _proof(request) -> ConsentProof:
    return ConsentProof(
        method=Consent.Method.UNSUBSCRIBE,
        page_url=request.build_absolute_uri(request.path),
        ip_address=client_ip(request),
        user_agent=_user_agent(request),
    )


def _language(message: Message) -> str:
    return message.contact.language or settings.LANGUAGE_CODE


# RFC 8058: the mailbox provider POSTs "List-Unsubscribe=One-Click" with no cookies and no
# CSRF token; the signed token in the address is the proof of intent, so CSRF protection
# would only break one-click unsubscribe without protecting anything.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows the unsubscribe button (and writes nothing: link scanners GET every link);
    POST unsubscribes from the email's subscription type (every type when it has none).
    Idempotent: a second POST writes nothing and shows the same confirmation."""
    message = _message_of(token)
    if message is None:
        return _invalid_link(request)
    with translation.override(_language(message)):
        context = {"token": token, "message": message, "purpose": message.template.purpose}
        if request.method == "GET":
            return render(request, "messaging/public/unsubscribe.html", context)
        purpose_ids = [message.template.purpose_id] if message.template.purpose_id else None
        _unsubscribe(message, purpose_ids=purpose_ids, proof=_proof(request))
        return render(request, "messaging/public/unsubscribed.html", context)


# The preference form posts back to its own tokenized address: like the unsubscribe link,
# the token (only ever sent to the person's inbox) proves who acts, and there is no session
# a forged cross-site request could ride on, so a CSRF token would add nothing.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    """The preference centre: every email subscription type with the person's current
    answer. Saving grants the newly ticked types (confirmed: the token proves the address)
    and withdraws the unticked ones; "unsubscribe from all" withdraws every type."""
    message = _message_of(token)
    if message is None:
        return _invalid_link(request)
    purposes = list(Purpose.objects.filter(is_email_marketing=True).order_by("name"))
    saved = ""
    with translation.override(_language(message)):
        if request.method == "POST":
            saved = _preferences_save(request, message=message, purposes=purposes)
        current = consent_current(contact_id=message.contact_id)
        context = {
            "token": token,
            "message": message,
            "saved": saved,
            "purposes": [(purpose, current.get(purpose.key, False)) for purpose in purposes],
        }
        return render(request, "messaging/public/preferences.html", context)


def _preferences_save(request, *, message: Message, purposes: list[Purpose]) -> str:
    proof = _proof(request)
    if request.POST.get("action") == "unsubscribe_all":
        _unsubscribe(message, purpose_ids=None, proof=proof)
        return "all"
    wanted = set(request.POST.getlist("purpose"))
    current = consent_current(contact_id=message.contact_id)
    grant = [p for p in purposes if str(p.pk) in wanted and not current.get(p.key)]
    withdraw = [p.pk for p in purposes if str(p.pk) not in wanted and current.get(p.key)]
    if grant:
        consents_record(
            contact=message.contact,
            granted={p.pk: True for p in grant},
            texts={p.pk: p.current_text for p in grant},
            proof=ConsentProof(
                method=Consent.Method.FORM,
                page_url=proof.page_url,
                ip_address=proof.ip_address,
                user_agent=proof.user_agent,
            ),
        )
    if withdraw:
        _unsubscribe(message, purpose_ids=withdraw, proof=proof)
    return "saved"


def _unsubscribe(message: Message, *, purpose_ids: list[int] | None, proof: ConsentProof) -> None:
    """Withdraw the consents and publish the fact (when something was withdrawn), together."""
    with transaction.atomic():
        written = marketing_unsubscribe(
            contact_id=message.contact_id, purpose_ids=purpose_ids, proof=proof
        )
        if not written:
            return
        Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now()
        )
        events.publish(
            MessageUnsubscribed(
                message_id=message.pk,
                contact_id=message.contact_id,
                purpose_ids=tuple(purpose_ids or ()),
                occurred_at=timezone.now(),
            )
        )
