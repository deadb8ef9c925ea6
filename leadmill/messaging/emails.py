"""Rendering a marketing email for one contact: personalisation, layout, plain text, tracked
links, open pixel and the unsubscribe headers.

Personalisation is Django's template language on a restricted engine: no loaders, no
``{% load %}``/``{% include %}``/``{% extends %}``, no ``|safe`` (a lead's name is never
trusted HTML), only the lead's own fields in the context. An unknown variable renders as
nothing, so ``{{ first_name|default:"there" }}`` works for leads without a name.

Speed: a template is compiled once per (id, updated_at) — subject, preheader, body, its
plain-text twin and the layout split around its slots — so rendering one message is a few
template renders, one regular-expression pass over the links and string joins.
"""

from __future__ import annotations

import dataclasses
import functools
import html as html_lib
import re
from collections import OrderedDict
from email.utils import formataddr
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import TextNode
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from leadmill.contacts.models import Contact
from leadmill.core.i18n import translation_in, url_in_language

from . import tokens
from .email_text import html_to_text
from .mime import LeanEmail
from .models import EmailTemplate, Message

# Tags a marketer may use. Left out: load, include, extends, block, debug, csrf_token, url —
# anything that reaches outside the email or dumps the context — and autoescape, which like
# |safe would let a lead's own input into the HTML unescaped.
PERSONALISATION_TAGS = (
    "if",
    "for",
    "with",
    "firstof",
    "now",
    "spaceless",
    "comment",
    "cycle",
    "ifchanged",
    "filter",
    "templatetag",
    "verbatim",
    "widthratio",
)
_UNSAFE_FILTERS = frozenset({"safe", "safeseq"})

_library = Library()
_library.tags.update({name: defaulttags.register.tags[name] for name in PERSONALISATION_TAGS})
_library.filters.update(
    {
        name: func
        for name, func in defaultfilters.register.filters.items()
        if name not in _UNSAFE_FILTERS
    }
)
_ENGINE = Engine(loaders=[], libraries={}, string_if_invalid="", autoescape=True, debug=False)
_ENGINE.template_builtins = [_library]

CONTACT_FIELDS = ("first_name", "last_name", "email", "company_name", "role", "country")
SAMPLE_CONTACT = {
    "first_name": "Ana",
    "last_name": "Silva",
    "email": "ana.silva@example.com",
    "company_name": "Example Ltd",
    "role": "Marketing manager",
    "country": "PT",
}
_SLOT = re.compile(r"\[\[lm:(\w+)\]\]")
_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_RELATIVE = re.compile(r"""(\b(?:href|src)\s*=\s*)(["'])/(?!/)""", re.IGNORECASE)
_NO_TRACK = "data-leadmill-notrack"
_TEXT_URL = re.compile(r"""https?://[^\s<>"'()\[\]]+(?<![.,;:!?])""")
_COMPILED_CACHE_SIZE = 128


@dataclasses.dataclass(frozen=True)
class RenderedEmail:
    """Everything needed to build the MIME message of one marketing email."""

    subject: str
    html: str
    text: str
    headers: dict[str, str]
    from_email: str
    reply_to: tuple[str, ...] = ()


# --- Validation (the admin form and the API call this) --------------------------------------


def template_source_errors(source: str) -> list[str]:
    """Why ``source`` cannot be personalised, as sentences for the marketer; [] when fine."""
    try:
        compiled = _ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        detail = str(error).replace(" Did you forget to register or load this tag?", "")
        return [
            _(
                "Personalisation error: %(detail)s. Use variables like {{ first_name }} or "
                '{{ first_name|default:"there" }}, and tags like {%% if %%} or {%% for %%}; '
                "{%% load %%}, {%% include %%} and the |safe filter are not available in emails."
            )
            % {"detail": detail.rstrip(".")}
        ]
    unclosed = [
        node.s
        for node in compiled.nodelist.get_nodes_by_type(TextNode)
        if "{{" in node.s or "{%" in node.s
    ]
    if unclosed:
        return [
            _(
                "Personalisation error: a {{ or {% is not closed on the same line, so it would be sent as "
                "typed. Close it with }} or %}, e.g. {{ first_name }}."
            )
        ]
    return []


def email_template_errors(*, subject: str, preheader: str, body: str) -> dict[str, list[str]]:
    """Errors per field name of an email template's personalised parts; {} when it is valid."""
    errors = {
        field: messages
        for field, source in (("subject", subject), ("preheader", preheader), ("body", body))
        if (messages := template_source_errors(source))
    }
    if "body" not in errors and (text_errors := template_source_errors(html_to_text(body))):
        errors["body"] = text_errors  # e.g. a tag hidden in an HTML comment: the text part loses it
    return errors


# --- Compilation, once per template version ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CompiledEmail:
    subject: object
    preheader: object
    body: object
    text: object


