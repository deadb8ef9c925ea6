from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    """A domain event, written in the publisher's transaction and delivered after commit.

    Delivery is at least once and per handler: the first dispatch runs every subscriber; when
    one fails, an :class:`EventDelivery` row per subscriber records who is done and who is to
    be retried (alone, with backoff). ``delivered_at`` is set once every delivery succeeded.
    ``next_attempt_at`` is when the periodic sweep next looks at the event (a grace period
    after publishing, then the earliest retry due); it is empty when nothing is left to try:
    delivered, or only dead letters remain.
    """

    wagtail_reference_index_ignore = True  # high volume; Wagtail content never links to it

    name = models.CharField(_("event"), max_length=100)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("published at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("dispatches"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        indexes = [
            # The sweep's work list: events with a dispatch due (core.events.sweep).
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due_idx",
                condition=models.Q(next_attempt_at__isnull=False),
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


class EventDelivery(models.Model):
    """One subscriber's delivery of one outbox event.

    Written lazily, only for events whose first dispatch saw a failure (in one bulk insert),
    so the common case costs no row. A pending delivery is retried alone at
    ``next_attempt_at``, doubling the wait each time; after
    ``LEADMILL_EVENT_MAX_ATTEMPTS`` it becomes a dead letter, kept and listed in the admin
    until someone retries it.
    """

    wagtail_reference_index_ignore = True

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        DEAD = "dead", _("dead letter")

    event = models.ForeignKey(
        OutboxEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    handler = models.CharField(_("handler"), max_length=300)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("event delivery")
        verbose_name_plural = _("event deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "handler"], name="eventdelivery_event_handler"
            ),
        ]
        indexes = [
            # The dead-letter screen lists these, newest first.
            models.Index(
                fields=["-created_at"],
                name="eventdelivery_dead_idx",
                condition=models.Q(state="dead"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}→{self.handler}"


class RateCounter(models.Model):
    """Hits on one rate-limit key in one fixed window (see :mod:`.ratelimit`)."""

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("rate counter")
        verbose_name_plural = _("rate counters")
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratecounter_key_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratecounter_window_idx")]

    def __str__(self) -> str:
        return f"{self.key}@{self.window_start}: {self.hits}"
