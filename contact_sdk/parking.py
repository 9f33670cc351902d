"""Where a submission the provider refused for good waits for an operator: the parking lot.

A documented permanent refusal (a ``4xx`` other than ``409``/``429``: validation, an unverified
sender domain's ``403``, a revoked key after the one config refresh) cannot succeed by retrying,
so it is neither retried nor left to burn the outbox's receive count. It is *parked*: kept durably
with its reason, in production on the outbox's dead-letter queue (``CONTACT_PARKED_QUEUE_URL``)
with a ``parkedReason`` message attribute. ``contact-sdk outbox parked`` lists them with their
reasons; ``contact-sdk outbox redrive --parked-only`` sends them back once the cause is fixed.

:meth:`contact_sdk.delivery.Delivery` is the one place a submission is parked (metric, ERROR log,
record), from the API and the outbox consumer alike. The submission's record keeps the parked email
too, for at least the dead-letter queue's 14 days, so the operator can release it after the queue's
copy is gone.

Example::

    lot = SqsParkingLot(dead_letter_queue_url)
    lot.park(queued, reason="ProviderRequestError 422 invalid_from_address: ...")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from contact_sdk.errors import ContactSdkError
from contact_sdk.outbox import LazySqsClient, QueuedEmail

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["PARKED_REASON_ATTRIBUTE", "ParkingLot", "ParkingUnavailable", "SqsParkingLot"]

#: The SQS message attribute that marks a parked submission and says why.
PARKED_REASON_ATTRIBUTE = "parkedReason"
#: SQS allows 256 KiB per message; a reason is a sentence, kept short for the console.
_MAX_REASON = 300


class ParkingUnavailable(ContactSdkError):  # noqa: N818 - reads as a state, like OutboxUnavailable
    """The parking lot did not take the submission."""


class ParkingLot(Protocol):
    """Somewhere durable to keep a permanently refused submission with its reason."""

    def park(self, queued: QueuedEmail, *, reason: str) -> None:
        """Keep it, or raise :class:`ParkingUnavailable`."""

    def park_unreadable(self, body: str, *, reason: str) -> None:
        """Keep an outbox message that is not a submission at all, as it came; or raise :class:`ParkingUnavailable`."""


class SqsParkingLot:
    """Parks on an SQS queue (the outbox's dead-letter queue). Needs ``sqs:SendMessage`` on it."""

    def __init__(
        self,
        queue_url: str,
        *,
        client: SQSClient | None = None,
        client_factory: Callable[[], SQSClient] | None = None,
    ) -> None:
        self.queue_url = queue_url
        self._client = LazySqsClient(client, client_factory)

    def _sqs(self) -> SQSClient:
        return self._client.get()

    def park(self, queued: QueuedEmail, *, reason: str) -> None:
        """Send the submission with its reason as the ``parkedReason`` attribute."""
        self._send(
            queued.to_json(),
            reason,
            {
                "idempotencyKey": {"DataType": "String", "StringValue": queued.idempotency_key},
                "requestId": {"DataType": "String", "StringValue": queued.request_id},
            },
        )

    def park_unreadable(self, body: str, *, reason: str) -> None:
        """Send the body as it came, with the reason it could not be read."""
        self._send(body, reason, {})

    def _send(self, body: str, reason: str, attributes: dict[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - boto is loaded by now

        attributes = {
            **attributes,
            PARKED_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:_MAX_REASON] or "unknown"},
        }
        try:
            self._sqs().send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes)
        except (ClientError, BotoCoreError) as exc:
            raise ParkingUnavailable(f"the parking queue did not take the message ({type(exc).__name__})") from exc
