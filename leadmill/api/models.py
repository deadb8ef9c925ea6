import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Read / write per area. Another app's endpoints add their scopes with one line each.
SCOPES = {
    "leads:read": _("Read leads and their consents"),
    "leads:write": _("Create and update leads"),
    "webhooks:read": _("Read webhook endpoints and their deliveries"),
    "webhooks:write": _("Create, change and delete webhook endpoints"),
    "sequences:write": _("Enrol leads in sequences"),
    "owners:read": _("List the sales reps leads can be routed to"),
    "analytics:read": _("Read analytics reports"),
    "submissions:read": _("Read submissions (what each channel handed in, verbatim)"),
    "events:write": _("Send events of visitors and leads"),
    "segments:read": _("Read segments and their members"),
    "segments:write": _("Put leads on static lists and take them off"),
    "sequences:read": _("List sequences"),
    "outcomes:write": _("Record won and lost outcomes"),
    "activities:read": _("Read sales activities"),
    "activities:write": _("Log sales activities and tick tasks done"),
    "analytics:write": _("Record ad spend"),
    "privacy:write": _("Erase leads and their personal data (cannot be undone)"),
}
ALL_SCOPES = "all"  # what ``leadmill apikey --scope all`` and the admin's "every scope" grant


class ApiKey(models.Model):
    """A scoped API key. Only its SHA-256 is stored; the key is shown once, at creation."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(
        _("expires"), null=True, blank=True, help_text=_("Empty: the key does not expire.")
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class IdempotentRequest(models.Model):
    """A POST or PATCH sent with an ``Idempotency-Key``: in flight until its answer is stored,
    then replayed to a retry with the same key and body for 24 hours (ADR 33).

    ``key_hash`` is the SHA-256 of the bearer token (an API key's own hash): keys of
    different API keys never meet. Deleted after a day by ``api.tasks``. ``contact_id``: the
    lead whose data the stored answer holds, when it concerns one (the personal-data
    registry finds the row by it: ``api/personal_data.py``).
    """

    key_hash = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    contact_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key_hash", "idempotency_key"], name="api_idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.idempotency_key
