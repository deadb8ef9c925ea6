"""Public endpoints of capture: the form post, CTA short links, offer downloads, embeds.

Thin: they check the request (method, size, content type, origin, rate), hand the post to
:func:`.services.submission_receive` and turn its outcome into a response.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from leadmill.core.csp import frame_ancestors_allow
from leadmill.core.errors import ValidationFailed
from leadmill.core.http import client_ip, cors_allow, own_origins, request_origin
from leadmill.core.i18n import language_of_locale
from leadmill.core.ratelimit import rate_limit_hit
from leadmill.core.text import json_object_decode
from leadmill.tracking.sources import UTM_PARAMS

from . import opt_in, proof, services, tokens
from .embeds import refused_origin_record
from .forms import RENDER_TOKEN_FIELD, VISITOR_FIELD, public_form_for
from .models import CallToAction, Channel, Form, Offer, Submission
from .selectors import (
    DELIVERABLE_STATUSES,
    FormDefinition,
    ThankYou,
    form_definition,
    form_submission_counted,
    form_submissions_recent,
    landing_page_thanks_path,
    offer_delivery,
)

logger = logging.getLogger(__name__)

FORM_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def origin_allowed(request, form: Form, *, origin: str) -> bool:
    """Leadmill's own pages and the form's listed sites may post; a request with neither
    Origin nor Referer (``origin`` "": not from a browser page) is judged by its render
    token instead. ``origin``: the request's (:func:`leadmill.core.http.request_origin`)."""
    return not origin or origin in own_origins(request) or origin in form.origin_list


def _cors(response: HttpResponse, form: Form, origin: str) -> HttpResponse:
    """The CORS headers for the form's listed sites (Leadmill's own pages need none)."""
    return cors_allow(
        response, origin=origin, allowed=form.origin_list, methods="GET, POST, OPTIONS"
    )


def _error(
    request,
    form,
    status: int,
    message: str,
    *,
    wants_json: bool,
    code: str,
    origin: str = "",
    headers=None,
):
    if wants_json:
        response = JsonResponse(
            {"status": "error", "code": code, "message": message}, status=status
        )
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    for key, value in (headers or {}).items():
        response[key] = value
    return _cors(response, form, origin) if form is not None else response


def _wants_json(request) -> bool:
    return request.content_type == "application/json" or "application/json" in request.META.get(
        "HTTP_ACCEPT", ""
    )


def _not_stored(view):
    """``never_cache`` for the form post, cheaper: one header, set once (Django's version
    parses and rebuilds Cache-Control and formats an Expires date on every post)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "max-age=0, no-cache, no-store, must-revalidate, private"
        return response

    return wrapped


def _frameable_by_the_form(view):
    """Every answer of the form post may show inside the form's iframe on its allowed sites
    (the form again with its errors, an error message; the thank-you page it redirects to
    says the same itself), and on no other site."""

    @functools.wraps(view)
    def wrapped(request, slug: str):
        response = view(request, slug=slug)
        if (definition := form_definition(slug=slug)) is not None:
            frame_ancestors_allow(response, definition.form.origin_list)
        return response

    return wrapped


def _in_the_forms_language(view):
    """Answer in the language the form is written in (ADR 43): its errors, its page again,
    its thank-you page and embed, whatever the visitor's browser asks for."""

    @functools.wraps(view)
    def wrapped(request, slug: str):
        definition = form_definition(slug=slug)
        language = language_of_locale(definition.form.locale_id) if definition else ""
        if not language:
            return view(request, slug=slug)
        with translation.override(language):
            response = view(request, slug=slug)
            if isinstance(response, SimpleTemplateResponse):
                response.render()
        response.headers["Content-Language"] = language
        return response

    return wrapped


