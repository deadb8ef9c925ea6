"""Writes of the integrations app: endpoints, their secrets, and sending deliveries."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from leadmill.core.outgoing import OutgoingFailed, OutgoingRefused, outgoing_request, url_problem

from . import signing
from .handlers import PAYLOAD_VERSION, WEBHOOK_EVENTS, webhook_id_of
from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

# Waits after the 1st, 2nd … failed attempt (about three days in all); then it has failed.
RETRY_SECONDS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.1
LEASE = dt.timedelta(minutes=2)
ANSWER_KEPT = 1024
CLAIM_BATCH = 500
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


def _claim(now: dt.datetime, limit: int) -> list[WebhookDelivery]:
    """Lease due deliveries of enabled endpoints to this worker. A lease that ran out
    (its worker died) is claimed again, so nothing due is lost."""
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                Q(leased_until__isnull=True) | Q(leased_until__lt=now),
                status=DeliveryStatus.PENDING,
                next_attempt_at__lte=now,
                endpoint__enabled=True,
            )
            .order_by("next_attempt_at", "pk")[:limit]
        )
        if due:
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in due]).update(
                leased_until=now + LEASE
            )
    return due


def _send_one(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: dt.datetime):
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = signing.headers(
        secrets_signing=_secrets_signing(endpoint, now),
        webhook_id=delivery.webhook_id,
        timestamp=int(timezone.now().timestamp()),
        body=body,
    )
    try:
        answer = outgoing_request(
            method="POST", url=endpoint.url, body=body, headers=headers, max_body_bytes=ANSWER_KEPT
        )
    except (OutgoingFailed, OutgoingRefused) as exc:
        return None, str(exc)[:ANSWER_KEPT]
    return answer.status, answer.body.decode("utf-8", "replace")[:ANSWER_KEPT]


def _send_endpoint(endpoint: WebhookEndpoint, deliveries: list[WebhookDelivery], now):
    """One endpoint's deliveries, one at a time (the per-endpoint concurrency bound: a slow
    receiver holds up only its own). Stops at a 410."""
    results = []
    for delivery in deliveries:
        status, answer = _send_one(endpoint, delivery, now)
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


def _record(endpoint, results, now: dt.datetime) -> None:
    succeeded = False
    for delivery, status, answer in results:
        delivery.attempts += 1
        delivery.last_status = status
        delivery.last_attempt_at = now
        delivery.last_answer = answer
        delivery.leased_until = None
        if status is not None and 200 <= status < 300:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.next_attempt_at = None
            succeeded = True
        else:
            retry_at = _retry_at(delivery.attempts, now)
            delivery.next_attempt_at = retry_at
            if retry_at is None:
                delivery.status = DeliveryStatus.FAILED
        delivery.save(
            update_fields=[
                "attempts",
                "last_status",
                "last_attempt_at",
                "last_answer",
                "leased_until",
                "status",
                "next_attempt_at",
            ]
        )
    last_status = results[-1][1] if results else None
    if last_status == 410:
        endpoint_disable(endpoint=endpoint, reason=_("the receiver answered 410 Gone"))
    elif succeeded:
        if endpoint.failing_since:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
    elif results:
        if endpoint.failing_since is None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
        elif now - endpoint.failing_since > dt.timedelta(days=FAILING_DAYS_BEFORE_DISABLE):
            endpoint_disable(
                endpoint=endpoint,
                reason=_("every delivery failed for %(days)s days")
                % {"days": FAILING_DAYS_BEFORE_DISABLE},
            )


def deliveries_send_due(*, limit: int = CLAIM_BATCH) -> int:
    """Send the due deliveries (up to ``limit``), one thread per endpoint (at most
    ``LEADMILL_WEBHOOK_THREADS``), and record each answer. Returns how many were tried."""
    now = timezone.now()
    claimed = _claim(now, limit)
    if not claimed:
        return 0
    by_endpoint: dict[int, list[WebhookDelivery]] = defaultdict(list)
    for delivery in claimed:
        by_endpoint[delivery.endpoint_id].append(delivery)
    endpoints = WebhookEndpoint.objects.select_related("owner").in_bulk(list(by_endpoint))
    threads = getattr(settings, "LEADMILL_WEBHOOK_THREADS", 8)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(by_endpoint)))) as pool:
        futures = {
            pk: pool.submit(_send_endpoint, endpoints[pk], rows, now)
            for pk, rows in by_endpoint.items()
        }
    tried = 0
    for pk, future in futures.items():
        results = future.result()
        tried += len(results)
        _record(endpoints[pk], results, now)
        # Rows after a 410 were not tried: free their lease.
        sent = {d.pk for d, _s, _a in results}
        untried = [d.pk for d in by_endpoint[pk] if d.pk not in sent]
        if untried:
            WebhookDelivery.objects.filter(pk__in=untried).update(leased_until=None)
    return tried
