"""Writes of the integrations app: endpoints, their secrets, and sending deliveries."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from django import db
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core.outgoing import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    TOTAL_TIMEOUT_S,
    OutgoingFailed,
    OutgoingRefused,
    OutgoingSession,
    url_problem,
)

from . import signing
from .handlers import PAYLOAD_VERSION, WEBHOOK_EVENTS, webhook_id_of
from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

# Waits after the 1st, 2nd … failed attempt (about three days in all); then it has failed.
RETRY_SECONDS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.1
LEASE_SECONDS = 120  # LEADMILL_WEBHOOK_LEASE_SECONDS
LEASE_MARGIN_S = 1.0  # a request ends this long before its rows' lease at the latest
ANSWER_KEPT = 1024
LANE_BATCH = 500
LANE_KEY_PREFIX = "leadmill.webhook-lane."
FAILING_DAYS_BEFORE_DISABLE = 3


def _url_checked(url: str) -> None:
    problem = url_problem(url, unknown_host_ok=True)
    if problem:
        raise ValidationError({"url": problem})


def _events_checked(events: list[str]) -> None:
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if unknown:
        raise ValidationError(
            {"events": _("Unknown event types: %(types)s") % {"types": ", ".join(unknown)}}
        )


def endpoint_create(
    *, url: str, events: list[str], description: str = "", enabled: bool = True, owner=None
) -> WebhookEndpoint:
    """A new endpoint with a fresh ``whsec_`` secret. Raises ValidationError for a URL that
    may not be called (not http(s), a non-public address) or an unknown event type."""
    _url_checked(url)
    _events_checked(events)
    return WebhookEndpoint.objects.create(
        url=url,
        events=list(events),
        description=description,
        enabled=enabled,
        owner=owner,
        secret=signing.secret_new(),
    )


def endpoint_update(*, endpoint: WebhookEndpoint, **fields) -> WebhookEndpoint:
    """Change ``url``, ``events``, ``description`` or ``enabled``; enabling clears the
    failure state. Raises ValidationError as :func:`endpoint_create`."""
    if "url" in fields:
        _url_checked(fields["url"])
    if "events" in fields:
        _events_checked(fields["events"])
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if fields.get("enabled"):
        endpoint.failing_since = None
        endpoint.disabled_reason = ""
    endpoint.save()
    return endpoint


def endpoint_secret_rotate(
    *, endpoint: WebhookEndpoint, grace: dt.timedelta = dt.timedelta(hours=24)
) -> str:
    """A new secret for the endpoint; the old one keeps signing (beside it) for ``grace``.
    Returns the new secret (shown once)."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + grace
    endpoint.secret = signing.secret_new()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint.secret


def _secrets_signing(endpoint: WebhookEndpoint, now: dt.datetime) -> list[str]:
    signing_now = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_until
        and (endpoint.previous_secret_until > now)
    ):
        signing_now.append(endpoint.previous_secret)
    return signing_now


def endpoint_test_event_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Owe the endpoint a ``webhook.test`` delivery (the admin's "send test event")."""
    now = timezone.now()
    payload = {
        "type": "webhook.test",
        "version": PAYLOAD_VERSION,
        "timestamp": now.isoformat(),
        "data": {"endpoint_id": endpoint.pk},
    }
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        webhook_id=webhook_id_of(payload),
        event_type="webhook.test",
        payload=payload,
        next_attempt_at=now,
    )


def delivery_replay(*, delivery: WebhookDelivery) -> None:
    """Send the delivery again (same ``webhook-id``), now."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), leased_until=None
    )


def deliveries_replay_failed_since(*, endpoint: WebhookEndpoint, since: dt.datetime) -> int:
    """Send again every failed delivery of the endpoint created since ``since``; how many."""
    return WebhookDelivery.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), leased_until=None)


def _lease_seconds() -> int:
    return getattr(settings, "LEADMILL_WEBHOOK_LEASE_SECONDS", LEASE_SECONDS)


def _slot_seconds() -> int:
    """A slot outlives the lease of every batch sent under it, renewed at most a third of a
    lease apart (:meth:`_Lane.renew`)."""
    return _lease_seconds() * 4 // 3 + 1


def _due(now: dt.datetime) -> Q:
    """Deliveries that may be sent now: pending, due, and not leased by a live worker."""
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) & (
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    )


class _Claimed(NamedTuple):
    pk: int
    webhook_id: str
    body: bytes  # the payload as stored (JSON text): sent as it is, not decoded and encoded
    attempts: int


_CLAIM_SQL = """
    UPDATE {table} SET leased_until = %s
    WHERE id IN (
        SELECT id FROM {table}
        WHERE endpoint_id = %s AND status = %s AND next_attempt_at <= %s
            AND (leased_until IS NULL OR leased_until < %s)
        ORDER BY next_attempt_at, id
        LIMIT %s{lock}
    )
    RETURNING id, webhook_id, payload, attempts, next_attempt_at