_compiled: OrderedDict[tuple[int | None, object], CompiledEmail] = OrderedDict()
_layouts: dict[tuple, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _absolute(source: str) -> str:
    """Root-relative links and images (``/offer/``, rich-text page links) made absolute:
    an email is read far from this site."""
    return _RELATIVE.sub(lambda match: f"{match[1]}{match[2]}{settings.BASE_URL}/", source)


def template_compile(template: EmailTemplate) -> CompiledEmail:
    """The compiled parts of ``template``, cached by (id, updated_at): an edit recompiles.

    Raises :class:`django.template.TemplateSyntaxError` for a template saved without
    validation (the sender marks its messages failed with the message).
    """
    key = (template.pk, template.updated_at)
    hit = _compiled.get(key)
    if hit is not None and template.pk is not None:
        _compiled.move_to_end(key)
        return hit
    body = _absolute(_expand_rich_text(template.body))
    compiled = CompiledEmail(
        subject=_ENGINE.from_string(template.subject),
        preheader=_ENGINE.from_string(template.preheader),
        body=_ENGINE.from_string(body),
        text=_ENGINE.from_string(html_to_text(body)),
    )
    if template.pk is not None:
        _compiled[key] = compiled
        while len(_compiled) > _COMPILED_CACHE_SIZE:
            _compiled.popitem(last=False)
    return compiled


def _expand_rich_text(body: str) -> str:
    """Wagtail rich text (``<a linktype="page" id="3">``) turned into real links."""
    if "linktype=" not in body and "<embed" not in body:
        return body
    from wagtail.rich_text import expand_db_html

    return expand_db_html(body)


def _layout(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The layout (``html`` or ``txt``) in the active language, split around its slots:
    (literal parts, slot names), rendered once per language and settings."""
    key = (
        kind,
        translation.get_language(),
        settings.BASE_URL,
        settings.LEADMILL_EMAIL_SENDER_ADDRESS,
        settings.WAGTAIL_SITE_NAME,
    )
    hit = _layouts.get(key)
    if hit is not None:
        return hit
    slots = ("subject", "preheader", "body", "unsubscribe_url", "preferences_url", "pixel_url")
    rendered = render_to_string(
        f"messaging/email/layout.{kind}",
        {
            **{slot: slot_marker(slot) for slot in slots},
            "sender_address": settings.LEADMILL_EMAIL_SENDER_ADDRESS,
            "site_name": settings.WAGTAIL_SITE_NAME,
        },
    )
    result = slots_split(rendered)
    _layouts[key] = result
    return result


def slot_marker(name: str) -> str:
    """The marker of slot ``name`` to render into a template (safe: our own text)."""
    return mark_safe(f"[[lm:{name}]]")  # noqa: S308 -- our own markers


def slots_split(rendered: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template rendered with :func:`slot_marker` values, split around its slots:
    (literal parts, slot names), for :func:`slots_fill` to join per message."""
    pieces = _SLOT.split(rendered)
    return tuple(pieces[0::2]), tuple(pieces[1::2])


def slots_fill(layout: tuple[tuple[str, ...], tuple[str, ...]], values: dict[str, str]) -> str:
    """The parts of ``layout`` joined around ``values`` (one per slot name, as given)."""
    literals, names = layout
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        out.append(values[name])
        out.append(literal)
    return "".join(out)


# --- Rendering ---------------------------------------------------------------------------------


def personalisation_context(
    contact: Contact | None, *, unsubscribe_url: str, preferences_url: str
) -> dict:
    """The only names a template can read: the lead's fields, its custom fields, the links."""
    values = (
        dict(SAMPLE_CONTACT)
        if contact is None
        else {name: getattr(contact, name) or "" for name in CONTACT_FIELDS}
    )
    custom = (contact.custom if contact is not None else {}) or {}
    context = {
        key: value for key, value in custom.items() if isinstance(key, str) and key.isidentifier()
    }
    context.update(values)
    context["email"] = context["email"] or ""
    context["full_name"] = " ".join(
        part for part in (values["first_name"], values["last_name"]) if part
    )
    context["custom"] = custom
    context["unsubscribe_url"] = unsubscribe_url
    context["preferences_url"] = preferences_url
    return context


def public_urls(message_pk: int) -> dict[str, str]:
    """Absolute unsubscribe, preference-centre and open-pixel addresses of a message."""
    base = settings.BASE_URL
    token = tokens.unsubscribe_token(message_pk)
    return {
        "unsubscribe_url": f"{base}/e/u/{token}",
        "preferences_url": f"{base}/e/p/{token}",
        "pixel_url": f"{base}/e/o/{tokens.open_token(message_pk)}.gif",
    }


@functools.lru_cache(maxsize=2048)
def _quoted(url: str) -> str:
    return quote(url, safe="")


def click_url(message_pk: int, url: str) -> str:
    """The signed redirect that records a click on ``url`` and then goes there."""
    return f"{settings.BASE_URL}/e/c/{tokens.click_token(message_pk, url)}?u={_quoted(url)}"


def links_track(html: str, *, message_pk: int, language: str = "") -> str:
    """Every ``<a href="http…">`` of ``html`` pointed at the click redirect, except this
    site's own email endpoints (unsubscribe, preferences) and links marked
    ``data-leadmill-notrack``. With ``language``, a link to one of this site's pages asks
    for it (:func:`~leadmill.core.i18n.url_in_language`), tracked or not."""
    own = f"{settings.BASE_URL}/e/"

    def rewrite(match: re.Match) -> str:
        url = html_lib.unescape(match[3])
        if url.startswith(own):
            return match[0]
        url = url_in_language(url, language)
        target = url if _NO_TRACK in match[1] else click_url(message_pk, url)
        return f"{match[1]}{match[2]}{html_lib.escape(target)}{match[2]}"

    return _LINK.sub(rewrite, html)


def _text_links_in_language(text: str, language: str) -> str:
    """The plain-text part's links to this site's pages asking for ``language`` too."""
    if not language or settings.BASE_URL not in text:
        return text
    return _TEXT_URL.sub(lambda match: url_in_language(match[0], language), text)


def _sender(template: EmailTemplate) -> str:
    if not template.from_email:
        return settings.DEFAULT_FROM_EMAIL
    return (
        formataddr((template.from_name, template.from_email))
        if template.from_name
        else template.from_email
    )


def render_message(
    *, message: Message, template: EmailTemplate, contact: Contact | None
) -> RenderedEmail:
    """The email ``message`` sends ``contact`` (``None``: a sample lead, for previews).

    Headers: ``Message-ID`` is the message's own (a resend after a crash is recognisably the
    same email), ``List-Unsubscribe`` with the one-click URL (and ``mailto:`` when
    ``LEADMILL_EMAIL_UNSUBSCRIBE_MAILTO`` is set) and ``List-Unsubscribe-Post`` (RFC 8058).
    The email is its translation in the lead's language when there is one, and the layout's
    fixed text follows the lead's language when it has one.
    Raises :class:`django.template.TemplateSyntaxError` for an invalid template.
    """
    language = (contact.language if contact is not None else "") or settings.LANGUAGE_CODE
    # The email's translation in the lead's language when one exists (ADR 43).
    template = translation_in(template, language)
    compiled = template_compile(template)
    pk = message.pk or 0
    urls = public_urls(pk)
    values = personalisation_context(
        contact, **{k: urls[k] for k in ("unsubscribe_url", "preferences_url")}
    )
    html_context, text_context = (
        Context(values),
        Context(values, autoescape=False),
    )  # subject and text: no HTML
    with translation.override(language):
        subject = " ".join(compiled.subject.render(text_context).split())
        preheader = compiled.preheader.render(html_context)
        body = links_track(compiled.body.render(html_context), message_pk=pk, language=language)
        html = slots_fill(
            _layout("html"),
            {
                "subject": html_lib.escape(subject),
                "preheader": preheader,
                "body": body,
                "unsubscribe_url": urls["unsubscribe_url"],
                "preferences_url": urls["preferences_url"],
                "pixel_url": urls["pixel_url"],
            },
        )
        text = slots_fill(
            _layout("txt"),
            {
                "subject": subject,
                "preheader": "",
                "body": _text_links_in_language(
                    compiled.text.render(text_context).strip(), language
                ),
                "unsubscribe_url": urls["unsubscribe_url"],
                "preferences_url": urls["preferences_url"],
                "pixel_url": "",
            },
        )
    unsubscribe = f"<{urls['unsubscribe_url']}>"
    if mailto := settings.LEADMILL_EMAIL_UNSUBSCRIBE_MAILTO:
        unsubscribe += (
            f", <mailto:{mailto}?subject={quote('unsubscribe ' + tokens.unsubscribe_token(pk))}>"
        )
    headers = {
        "Message-ID": f"<{message.message_id}>",
        "List-Unsubscribe": unsubscribe,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return RenderedEmail(
        subject=subject,
        html=html,
        text=text,
        headers=headers,
        from_email=_sender(template),
        reply_to=(template.reply_to,) if template.reply_to else (),
    )


def email_message_build(
    *, message: Message, template: EmailTemplate, contact: Contact, connection=None
) -> EmailMultiAlternatives:
    """The ready-to-send email of ``message`` to ``contact`` (see :func:`render_message`),
    bound to ``connection`` when given (the sender reuses one for a whole batch)."""
    rendered = render_message(message=message, template=template, contact=contact)
    email = LeanEmail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=rendered.from_email,
        to=[contact.email],
        headers=rendered.headers,
        reply_to=list(rendered.reply_to),
        connection=connection,
    )
    email.attach_alternative(rendered.html, "text/html")
    return email
