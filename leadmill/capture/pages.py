"""Landing pages: Wagtail pages focused on one conversion, with a thank-you route."""

from __future__ import annotations

from django.db import models
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page

from leadmill.core.i18n import (
    LANGUAGE_PARAMETER,
    language_of_locale,
    language_supported,
    locale_for,
    translation_in,
)

from .blocks import LandingBodyBlock


def language_wanted(request) -> str:
    """The language a visitor asks for: ``?lang=`` when it names one content can be written
    in, else the one Django's LocaleMiddleware chose (language cookie, Accept-Language)."""
    asked = language_supported(str(request.GET.get(LANGUAGE_PARAMETER, ""))[:20])
    return asked or language_supported(translation.get_language() or "") or ""


class LandingPage(RoutablePageMixin, Page):
    """A conversion page: an offer, one form, a call to action, no distractions.

    The form posts to ``/f/<form-slug>/`` (see :mod:`leadmill.capture.views`); on success the
    person lands on this page's ``thanks/`` route.
    """

    intro = models.CharField(
        _("description"),
        max_length=300,
        blank=True,
        help_text=_("Shown under the title and used as the meta description."),
    )
    body = StreamField(LandingBodyBlock(), blank=True, use_json_field=True, verbose_name=_("body"))
    form = models.ForeignKey(
        "capture.Form",
        verbose_name=_("conversion form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    thank_you_title = models.CharField(
        _("thank-you title"), max_length=200, default=_("Thank you!")
    )
    thank_you_body = RichTextField(_("thank-you text"), blank=True)
    og_image = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("social image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    content_panels = [
        *Page.content_panels,
        FieldPanel("intro"),
        FieldPanel("form"),
        FieldPanel("body"),
        MultiFieldPanel(
            [FieldPanel("thank_you_title"), FieldPanel("thank_you_body")],
            heading=_("Thank-you page"),
        ),
    ]
    promote_panels = [*Page.promote_panels, FieldPanel("og_image")]
    template = "capture/landing_page.html"

    class Meta:
        verbose_name = _("landing page")
        verbose_name_plural = _("landing pages")

    @property
    def language(self) -> str:
        """The language this page is written in (its locale's)."""
        return language_of_locale(self.locale_id)

    @property
    def localized_form(self):
        """The page's form in the page's language: its translation when one exists (a page
        translated with "Translate" still points at the source page's form)."""
        if self.form is None:
            return None
        return translation_in(self.form, self.language)

    def route(self, request, path_components):
        """Route through the translation the visitor asks for (``?lang=``, the language
        cookie, Accept-Language) when it is live, else through this page, else through its
        other translations: a URL of any translation keeps working for every visitor, and a
        page missing from one language's tree is found in another's (ADR 43)."""
        for candidate in self._route_candidates(language_wanted(request)):
            try:
                return super(LandingPage, candidate).route(request, path_components)
            except Http404:
                continue
        raise Http404

    def _route_candidates(self, wanted: str):
        """The wanted translation (when live), this page, then its other live translations;
        the translations are read only when needed."""
        locale = locale_for(wanted) if wanted and wanted != self.language else None
        others = None
        if locale is not None:
            others = list(self.get_translations().live().specific())
            yield from (page for page in others if page.locale_id == locale.pk)
        yield self
        if others is None:
            others = list(self.get_translations().live().specific())
        yield from (page for page in others if locale is None or page.locale_id != locale.pk)

    def serve(self, request, *args, **kwargs):
        """Served in the page's language: its texts, its form's labels and ``lang``."""
        with translation.override(self.language or None):
            response = super().serve(request, *args, **kwargs)
            if isinstance(response, TemplateResponse):
                response.render()
        if self.language:
            response.headers["Content-Language"] = self.language
        return response

    @path("")
    def index_route(self, request, *args, **kwargs):
        """The page, or under a running A/B test the visitor's variant of it (ADR 40)."""
        if getattr(request, "is_preview", False) or request.method not in ("GET", "HEAD"):
            return super().index_route(request, *args, **kwargs)
        from leadmill.tracking.schemas import VISITOR_COOKIE, VISITOR_COOKIE_AGE

        from .experiments import variant_serve

        served = variant_serve(page_id=self.pk, request=request)
        if served is None:
            return super().index_route(request, *args, **kwargs)
        request.lm_variant = served.variant
        response = super().index_route(request, *args, **kwargs)
        # The answer depends on who asks: no shared cache may keep one variant for all.
        response["Cache-Control"] = "private, no-cache"
        if served.new_visitor_id:
            response.set_cookie(
                VISITOR_COOKIE,
                served.new_visitor_id,
                max_age=VISITOR_COOKIE_AGE,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response

    def get_context(self, request, *args, **kwargs):
        from .forms import public_form_for

        context = super().get_context(request, *args, **kwargs)
        shown = self
        if (variant := getattr(request, "lm_variant", None)) is not None:
            from .experiments import page_as_variant

            shown = context["page"] = context["self"] = page_as_variant(self, variant)
        if shown.form_id and "lead_form" not in context:
            context["lead_form"] = public_form_for(shown.localized_form, page=self, request=request)
        return context

    def render_with_form(self, request, lead_form, *, status: int = 200) -> TemplateResponse:
        """Render this page with a bound form (errors shown, values kept), in its language and
        in the visitor's variant when the page is under an A/B test (its form post is not a
        new view)."""
        from .experiments import variant_serve

        if (served := variant_serve(page_id=self.pk, request=request, record=False)) is not None:
            request.lm_variant = served.variant
        with translation.override(self.language or None):
            context = self.get_context(request)
            context["lead_form"] = lead_form
            response = TemplateResponse(request, self.get_template(request), context, status=status)
            response.render()
        if self.language:
            response.headers["Content-Language"] = self.language
        return response

    @path("thanks/", name="thanks")
    def thanks(self, request):
        from .selectors import thank_you_for

        context = self.get_context(request)
        context["thanks"] = thank_you_for(token=request.GET.get("s", ""), page=self)
        response = TemplateResponse(request, "capture/thank_you.html", context)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
