import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

SCOPES = {
    "leads:read": _("Read leads and their consents"),
    "leads:write": _("Create and update leads"),
    "nurture:write": _("Enrol leads in sequences"),
    "analytics:read": _("Read analytics reports"),
}


class ApiKey(models.Model):
    """A scoped API key. Only its SHA-256 is stored; the key is shown once, at creation."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
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
