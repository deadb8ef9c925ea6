import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import RegexValidator
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel
from wagtail.admin.widgets.slug import SlugInput
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Orderable

from leadmill.consent.models import Purpose
from leadmill.contacts.models import Contact
from leadmill.core.i18n import Translatable
from leadmill.tracking.models import Channel as SourceChannel

from .admin_embed import EmbedCodePanel, RefusedOriginsPanel
from .admin_form_builder import LabelledInlinePanel, NameFieldPanel
from .blocks import LandingBodyBlock


def private_storage():
    """Offer files live outside MEDIA_ROOT and are served only through signed links.

    A callable, so migrations refer to it instead of freezing one machine's path."""
    return storages["private"]


class Offer(Translatable, models.Model):
    """A lead magnet: what a person receives in exchange for their details.

    Translatable (ADR 43): its translation in a lead's language is what that lead receives."""

    class Kind(models.TextChoices):
        DOWNLOAD = "download", _("Resource to download")
        TRIAL = "trial", _("Free trial")
        DISCOUNT = "discount", _("Discount code")
        DEMO = "demo", _("Demo or consultation request")
        EVENT = "event", _("Webinar or event")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.DOWNLOAD)
    file = models.FileField(
        _("file"),
        storage=private_storage,
        upload_to="offers/",
        blank=True,
        help_text=_("Kept private: people get a signed link that expires."),
    )
    discount_code = models.CharField(_("discount code"), max_length=100, blank=True)
    trial_url = models.URLField(_("trial sign-up link"), blank=True)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        help_text=_("The time zone the start time is written in, e.g. America/Sao_Paulo."),
    )
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=60)
    join_url = models.URLField(
        _("join link"), blank=True, help_text=_("Sent only to the people who registered.")
    )
    capacity = models.PositiveIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        help_text=_("How many people may register; empty for no limit."),
    )
    delivery_message = RichTextField(
        _("message after the form"),
        blank=True,
        help_text=_("Shown on the thank-you page and in the email, e.g. what happens next."),
    )
    email_subject = models.CharField(_("email subject"), max_length=200, blank=True)
    is_intent_signal = models.BooleanField(
        _("strong buying intent"),
        default=False,
        help_text=_("A demo or proposal request: scoring can make such leads hot at once."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    panels = [
        FieldPanel("name"),
        FieldPanel("kind"),
        FieldPanel("file"),
        FieldPanel("discount_code"),
        FieldPanel("trial_url"),
        MultiFieldPanel(
            [
                FieldPanel("starts_at"),
                FieldPanel("time_zone"),
                FieldPanel("duration_minutes"),
                FieldPanel("join_url"),
                FieldPanel("capacity"),
            ],
            heading=_("Webinar or event"),
        ),
        FieldPanel("delivery_message"),
        FieldPanel("email_subject"),
        FieldPanel("is_intent_signal"),
    ]

    class Meta(Translatable.Meta):
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Each kind has what it delivers: a file, a link, a code, or a date and a place."""
        errors = {}
        if self.kind == self.Kind.DOWNLOAD and not self.file:
            errors["file"] = _("Upload the file that people download.")
        if self.kind == self.Kind.TRIAL and not self.trial_url:
            errors["trial_url"] = _("Enter the link where the trial starts.")
        if self.kind == self.Kind.DISCOUNT and not self.discount_code:
            errors["discount_code"] = _("Enter the discount code people receive.")
        if self.kind == self.Kind.EVENT:
            if self.starts_at is None:
                errors["starts_at"] = _("Enter when the webinar or event starts.")
            if self.time_zone and self.time_zone not in time_zones():
                errors["time_zone"] = _("Choose a time zone from the list, e.g. Europe/Lisbon.")
        if errors:
            raise ValidationError(errors)

    @property
    def local_start(self):
        """The start in the offer's own time zone (the server's when none is set)."""
        if self.starts_at is None:
            return None
        if self.time_zone in time_zones():
            return self.starts_at.astimezone(zoneinfo.ZoneInfo(self.time_zone))
        return timezone.localtime(self.starts_at)

    @property
    def start_text(self) -> str:
        """The start as people read it, in the offer's time zone and the reader's language."""
        start = self.local_start
        return formats.date_format(start, "DATETIME_FORMAT") if start is not None else ""


def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class FieldKind(models.TextChoices):
    EMAIL = "email", _("Email")
    FIRST_NAME = "first_name", _("First name")
    LAST_NAME = "last_name", _("Last name")
    PHONE = "phone", _("Phone")
    COMPANY = "company_name", _("Company")
    ROLE = "role", _("Role")
    COMPANY_SIZE = "company_size", _("Company size")
    SEGMENT = "segment", _("Segment / industry")
    COUNTRY = "country", _("Country")
    MESSAGE = "message", _("Message")
    CUSTOM = "custom", _("Custom field")


slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", _("Use lower-case letters, digits and hyphens.")
)


class Form(Translatable, ClusterableModel):
    """A conversion form: its fields, its consent checkboxes and where it may be embedded.

    Translatable (ADR 43): a translation is a form of its own with its own slug (its post
    URL); its locale is the language of the leads it captures."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("slug"),
        max_length=60,
        unique=True,
        validators=[slug_validator],
        help_text=_("Pages and embeds post to /f/<slug>/."),
    )
    offer = models.ForeignKey(
        Offer,
        verbose_name=_("offer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="forms",
    )
    submit_label = models.CharField(_("button text"), max_length=60, default=_("Send"))
    success_message = models.CharField(
        _("success message"), max_length=300, default=_("Thank you! Check your inbox.")
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        help_text=_(
            "Sites that may embed this form, one per line, e.g. https://www.example.com. "
            "Leadmill's own pages are always allowed."
        ),
    )
    is_active = models.BooleanField(_("accepting submissions"), default=True)
    progressive_profiling = models.BooleanField(
        _("progressive profiling"),
        default=False,
        help_text=_(
            "On Leadmill's pages, a known lead is not asked again for what it already told us: "
            'those fields give their place to the fields marked "ask known leads only".'
        ),
    )
    double_opt_in = models.BooleanField(
        _("double opt-in"),
        default=False,
        help_text=_(
            "Ask people to confirm their marketing email consent with a link sent by email. "
            "Until they click it, they receive the offer but no marketing email."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    panels = [
        NameFieldPanel("name", targets=["slug"]),
        FieldPanel("slug", widget=SlugInput),
        FieldPanel("offer"),
        LabelledInlinePanel("fields", heading=_("Fields"), label=_("Field"), min_num=1),
        # Not Wagtail's ticked-box icon for a yes/no field: it read as an answer already given.
        FieldPanel("progressive_profiling", icon="user"),
        InlinePanel("consents", label=_("Consent checkboxes")),
        FieldPanel("double_opt_in", icon="mail"),
        MultiFieldPanel(
            [FieldPanel("submit_label"), FieldPanel("success_message"), FieldPanel("is_active")],
            heading=_("After submitting"),
        ),
        MultiFieldPanel(
            [
                EmbedCodePanel(heading=_("Embed code")),
                FieldPanel("allowed_origins"),
                RefusedOriginsPanel(heading=_("Refused sites")),
            ],
            heading=_("Embed on other sites"),
        ),
    ]

    class Meta(Translatable.Meta):
        verbose_name = _("form")
        verbose_name_plural = _("forms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def copy_for_translation(self, locale, exclude_fields=None):
        """A translation posts to its own URL: its slug gets the language (``ebook-pt-br``),
        made unique."""
        translated = super().copy_for_translation(locale, exclude_fields=exclude_fields)
        base = f"{self.slug}-{locale.language_code}"[:60].lower()
        slug, number = base, 2
        while Form.objects.filter(slug=slug).exists():
            slug = f"{base[:55]}-{number}"
            number += 1
        translated.slug = slug
        return translated

    @property
    def origin_list(self) -> list[str]:
        return [
            line.strip().rstrip("/").lower()
            for line in self.allowed_origins.splitlines()
            if line.strip()
        ]


class FormField(Orderable):
    form = ParentalKey(Form, on_delete=models.CASCADE, related_name="fields")
    kind = models.CharField(_("field"), max_length=20, choices=FieldKind.choices)
    custom_key = models.SlugField(
        _("custom field key"),
        max_length=50,
        blank=True,
        help_text=_("For custom fields: the key of a custom field definition."),
    )
    label = models.CharField(
        _("label"), max_length=200, blank=True, help_text=_("Leave empty for the default.")
    )
    required = models.BooleanField(_("required"), default=False)
    help_text = models.CharField(_("help text"), max_length=300, blank=True)
    progressive = models.BooleanField(
        _("ask known leads only"),
        default=False,
        help_text=_(
            "With progressive profiling: asked, in order, in place of fields a known lead already answered."
        ),
    )

    panels = [
        FieldPanel("kind"),
        FieldPanel("custom_key"),
        FieldPanel("label"),
        FieldPanel("required"),
        FieldPanel("help_text"),
        FieldPanel("progressive"),
    ]

    class Meta(Orderable.Meta):
        verbose_name = _("form field")
        verbose_name_plural = _("form fields")

    @property
    def name(self) -> str:
        return f"custom_{self.custom_key}" if self.kind == FieldKind.CUSTOM else self.kind

    @property
    def display_label(self) -> str:
        """The label the visitor reads: the one written, else the kind's ("" before a kind
        is chosen: a new row of the form editor)."""
        if self.label:
            return self.label
        return str(FieldKind(self.kind).label) if self.kind in FieldKind.values else ""


class FormConsent(Orderable):
    """One consent checkbox on a form: unchecked by default, one purpose each."""

    form = ParentalKey(Form, on_delete=models.CASCADE, related_name="consents")
    purpose = models.ForeignKey(
        Purpose, verbose_name=_("purpose"), on_delete=models.PROTECT, related_name="+"
    )
    required = models.BooleanField(
        _("required to submit"),
        default=False,
        help_text=_(
            "Only for purposes the offer cannot work without; marketing consent must stay optional."
        ),
    )

    notice_page = models.ForeignKey(
        "wagtailcore.Page",
        verbose_name=_("notice page"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "The page that explains this purpose (e.g. the privacy notice), linked beside the checkbox."
        ),
    )

    # A plain choice among the few purposes, not a chooser in a dialog.
    panels = [
        FieldPanel("purpose", widget=forms.Select),
        FieldPanel("required"),
        FieldPanel("notice_page"),
    ]

    class Meta(Orderable.Meta):
        verbose_name = _("consent checkbox")
        verbose_name_plural = _("consent checkboxes")

    @property
    def name(self) -> str:
        return f"consent_{self.purpose.key}"


class CallToAction(models.Model):
    """A tracked call to action: /c/<slug>/ counts the click and redirects."""

    label = models.CharField(_("label"), max_length=200)
    slug = models.SlugField(
        _("short link"), max_length=60, unique=True, validators=[slug_validator]
    )
    target_page = models.ForeignKey(
        "wagtailcore.Page",
        verbose_name=_("page"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    target_url = models.URLField(_("or a URL"), blank=True)
    clicks = models.PositiveIntegerField(_("clicks"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    panels = [
        FieldPanel("label"),
        FieldPanel("slug"),
        FieldPanel("target_page"),
        FieldPanel("target_url"),
    ]

    class Meta:
        verbose_name = _("call to action")
        verbose_name_plural = _("calls to action")
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class Channel(models.TextChoices):
    """The way a lead came in: every channel hands its leads to the one intake
    (:func:`leadmill.capture.intake.lead_intake`, or the form post for the web)."""

    WEB_FORM = "web_form", _("Web form")
    EMBED = "embed", _("Embedded form")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    META_LEAD_ADS = "meta_lead_ads", _("Meta lead ads")
    INSTAGRAM_MESSAGE = "instagram_message", _("Instagram message")
    INBOUND_WEBHOOK = "inbound_webhook", _("Inbound webhook")


class Submission(models.Model):
    """One lead handed in by a channel (a form post, an API call, a lead ad …), kept
    verbatim with its page, source and outcome. Written first."""

    wagtail_reference_index_ignore = True  # high volume; nothing in Wagtail links to it

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected (invalid)")
        SPAM = "spam", _("Spam")
        ERROR = "error", _("Error")

    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.WEB_FORM
    )
    # The channel's own id of the lead (a lead ad's id, an Idempotency-Key): unique per
    # channel where set, so a retried delivery is written once. Empty on a web form post,
    # whose raw INSERT leaves it out (hence db_default).
    external_id = models.CharField(
        _("external id"), max_length=200, blank=True, default="", db_default=""
    )
    # Who handed the lead in for the person, e.g. ``api_key:12``; empty for a person's own post.
    author = models.CharField(
        _("handed in by"), max_length=100, blank=True, default="", db_default=""
    )
    # Its own index would repeat the (form, created_at) one below: one index less per post.
    # Empty for a lead that came without a form (the API, an import).
    form = models.ForeignKey(
        Form,
        on_delete=models.PROTECT,
        related_name="submissions",
        db_index=False,
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED
    )
    data = models.JSONField(_("submitted values"))
    values = models.JSONField(
        _("validated values"),
        default=dict,
        blank=True,
        help_text=_(
            "The values after validation (normalised email, consent answers), for processing."
        ),
    )
    errors = models.JSONField(_("errors"), default=dict, blank=True)
    spam_reason = models.CharField(_("spam reason"), max_length=100, blank=True)
    # Indexed only where set (see Meta): a new post has no contact yet, so its insert skips it.
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="submissions",
        db_index=False,
    )
    page_id = models.BigIntegerField(null=True, blank=True)
    page_url = models.CharField(_("page"), max_length=500, blank=True)
    referrer = models.CharField(_("referrer"), max_length=500, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    # The source as tracking classifies it (leadmill.tracking.sources), beside the raw UTM
    # values above; set when the submission is processed (the form post's INSERT leaves them out).
    source_channel = models.CharField(
        _("source channel"), max_length=20, blank=True, default="", db_default=""
    )
    source = models.CharField(_("source"), max_length=200, blank=True, default="", db_default="")
    medium = models.CharField(_("medium"), max_length=200, blank=True, default="", db_default="")
    campaign = models.CharField(
        _("campaign"), max_length=200, blank=True, default="", db_default=""
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    visitor_id = models.CharField(
        _("visitor"),
        max_length=64,
        blank=True,
        help_text=_(
            "The first-party tracking id of the browser that sent it (stitched after commit)."
        ),
    )
    render_token_id = models.CharField(
        _("render token"),
        max_length=16,
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "The id of the signed form token it was posted with, where its posts are counted."
        ),
    )
    offer_emailed_at = models.DateTimeField(_("offer emailed"), null=True, blank=True)
    opt_in_emailed_at = models.DateTimeField(
        _("confirmation request emailed"), null=True, blank=True
    )
    processing_attempts = models.PositiveSmallIntegerField(
        _("processing attempts"),
        default=0,
        db_default=0,  # the raw INSERT of a post leaves it out
        help_text=_(
            "How many times processing failed; an error is retried with backoff a few times."
        ),
    )
    retry_at = models.DateTimeField(
        _("next retry"),
        null=True,
        blank=True,
        help_text=_(
            "When a submission that ended in error is processed again; empty once it was given up."
        ),
    )
    created_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        # Newest first by id (ids grow with time): no index on created_at alone to update on
        # every post. Each index here costs every form post a page write (ADR 5).
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["form", "created_at"], name="submission_form_idx"),
            models.Index(fields=["ip_address", "created_at"], name="submission_ip_idx"),
            models.Index(
                fields=["contact"],
                name="submission_contact_idx",
                condition=models.Q(contact__isnull=False),
            ),
            models.Index(
                fields=["id"], name="submission_received_idx", condition=models.Q(status="received")
            ),
            # Posts per render token (ADR 13), counted by the insert itself; a post whose token
            # was not counted (spam, rejected, too fast) writes no page of it.
            models.Index(
                fields=["render_token_id", "created_at"],
                name="submission_token_idx",
                condition=~models.Q(render_token_id=""),
            ),
            # Only errors waiting for a retry are in it: a new post's insert writes no page of it.
            models.Index(
                fields=["retry_at"],
                name="submission_retry_idx",
                condition=models.Q(retry_at__isnull=False),
            ),
        ]
        constraints = [
            # Partial: a web form post (no external id) writes no page of it.
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                name="submission_external_id_uniq",
                condition=~models.Q(external_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form or self.get_channel_display()} #{self.pk}"

    def get_source_channel_display(self) -> str:
        """The source channel's label in the reader's language ("Other campaign", not
        ``other``); the field has no choices so that tracking's vocabulary stays its own."""
        try:
            return str(SourceChannel(self.source_channel).label)
        except ValueError:  # a channel tracking no longer names
            return self.source_channel

    @property
    def given_up(self) -> bool:
        """An error that will not be retried again (a person may still reprocess it)."""
        return self.status == self.Status.ERROR and self.retry_at is None


class EventReminder(models.Model):
    """A reminder of a webinar or event, claimed for one registrant (ADR 53).

    The row is the claim: its unique (event, contact, hours) lets one run of the periodic task
    send it, however many run at once or again. ``event`` is the source offer of the event's
    translations (a person registered in two languages is reminded once); ``claim`` names the
    run that wrote the row; ``message`` the email, once queued (empty when none could go:
    the address is suppressed)."""

    wagtail_reference_index_ignore = True

    event = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    hours_before = models.PositiveSmallIntegerField(_("hours before"))
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claim = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("event reminder")
        verbose_name_plural = _("event reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "contact", "hours_before"], name="event_reminder_once"
            )
        ]
        indexes = [models.Index(fields=["claim"], name="event_reminder_claim_idx")]

    def __str__(self) -> str:
        return f"{self.event_id}/{self.contact_id}/{self.hours_before}h"


# --- A/B tests of landing pages (ADR 40, ADR 48; logic in experiments.py) -------------------


def _experiment_salt() -> str:
    import secrets

    return secrets.token_hex(8)


class Experiment(ClusterableModel):
    """An A/B test of one landing page: variants of its content served to visitors by a
    split, sticky per visitor, until the marketer promotes the winner or stops it.

    At most one test per page runs at a time. ``salt`` makes each test's assignment
    independent of the others' (a visitor in B of one test is not in B of every test)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        ENDED = "ended", _("Ended")

    name = models.CharField(_("name"), max_length=200)
    page = models.ForeignKey(
        "capture.LandingPage",
        verbose_name=_("landing page"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("The landing page whose variants are tested."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    min_days = models.PositiveSmallIntegerField(
        _("minimum days"),
        default=7,
        help_text=_("The test runs at least this many days before a winner may be called."),
    )
    min_exposures = models.PositiveIntegerField(
        _("minimum visitors per variant"),
        default=100,
        help_text=_(
            "Each variant needs at least this many visitors before a winner may be called."
        ),
    )
    risk_threshold_percent = models.DecimalField(
        _("risk threshold (percentage points)"),
        max_digits=5,
        decimal_places=2,
        default=0.25,
        help_text=_(
            "A winner is called when choosing it costs less than this much conversion rate on average "
            "(its expected loss), e.g. 0.25 for a quarter of a percentage point."
        ),
    )
    salt = models.CharField(max_length=16, default=_experiment_salt, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True, editable=False)
    winner = models.ForeignKey(
        "capture.Variant",
        verbose_name=_("promoted variant"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    panels = [
        FieldPanel("name"),
        FieldPanel("page"),
        MultiFieldPanel(
            [
                FieldPanel("min_days"),
                FieldPanel("min_exposures"),
                FieldPanel("risk_threshold_percent"),
            ],
            heading=_("When to call a winner"),
        ),
        InlinePanel("variants", heading=_("Variants"), label=_("Variant"), min_num=2),
    ]

    class Meta:
        verbose_name = _("A/B test")
        verbose_name_plural = _("A/B tests")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["page"],
                condition=models.Q(status="running"),
                name="experiment_one_running_per_page",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Variant(Orderable):
    """One version of the page in a test. A field left empty shows the page's own: the
    control leaves everything empty; a variant may change only the headline, the blocks,
    the form, or all of them. ``weight`` is its share of the split (relative)."""

    experiment = ParentalKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(_("label"), max_length=100, help_text=_("e.g. A, B, “short form”."))
    weight = models.PositiveSmallIntegerField(
        _("share of visitors"),
        default=50,
        help_text=_("Relative: 50 and 50 split evenly; 80 and 20 send four in five to the first."),
    )
    headline = models.CharField(
        _("headline"), max_length=255, blank=True, help_text=_("Empty: the page's title.")
    )
    intro = models.CharField(
        _("description"), max_length=300, blank=True, help_text=_("Empty: the page's description.")
    )
    body = StreamField(
        LandingBodyBlock(),
        blank=True,
        use_json_field=True,
        verbose_name=_("blocks"),
        help_text=_("Empty: the page's blocks (its offer, form, calls to action …)."),
    )
    form = models.ForeignKey(
        Form,
        verbose_name=_("conversion form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty: the page's form."),
    )

    panels = [
        FieldPanel("label"),
        FieldPanel("weight"),
        FieldPanel("headline"),
        FieldPanel("intro"),
        FieldPanel("form"),
        FieldPanel("body"),
    ]

    class Meta(Orderable.Meta):
        verbose_name = _("variant")
        verbose_name_plural = _("variants")

    def __str__(self) -> str:
        return self.label

    @property
    def is_control(self) -> bool:
        """Shows the page as it is (nothing changed)."""
        return not (self.headline or self.intro or self.body.raw_data or self.form_id)


class Exposure(models.Model):
    """One visitor shown one variant of a test, once (the first view); ``converted_at`` and
    ``submission_id`` are set by the first accepted submission from that page afterwards.

    ``visitor_key``: the visitor's ``lm_vid`` id, or (cookieless) ``~`` and a keyed hash of
    its address and browser (see :func:`.experiments.visitor_key`)."""

    wagtail_reference_index_ignore = True

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="exposures")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="exposures")
    visitor_key = models.CharField(max_length=80)
    exposed_at = models.DateTimeField(_("first shown"))
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    submission_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("A/B test exposure")
        verbose_name_plural = _("A/B test exposures")
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "visitor_key"], name="exposure_one_per_visitor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.variant_id} #{self.pk}"


from .pages import LandingPage  # noqa: E402,F401  (Wagtail page models live in pages.py)
