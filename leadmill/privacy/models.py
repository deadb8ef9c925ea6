"""Privacy's rows: the audit of each erasure."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ErasureRecord(models.Model):
    """One person erased: when, by whom, why, and how many rows of each model went.

    It holds no personal data of the person: the former lead's id (which now finds nothing),
    and the keyed hash under which its address is on the suppression list (the same hash the
    list holds, so the record can say "this address is the one suppressed" when the person
    asks again, without the address). The reason is written by the operator and must not
    name the person (the form and the command say so).
    """

    class Via(models.TextChoices):
        BACK_OFFICE = "back_office", _("Back office")
        COMMAND = "command", _("Command line")
        API = "api", _("API")

    erased_at = models.DateTimeField(_("erased at"), auto_now_add=True, db_index=True)
    contact_id = models.BigIntegerField(_("former lead id"))
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("erased by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who, as text: the user's name when it was done (kept if the user is deleted), or the
    # API key's name, or "command line".
    erased_by_name = models.CharField(_("erased by (name)"), max_length=150, blank=True)
    via = models.CharField(_("via"), max_length=20, choices=Via.choices)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    suppression_hash = models.CharField(_("suppression hash"), max_length=64, blank=True)
    # Rows deleted or changed per "app.model": {"tracking.event": 12, "contacts.contact": 1}.
    rows = models.JSONField(_("rows erased"), default=dict)

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        ordering = ["-erased_at", "-id"]
        permissions = [("erase_contact", _("Can erase a lead and its personal data"))]

    def __str__(self) -> str:
        return f"#{self.contact_id} {self.erased_at:%Y-%m-%d %H:%M}"

    @property
    def rows_total(self) -> int:
        return sum(self.rows.values())