@csrf_exempt
@_not_stored
@_frameable_by_the_form
@_in_the_forms_language
def form_post(request, slug: str):
    """``POST /f/<slug>/``: a plain HTML form post or JSON, from a page or an embed."""
    definition = form_definition(slug=slug)
    wants_json = _wants_json(request)
    if definition is None:
        return _error(
            request,
            None,
            404,
            _("This form does not exist."),
            wants_json=wants_json,
            code="form_not_found",
        )
    form = definition.form
    origin = request_origin(request.META)  # once: it decides the CORS answer, access, channel
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), form, origin)
    if request.method != "POST":
        response = _error(
            request,
            form,
            405,
            _("Send the form with POST."),
            wants_json=wants_json,
            origin=origin,
            code="method_not_allowed",
        )
        response["Allow"] = "POST, OPTIONS"
        return response
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.LEADMILL_MAX_SUBMISSION_BYTES:
        return _error(
            request,
            form,
            413,
            _("The form data is too large."),
            wants_json=wants_json,
            origin=origin,
            code="too_large",
        )
    content_type = request.content_type
    if content_type not in FORM_CONTENT_TYPES and content_type != "application/json":
        return _error(
            request,
            form,
            415,
            _(
                "Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json."
            ),
            wants_json=wants_json,
            origin=origin,
            code="unsupported_media_type",
        )
    if not origin_allowed(request, form, origin=origin):
        refused_origin_record(form_id=form.pk, origin=origin)
        return _error(
            request,
            form,
            403,
            _("This site may not send this form."),
            wants_json=wants_json,
            origin=origin,
            code="origin_not_allowed",
        )

    if retry_after := rate_limit_retry_after(form=form, ip=client_ip(request)):
        return _rate_limited(request, form, retry_after, wants_json=wants_json, origin=origin)

    try:
        data, undecodable = _request_data(request)
    except RequestDataTooBig:
        return _error(
            request,
            form,
            413,
            _("The form data is too large."),
            wants_json=wants_json,
            origin=origin,
            code="too_large",
        )
    except (TooManyFieldsSent, TooManyFilesSent):
        return _error(
            request,
            form,
            400,
            _("The form has too many fields: send only the form's own fields."),
            wants_json=wants_json,
            origin=origin,
            code="too_many_fields",
        )
    except (ValidationFailed, MultiPartParserError, ValueError):
        return _error(
            request,
            form,
            400,
            _("The form data could not be read: send a JSON object or form fields."),
            wants_json=wants_json,
            origin=origin,
            code="malformed",
        )

    referer = request.META.get("HTTP_REFERER", "")
    meta = services.RequestMeta(
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        referrer=_visit_referrer(data, referer),
        page_url=_text(data.get("_url")) or referer,
        visitor_id=str(request.COOKIES.get("lm_vid") or _text(data.get(VISITOR_FIELD))),
        utm=_utm_from(data, referer),
        channel=_channel_of(form, origin),
    )
    # Without Redis the per-address limit is checked by the insert itself (one statement).
    per_ip = (
        None
        if settings.REDIS_URL
        else services.PerIpLimit(
            limit=settings.LEADMILL_RATE_LIMIT_PER_IP, window_s=settings.LEADMILL_RATE_LIMIT_WINDOW
        )
    )
    outcome = services.submission_receive(
        definition=definition, data=data, meta=meta, per_ip=per_ip, undecodable=undecodable
    )
    if outcome.status == services.RATE_LIMITED:
        return _rate_limited(
            request, form, settings.LEADMILL_RATE_LIMIT_WINDOW, wants_json=wants_json, origin=origin
        )
    form_submission_counted(form_id=form.pk)
    answer = _answer(request, definition, outcome, data, wants_json=wants_json)
    return _cors(answer, form, origin)


def _visit_referrer(data: dict, referer: str) -> str:
    """Where the visitor came from before the form's page.

    A form that Leadmill rendered (its page, an embed) posts the page's URL in ``_url`` and
    the visit's referrer in ``_referrer``, left out when the visit had none: the post's own
    Referer is then the form's page (or ``/f/<slug>/`` after a failed try), never a source.
    A hand-written form posts neither, and its Referer is the best we know."""
    if _text(data.get("_url")):
        return _text(data.get("_referrer"))
    return referer


def _channel_of(form: Form, origin: str) -> str:
    """``embed`` for a post from one of the sites the form is embedded on, else ``web_form``."""
    return Channel.EMBED if origin and origin in form.origin_list else Channel.WEB_FORM


def _rate_limited(
    request, form: Form, retry_after: int, *, wants_json: bool, origin: str
) -> HttpResponse:
    return _error(
        request,
        form,
        429,
        _("Too many submissions. Please wait a minute and try again."),
        wants_json=wants_json,
        origin=origin,
        code="rate_limited",
        headers={"Retry-After": str(retry_after)},
    )


