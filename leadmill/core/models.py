from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    """A domain event, written in the publisher's transaction and delivered after commit.

    Delivery is at least once: a row stays undelivered (``delivered_at`` null) until every
    subscriber ran; the periodic sweep re-dispatches rows a crash left behind.
    """

    wagtail_reference_index_ignore = True  # high volume; Wagtail content never links to it

    name = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("outbox event")
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_undelivered_idx",
                condition=models.Q(delivered_at__isnull=True),
            ),
            # The retention deletes delivered rows by this range (core.events.outbox_prune).
            models.Index(
                fields=["delivered_at"],
                name="outbox_delivered_idx",
                condition=models.Q(delivered_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}#{self.pk}"


class RateCounter(models.Model):
    """Hits on one rate-limit key in one fixed window (see :mod:`.ratelimit`)."""

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("rate counter")
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="ratecounter_key_window")]
        indexes = [models.Index(fields=["window_start"], name="ratecounter_window_idx")]

    def __str__(self) -> str:
        return f"{self.key}@{self.window_start}: {self.hits}"