"""


def _claim(endpoint_id: int, now: dt.datetime, limit: int) -> list[_Claimed]:
    """Lease up to ``limit`` due deliveries of one endpoint to this lane, oldest first, in
    one statement (one round trip: the sender's rate on a busy database is its round
    trips). A lease that ran out (its worker died) is claimed again, so nothing due is
    lost. PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two lanes never claim one row; SQLite
    runs one writing statement at a time."""
    connection = db.connections[WebhookDelivery.objects.db]
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    sql = _CLAIM_SQL.format(
        table=connection.ops.quote_name(WebhookDelivery._meta.db_table), lock=lock
    )
    until = now + dt.timedelta(seconds=_lease_seconds())
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [adapt(until), endpoint_id, DeliveryStatus.PENDING, adapt(now), adapt(now), limit],
        )
        rows = sorted(cursor.fetchall(), key=lambda row: (str(row[4]), row[0]))
    return [
        _Claimed(pk, webhook_id, payload.encode(), attempts)
        for pk, webhook_id, payload, attempts, _due_at in rows
    ]


def _send_one(
    session: OutgoingSession,
    endpoint: WebhookEndpoint,
    delivery: _Claimed,
    secrets_signing: list[str],
    seconds: float,
):
    headers = signing.headers(
        secrets_signing=secrets_signing,
        webhook_id=delivery.webhook_id,
        timestamp=int(time.time()),
        body=delivery.body,
    )
    try:
        answer = session.request(
            method="POST",
            url=endpoint.url,
            body=delivery.body,
            headers=headers,
            max_body_bytes=ANSWER_KEPT,
            connect_timeout=min(CONNECT_TIMEOUT_S, seconds),
            read_timeout=min(READ_TIMEOUT_S, seconds),
            total_timeout=min(TOTAL_TIMEOUT_S, seconds),
        )
    except (OutgoingFailed, OutgoingRefused) as exc:
        return None, str(exc)[:ANSWER_KEPT]
    return answer.status, answer.body.decode("utf-8", "replace")[:ANSWER_KEPT]


def _send_endpoint(
    session: OutgoingSession,
    endpoint: WebhookEndpoint,
    deliveries: list[_Claimed],
    lease_ends: float,
):
    """One endpoint's claimed deliveries, one after the other over one kept connection.
    Stops at a 410, and before a request that could outlast the rows' lease (another
    worker may claim them then): the rest is left unsent, for the caller to release."""
    secrets_signing = _secrets_signing(endpoint, timezone.now())
    results = []
    for delivery in deliveries:
        seconds = round(lease_ends - time.monotonic() - LEASE_MARGIN_S, 1)
        if seconds < 1:
            break
        status, answer = _send_one(session, endpoint, delivery, secrets_signing, seconds)
        results.append((delivery, status, answer))
        if status == 410:
            break
    return results


def _retry_at(attempts: int, now: dt.datetime) -> dt.datetime | None:
    if attempts > len(RETRY_SECONDS):
        return None
    wait = RETRY_SECONDS[attempts - 1]
    return now + dt.timedelta(seconds=wait * random.uniform(1 - JITTER, 1 + JITTER))


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop sending to the endpoint and tell its owner by email."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=reason)
    if endpoint.owner_id and endpoint.owner.email:
        send_mail(
            _("Webhook endpoint disabled: %(url)s") % {"url": endpoint.url},
            _("Leadmill stopped sending webhooks to %(url)s: %(reason)s")
            % {
                "url": endpoint.url,
                "reason": reason,
            },
            settings.DEFAULT_FROM_EMAIL,
            [endpoint.owner.email],
            fail_silently=True,
        )


def _record(endpoint: WebhookEndpoint, results: list) -> None:
    """Write each attempt's outcome: the delivered ones in one UPDATE per distinct answer,
    the others one by one (each gets its own retry time, with jitter)."""
    now = timezone.now()
    delivered: dict[tuple[int, str], list[int]] = defaultdict(list)
    for delivery, status, answer in results:
        if status is not None and 200 <= status < 300:
            delivered[(status, answer)].append(delivery.pk)
            continue
        retry_at = _retry_at(delivery.attempts + 1, now)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=delivery.attempts + 1,
            last_status=status,
            last_attempt_at=now,
            last_answer=answer,
            leased_until=None,
            next_attempt_at=retry_at,
            status=DeliveryStatus.PENDING if retry_at else DeliveryStatus.FAILED,
        )
    for (status, answer), pks in delivered.items():
        WebhookDelivery.objects.filter(pk__in=pks).update(
            status=DeliveryStatus.DELIVERED,
            attempts=F("attempts") + 1,
            last_status=status,
            last_attempt_at=now,
            last_answer=answer,
            leased_until=None,
            next_attempt_at=None,
        )
    last_status = results[-1][1] if results else None
    if last_status == 410:
        endpoint_disable(endpoint=endpoint, reason=_("the receiver answered 410 Gone"))
    elif delivered:
        if endpoint.failing_since:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            endpoint.failing_since = None
    elif results:
        if endpoint.failing_since is None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
            endpoint.failing_since = now
        elif now - endpoint.failing_since > dt.timedelta(days=FAILING_DAYS_BEFORE_DISABLE):
            endpoint_disable(
                endpoint=endpoint,
                reason=_("every delivery failed for %(days)s days")
                % {"days": FAILING_DAYS_BEFORE_DISABLE},
            )


class _Lane:
    """The right to send to one endpoint: one of its ``LEADMILL_WEBHOOK_ENDPOINT_CONCURRENCY``
    slots, an expiring key in the cache every worker shares (a killed worker's slot lapses
    with its leases). At most that many requests are in flight to an endpoint, whatever the
    number of workers."""

    def __init__(self, endpoint_id: int) -> None:
        self.endpoint_id = endpoint_id
        self.key: str | None = None
        self.token = uuid.uuid4().hex
        self.renewed_at = 0.0

    def take(self) -> bool:
        concurrency = max(1, getattr(settings, "LEADMILL_WEBHOOK_ENDPOINT_CONCURRENCY", 2))
        for slot in range(concurrency):
            key = f"{LANE_KEY_PREFIX}{self.endpoint_id}.{slot}"
            if cache.add(key, self.token, timeout=_slot_seconds()):
                self.key, self.renewed_at = key, time.monotonic()
                return True
        return False

    def renew(self) -> None:
        """Hold the slot for another lease from now (at most once a third of a lease: each
        is a few round trips to the cache)."""
        if self.key is not None and time.monotonic() - self.renewed_at > _lease_seconds() / 3:
            cache.set(self.key, self.token, timeout=_slot_seconds())
            self.renewed_at = time.monotonic()

    def release(self) -> None:
        if self.key is not None and cache.get(self.key) == self.token:
            cache.delete(self.key)
        self.key = None


def _lane_drain(lane: _Lane) -> int:
    """Claim, send and record the endpoint's due deliveries, batch after batch, until none
    is due (or the endpoint is disabled). Returns how many were tried."""
    tried = 0
    with OutgoingSession() as session:
        while True:
            endpoint = (
                WebhookEndpoint.objects.select_related("owner")
                .filter(pk=lane.endpoint_id, enabled=True)
                .first()
            )
            if endpoint is None:
                return tried
            lane.renew()
            lease_ends = time.monotonic() + _lease_seconds()
            claimed = _claim(endpoint.pk, timezone.now(), LANE_BATCH)
            if not claimed:
                return tried
            results = _send_endpoint(session, endpoint, claimed, lease_ends)
            _record(endpoint, results)
            tried += len(results)
            if len(results) < len(claimed):  # a 410, or the lease ran short: free the rest
                sent = {d.pk for d, _s, _a in results}
                WebhookDelivery.objects.filter(
                    pk__in=[d.pk for d in claimed if d.pk not in sent]
                ).update(leased_until=None)


def _endpoint_send_due(endpoint_id: int) -> int:
    """One endpoint's lane, in a thread of its own: drain it while holding a slot. After
    letting the slot go it looks once more: a wake-up that found every slot taken just
    before has left its deliveries to this lane."""
    tried = 0
    try:
        while True:
            lane = _Lane(endpoint_id)
            if not lane.take():
                return tried
            try:
                tried += _lane_drain(lane)
            finally:
                lane.release()
            if not _due_endpoints(timezone.now(), only=endpoint_id):
                return tried
    finally:
        db.connections.close_all()  # this thread's connections


def _due_endpoints(now: dt.datetime, *, only: int | None = None) -> list[int]:
    due = WebhookDelivery.objects.filter(_due(now), endpoint_id=OuterRef("pk"))
    endpoints = WebhookEndpoint.objects.filter(Exists(due), enabled=True)
    if only is not None:
        endpoints = endpoints.filter(pk=only)
    return list(endpoints.order_by("pk").values_list("pk", flat=True))


def deliveries_send_due() -> int:
    """Send every due delivery and record each answer: a lane per endpoint with deliveries
    due (at most ``LEADMILL_WEBHOOK_THREADS`` at once), each over its own kept connection
    and bounded by the endpoint's slots, so a slow receiver holds up only its own lane.
    Returns how many deliveries were tried."""
    endpoint_ids = _due_endpoints(timezone.now())
    if not endpoint_ids:
        return 0
    threads = max(1, min(getattr(settings, "LEADMILL_WEBHOOK_THREADS", 8), len(endpoint_ids)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook-lane") as pool:
        return sum(pool.map(_endpoint_send_due, endpoint_ids))