def rate_limit_retry_after(*, form: Form, ip: str | None) -> int | None:
    """Seconds to wait when this IP or this form sent too many posts in the window, else None.

    With Redis, both counters there. Otherwise the stored submissions themselves are
    counted, with no write on the hot path: the form's count here (read at most once a
    second per process), the address's count by the submission's insert itself
    (:func:`.services.submission_receive` with ``per_ip``). Posts refused with 429 are not
    stored, so they do not count.
    """
    window = settings.LEADMILL_RATE_LIMIT_WINDOW
    per_ip, per_form = settings.LEADMILL_RATE_LIMIT_PER_IP, settings.LEADMILL_RATE_LIMIT_PER_FORM
    if settings.REDIS_URL:
        return rate_limit_hit(
            key=f"capture:ip:{ip or 'unknown'}", limit=per_ip, window_s=window
        ) or rate_limit_hit(key=f"capture:form:{form.pk}", limit=per_form, window_s=window)
    if form_submissions_recent(form_id=form.pk, window_s=window, at_most=per_form) >= per_form:
        return window
    return None


def _request_data(request) -> tuple[dict, dict[str, str]]:
    """The posted fields, and the JSON fields too deeply nested to decode (with why).

    Raises ValidationFailed (not a JSON object), Django's RequestDataTooBig,
    TooManyFieldsSent, TooManyFilesSent or MultiPartParserError. What the values may hold
    is judged by :func:`.services.submission_receive`, for every content type alike.
    """
    if request.content_type == "application/json":
        return json_object_decode(request.body)
    return {key: request.POST.get(key) for key in request.POST}, {}


def _text(value) -> str:
    """A posted value used as request context (the page's URL, the visitor): text only."""
    return value if isinstance(value, str) else ""


def _query_utm(url: str) -> dict[str, str]:
    from urllib.parse import parse_qs

    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:  # not a URL ("http://[")
        return {}
    return {key: query[key][0] for key in UTM_PARAMS if query.get(key)}


def _utm_from(data: dict, referrer: str) -> dict[str, str]:
    """UTM parameters posted with the form, else those of the page the form was on."""
    utm = {key: _text(data.get(key)) for key in UTM_PARAMS if _text(data.get(key))}
    if not utm and referrer:
        utm = _query_utm(referrer)
    url = _text(data.get("_url"))
    if not utm and url:
        utm = _query_utm(url)
    return utm


def _thank_you_url(definition: FormDefinition, submission: Submission) -> str:
    token = tokens.thanks_token_make(submission_id=submission.pk)
    page_path = landing_page_thanks_path(page_id=submission.page_id) if submission.page_id else None
    path = page_path or definition.thanks_path
    return path + ("&" if "?" in path else "?") + f"s={token}"


def _landing_page(page_id: int | None):
    if not page_id:
        return None
    from .pages import LandingPage

    return LandingPage.objects.live().filter(pk=page_id).first()


def _answer(request, definition: FormDefinition, outcome, data: dict, *, wants_json: bool):
    form = definition.form
    submission = outcome.submission
    token = str(data.get(RENDER_TOKEN_FIELD) or "")
    if outcome.unproven and not wants_json:
        # A page without JavaScript (which solves the proof) shows the form again with what
        # was typed; by the time it is sent again the fill time has passed. A token used up
        # is replaced, keeping the fields it left out.
        if submission.spam_reason == services.RENDER_TOKEN_REUSED:
            omitted = tokens.render_token_omitted(token, form_id=form.pk)
            token = tokens.render_token_make(form_id=form.pk, omitted=omitted)
        message = _("Please check your details and send the form again.")
        return _form_again(request, definition, submission, {"__all__": [message]}, token=token)
    if outcome.accepted_like or outcome.status == Submission.Status.ERROR:
        thank_you_url = _thank_you_url(definition, submission)
        if wants_json:
            delivery = offer_delivery(submission=submission, absolute=True)
            return JsonResponse(
                {
                    "status": "accepted",
                    "message": form.success_message,
                    "thank_you_url": settings.BASE_URL + thank_you_url,  # as the download link
                    "download_url": delivery.download_url,
                    "discount_code": delivery.discount_code,
                },
                status=201,
            )
        return HttpResponseRedirect(thank_you_url, status=303)

    errors = outcome.errors
    if wants_json:
        return JsonResponse(
            {
                "status": "invalid",
                "code": "invalid",
                "message": _("Please correct the highlighted fields."),
                "errors": errors,
            },
            status=400,
        )
    return _form_again(request, definition, submission, errors, token=token)


