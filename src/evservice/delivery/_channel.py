"""The :class:`Channel` plug-in point, an in-memory channel for tests, routing and retries.

A channel turns a :class:`Message` into a delivery: a file, an SMTP
transaction, a call to an SMS gateway. Every failure comes out as
:class:`~evservice.errors.DeliveryError` whose ``retryable`` tells whether
trying again may help (a 503 or a timeout may; a refused login will not).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar

from evservice.delivery._message import DeliveryReceipt, Message
from evservice.errors import DeliveryError, ValidationError

__all__ = ["Channel", "MemoryChannel", "RetryPolicy", "RoutingChannel", "send_with_retry"]

log = logging.getLogger("evservice.delivery")


class Channel(ABC):
    """Base class of delivery channels: implement :meth:`_send` (and :meth:`close` if needed).

    ``kinds`` lists the message kinds the channel can carry; :meth:`send`
    refuses others with a non-retryable :class:`DeliveryError`.
    """

    name: ClassVar[str] = "channel"
    kinds: frozenset[str] = frozenset({"email", "sms"})

    def send(self, message: Message) -> DeliveryReceipt:
        """Deliver ``message`` or raise :class:`DeliveryError`."""
        if message.kind not in self.kinds:
            raise DeliveryError(
                f"channel {self.name!r} cannot send {message.kind} messages", retryable=False
            )
        receipt = self._send(message)
        log.info(
            "message %s to %s sent via %s (%s)",
            message.id,
            receipt.to_masked,
            receipt.channel,
            receipt.status,
        )
        return receipt

    @abstractmethod
    def _send(self, message: Message) -> DeliveryReceipt:
        """Channel-specific delivery."""

    def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing
        """Release connections; the default has nothing to release."""

    def __enter__(self) -> Channel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MemoryChannel(Channel):
    """Keeps sent messages in :attr:`sent`; can be told to fail (for tests and demos).

    ``fail_next(n)`` makes the next ``n`` sends raise a :class:`DeliveryError`
    (retryable unless told otherwise), like a gateway outage.
    """

    name = "memory"

    def __init__(self, kinds: Iterable[str] = ("email", "sms")) -> None:
        self.kinds = frozenset(kinds)
        self.sent: list[Message] = []
        self.attempts = 0
        self._failures: list[DeliveryError] = []
        self._lock = threading.Lock()

    def fail_next(self, count: int = 1, *, retryable: bool = True) -> None:
        """Make the next ``count`` sends fail."""
        with self._lock:
            self._failures.extend(
                DeliveryError("memory channel: simulated outage", retryable=retryable)
                for _ in range(count)
            )

    def _send(self, message: Message) -> DeliveryReceipt:
        with self._lock:
            self.attempts += 1
            if self._failures:
                raise self._failures.pop(0)
            self.sent.append(message)
            provider_id = f"mem-{len(self.sent)}"
        return DeliveryReceipt(
            channel=self.name,
            message_id=message.id,
            to_masked=message.masked_to,
            status="sent",
            provider_id=provider_id,
        )


class RoutingChannel(Channel):
    """Sends e-mail through one channel and SMS through another."""

    name = "routing"

    def __init__(self, *, email: Channel | None = None, sms: Channel | None = None) -> None:
        self.routes = {kind: ch for kind, ch in (("email", email), ("sms", sms)) if ch is not None}
        for kind, channel in self.routes.items():
            if kind not in channel.kinds:
                raise ValidationError(kind, f"channel {channel.name!r} cannot send {kind}")
        self.kinds = frozenset(self.routes)

    def _send(self, message: Message) -> DeliveryReceipt:
        return self.routes[message.kind]._send(message)

    def close(self) -> None:
        for channel in {id(c): c for c in self.routes.values()}.values():
            channel.close()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: try ``attempts`` times, waiting ``base_delay * factor**(n-1)``.

    Used in-process by :func:`send_with_retry` (short delays, a person is
    waiting for an OTP) and by the durable outbox (long delays between runs).
    """

    attempts: int = 3
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValidationError("attempts", "must be at least 1")
        if self.base_delay < 0 or self.factor < 1 or self.max_delay < 0:
            raise ValidationError("base_delay", "delays must be >= 0 and the factor >= 1")

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1, 2, ...)."""
        return float(min(self.max_delay, self.base_delay * self.factor ** max(0, failures - 1)))


def send_with_retry(
    channel: Channel,
    message: Message,
    *,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReceipt:
    """Send, retrying retryable failures with backoff; raise the last :class:`DeliveryError`."""
    policy = policy or RetryPolicy()
    for attempt in range(1, policy.attempts + 1):
        try:
            return channel.send(message)
        except DeliveryError as exc:
            if not exc.retryable or attempt == policy.attempts:
                log.warning(
                    "message %s to %s failed for good after %d attempt(s): %s",
                    message.id,
                    message.masked_to,
                    attempt,
                    exc,
                )
                raise
            wait = policy.delay(attempt)
            log.info(
                "message %s: attempt %d failed (%s); retrying in %.2fs",
                message.id,
                attempt,
                exc,
                wait,
            )
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
