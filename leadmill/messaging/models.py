from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    """An email kept by the embedded outbox backend instead of being sent over SMTP.

    Lets a small team see what Leadmill sends without configuring a mail server.
    """

    message_id = models.CharField(max_length=255, blank=True)
    from_email = models.CharField(_("from"), max_length=255)
    to = models.TextField(_("to"))
    subject = models.CharField(_("subject"), max_length=500)
    text_body = models.TextField(_("text"))
    html_body = models.TextField(_("HTML"), blank=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(_("queued"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("outbox email")
        verbose_name_plural = _("email outbox")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"