def _form_again(request, definition: FormDefinition, submission, errors: dict, *, token: str):
    """The form's page again (400), with what was sent (as stored) and the errors."""
    form = definition.form
    page = _landing_page(submission.page_id)
    # The values as stored: what could not be stored is shown as U+FFFD, never echoed raw.
    public_form = public_form_for(
        form, page=page, data=submission.data, render_token=token, page_id=submission.page_id
    )
    django_form = public_form.django_form
    django_form.is_valid()
    elsewhere = list(errors.get("__all__", []))
    for field, messages in errors.items():
        if field == "__all__":
            continue
        if field not in django_form.fields:  # a posted field the form does not show
            elsewhere.extend(f"{field}: {message}" for message in messages)
            continue
        django_form.errors.pop(field, None)  # the edge's reason replaces the form's own
        for message in messages:
            django_form.add_error(field, message)
    public_form.non_field_error = " ".join(elsewhere)
    if page is not None:
        return page.specific.render_with_form(request, public_form, status=400)
    return TemplateResponse(
        request, "capture/form_page.html", {"lead_form": public_form, "form": form}, status=400
    )


@require_GET
@_in_the_forms_language
def form_thanks(request, slug: str):
    """The thank-you page of a form posted from outside a landing page."""
    from .selectors import thank_you_for

    form = get_object_or_404(Form, slug=slug)
    response = TemplateResponse(
        request,
        "capture/thank_you.html",
        {"form": form, "thanks": thank_you_for(token=request.GET.get("s", "")), "page": None},
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    return frame_ancestors_allow(response, form.origin_list)  # where the form's iframe leads


@require_GET
@_in_the_forms_language
def form_embed(request, slug: str):
    """``GET /f/<slug>/embed/``: the form's HTML with a fresh signed render token, for the
    embed script (JSON) or an iframe (HTML)."""
    form = (
        Form.objects.filter(slug=slug, is_active=True)
        .prefetch_related("fields", "consents__purpose__translations", "consents__notice_page")
        .first()
    )
    if form is None:
        raise Http404(_("This form does not exist."))
    origin = request_origin(request.META)
    wants_json = request.GET.get("format") == "json" or "application/json" in request.META.get(
        "HTTP_ACCEPT", ""
    )
    if origin and not origin_allowed(request, form, origin=origin):
        refused_origin_record(form_id=form.pk, origin=origin)
        if wants_json:
            return _embed_refused(form, origin=origin)
    public_form = public_form_for(form, request=request)  # Leadmill's cookie: progressive profiling
    context = {"lead_form": public_form, "form": form, "embedded": True}
    if wants_json:
        html = render_to_string("capture/includes/lead_form.html", context, request=request)
        response = JsonResponse(
            {
                "html": html,
                "action": request.build_absolute_uri(public_form.action),
                "render_token": public_form.render_token,
            }
        )
    else:
        response = TemplateResponse(request, "capture/form_page.html", context)
        response.render()
        frame_ancestors_allow(response, form.origin_list)
    response["Cache-Control"] = "no-store"
    return _cors(response, form, request_origin(request.META))


def _embed_refused(form: Form, *, origin: str) -> HttpResponse:
    """403 for the embed script on a site the form does not list, readable by that site's
    script (CORS for this answer only, which holds no form) so it can tell the site's owner
    in the browser console what to fix."""
    response = JsonResponse(
        {
            "status": "error",
            "code": "origin_not_allowed",
            "message": _(
                "Leadmill: this site (%(origin)s) may not show the form “%(slug)s”. In Leadmill, "
                "add %(origin)s to the form's allowed origins (Forms → the form → Embed on "
                "other sites)."
            )
            % {"origin": origin, "slug": form.slug},
        },
        status=403,
    )
    response["Cache-Control"] = "no-store"
    return cors_allow(response, origin=origin, allowed=[origin], methods="GET")


@require_GET
def form_start(request, slug: str):
    """``GET /f/<slug>/start/?rt=<token>``: what the form's script fetches when a person
    first touches the form: a fresh render token (a page kept by a cache hands everyone the
    same one; it keeps the fields the page's token left out) and a proof-of-work challenge
    for a post sent sooner than the minimum fill time (capture/proof.py)."""
    form = Form.objects.filter(slug=slug, is_active=True).first()
    if form is None:
        raise Http404(_("This form does not exist."))
    omitted = tokens.render_token_omitted(request.GET.get("rt", ""), form_id=form.pk)
    response = JsonResponse(
        {
            "render_token": tokens.render_token_make(form_id=form.pk, omitted=omitted),
            "challenge": proof.proof_challenge_make(form_id=form.pk),
            "min_seconds": settings.LEADMILL_FORM_MIN_SECONDS,
        }
    )
    response["Cache-Control"] = "no-store"
    return _cors(response, form, request_origin(request.META))


@require_GET
def cta_redirect(request, slug: str):
    """``GET /c/<slug>/``: count the click (not a bot's), then go to the CTA's page or URL."""
    cta = get_object_or_404(CallToAction.objects.select_related("target_page"), slug=slug)
    services.cta_click(cta=cta, user_agent=request.META.get("HTTP_USER_AGENT", ""))
    target = (
        cta.target_page.url
        if cta.target_page_id and cta.target_page.live
        else cta.target_url or "/"
    )
    # The link's parameters go on (its campaign, the language an email asked for, ADR 53),
    # after the target's own, which they do not repeat.
    query = request.META.get("QUERY_STRING", "")
    if query:
        target_parts = urlsplit(target)
        own = {name for name, _value in parse_qsl(target_parts.query, keep_blank_values=True)}
        added = [
            (name, value)
            for name, value in parse_qsl(query, keep_blank_values=True)
            if name not in own
        ]
        if added:
            joined = "&".join(part for part in (target_parts.query, urlencode(added)) if part)
            target = urlunsplit(target_parts._replace(query=joined))
    return HttpResponseRedirect(target)


@require_GET
def offer_download(request, token: str):
    """Serve an offer's private file to whoever holds a valid, unexpired signed link."""
    parsed = tokens.download_token_read(token)
    if parsed is None:
        return HttpResponse(
            _(
                "This download link is invalid or has expired. Fill in the form again to get a new one."
            ),
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    submission_id, offer_id = parsed
    offer = Offer.objects.filter(pk=offer_id).first()
    # The link may name a translation of the form's offer (the one in the lead's language).
    submission = (
        Submission.objects.filter(
            pk=submission_id,
            status__in=DELIVERABLE_STATUSES,
            form__offer__translation_key=offer.translation_key,
        ).first()
        if offer is not None
        else None
    )
    if submission is None or offer is None or not offer.file:
        raise Http404(_("This file is no longer available."))
    try:
        handle = offer.file.open("rb")
    except FileNotFoundError:  # the row still names a file removed from the storage
        raise Http404(_("This file is no longer available.")) from None
    response = FileResponse(handle, as_attachment=True, filename=offer.file.name.rsplit("/", 1)[-1])
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


def offer_calendar_download(request, token: str):
    """The calendar file of a webinar or event, for whoever registered (a valid signed link)."""
    from .calendar import offer_calendar

    parsed = tokens.download_token_read(token)
    if parsed is None:
        raise Http404(_("This link is invalid or has expired."))
    submission_id, offer_id = parsed
    offer = Offer.objects.filter(pk=offer_id).first()
    registered = (
        offer is not None
        and Submission.objects.filter(
            pk=submission_id,
            status__in=DELIVERABLE_STATUSES,
            form__offer__translation_key=offer.translation_key,
        ).exists()
    )
    calendar = (
        offer_calendar(offer=offer, registration_id=submission_id)
        if registered and offer is not None
        else ""
    )
    if not calendar:
        raise Http404(_("This event is no longer available."))
    response = HttpResponse(calendar, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="event.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


@csrf_exempt  # the signed token is the authority; there is no session to ride on
@never_cache
@require_http_methods(["GET", "POST"])
def opt_in_confirm(request, token: str):
    """``/f/confirm/<token>/``: GET shows a confirm button (mail scanners fetch links, so a
    GET never confirms); its POST appends the confirmation to the consent ledger."""
    if request.method == "POST":
        state, written = opt_in.opt_in_confirm(
            token=token,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
        )
        just_confirmed = written > 0
    else:
        state, just_confirmed = opt_in.opt_in_state(token=token), False
    response = TemplateResponse(
        request,
        "capture/opt_in_confirm.html",
        {"state": state.value, "just_confirmed": just_confirmed, "page": None},
        status=400 if state is opt_in.OptInState.INVALID else 200,
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
    return response


__all__ = [
    "form_post",
    "form_thanks",
    "form_embed",
    "form_start",
    "cta_redirect",
    "offer_download",
    "opt_in_confirm",
    "ThankYou",
]
