import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel
from wagtail.models import Orderable

from leadmill.contacts.models import Contact


class Purpose(ClusterableModel):
    """What a person may agree to: e.g. marketing email, newsletter, sharing with partners.

    The text shown on forms is versioned: editing it creates a new :class:`PurposeText`,
    and each consent points to the exact version the person saw. ``text`` is written in the
    site's language; its :class:`PurposeTranslation` rows give it in others (ADR 43), each
    versioned the same way: one purpose, one ledger, whatever language a form is in.
    """

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    text = models.TextField(
        _("checkbox text"), help_text=_("What the person agrees to, as the form shows it.")
    )
    is_email_marketing = models.BooleanField(
        _("permits marketing email"),
        default=False,
        help_text=_("Contacts who agree to this purpose may receive marketing email."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("consent purpose")
        verbose_name_plural = _("consent purposes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        texts = {"": self.text} | {t.language: t.text for t in self.translations.all()}
        for language, text in texts.items():
            digest = hashlib.sha256(text.encode()).hexdigest()
            latest = self.texts.filter(language=language).order_by("-version").first()
            if latest is None or latest.text_hash != digest:
                last = self.texts.order_by("-version").values_list("version", flat=True).first()
                PurposeText.objects.create(
                    purpose=self,
                    version=(last or 0) + 1,
                    text=text,
                    text_hash=digest,
                    language=language,
                )

    @property
    def current_text(self) -> "PurposeText":
        """The latest version of the text in the site's language."""
        return self.texts.filter(language="").order_by("-version").first()

    def text_in(self, language: str) -> str:
        """The text a form in ``language`` shows: its translation, else the text itself."""
        for translation in self.translations.all():  # prefetched by the forms
            if translation.language == language:
                return translation.text
        return self.text


class PurposeTranslation(Orderable):
    """A purpose's text in another language than the site's (ADR 43)."""

    purpose = ParentalKey(Purpose, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES)
    text = models.TextField(_("checkbox text"))

    panels = [FieldPanel("language"), FieldPanel("text")]

    class Meta(Orderable.Meta):
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "language"], name="purpose_translation_language"
            )
        ]


class PurposeText(models.Model):
    """One version of a purpose's text, immutable once written."""

    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="texts")
    version = models.PositiveIntegerField()
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    # Empty for the purpose's own text (the site's language), else a translation's language.
    language = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("consent text version")
        verbose_name_plural = _("consent text versions")
        ordering = ["purpose", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="purpose_text_version")
        ]

    def __str__(self) -> str:
        return f"{self.purpose.key} v{self.version}"


class Consent(models.Model):
    """Append-only: who agreed to (or withdrew) what, with which text, when, where and how."""

    wagtail_reference_index_ignore = True  # high volume; Wagtail content never links to it

    class Method(models.TextChoices):
        FORM = "form", _("Form")
        DOUBLE_OPT_IN = "double_opt_in", _("Double opt-in confirmation")
        IMPORT = "import", _("Import")
        API = "api", _("API")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribe")
        ADMIN = "admin", _("Back office")

    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="consents",
        db_index=False,  # consent_latest_idx leads with it (ADR 63)
    )
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="consents")
    purpose_text = models.ForeignKey(PurposeText, on_delete=models.PROTECT, null=True, blank=True)
    granted = models.BooleanField(_("granted"))
    method = models.CharField(max_length=20, choices=Method.choices)
    occurred_at = models.DateTimeField(_("when"), db_index=True)
    form_id = models.BigIntegerField(null=True, blank=True)
    submission_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    page_url = models.CharField(_("page"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    author = models.CharField(
        _("stated by"),
        max_length=100,
        blank=True,
        default="",
        help_text=_(
            "Who stated this answer for the person, e.g. the API key that sent it; empty when the person gave it."
        ),
    )
    awaiting_confirmation = models.BooleanField(
        _("awaiting confirmation"),
        default=False,
        help_text=_(
            "Given on a double opt-in form and not yet confirmed by the link sent by email."
        ),
    )

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "purpose", "occurred_at"], name="consent_latest_idx")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {'+' if self.granted else '-'}{self.purpose_id}"


class Suppression(models.Model):
    """An address that must not be emailed: a hard bounce or a complaint stops all email to
    it; an erasure keeps only this keyed hash so the person is never re-added by mistake.

    Keyed by :func:`leadmill.consent.selectors.address_hash` of the normalised email, never
    the address itself, so the list survives erasure without holding personal data.
    """

    wagtail_reference_index_ignore = True

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Spam complaint")
        MANUAL = "manual", _("Added by hand")
        ERASED = "erased", _("Person erased")

    address_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppression list")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.address_hash[:12]}"
