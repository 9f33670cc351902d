"""contact-sdk: a resilient contact-form backend for AWS Lambda that sends email through Resend.

The public face is re-exported here; everything else is an implementation detail.
Importing this package reads no environment variable and opens no connection.
"""

from contact_sdk._version import __version__
from contact_sdk.breaker import ProviderBreaker
from contact_sdk.errors import (
    CircuitOpenError,
    ConfigUnavailableError,
    ConfigurationError,
    ContactSdkError,
    PermanentProviderError,
    ProviderAuthError,
    ProviderDeferredError,
    ProviderError,
    ProviderQuotaError,
    TransientProviderError,
)
from contact_sdk.metrics import Metric, MetricsRecorder
from contact_sdk.resend import OutgoingEmail, ResendClient, RetryPolicy, Timeouts
from contact_sdk.settings import Settings

__all__ = [
    "CircuitOpenError",
    "ConfigUnavailableError",
    "ConfigurationError",
    "ContactSdkError",
    "Metric",
    "MetricsRecorder",
    "OutgoingEmail",
    "PermanentProviderError",
    "ProviderAuthError",
    "ProviderBreaker",
    "ProviderDeferredError",
    "ProviderError",
    "ProviderQuotaError",
    "ResendClient",
    "RetryPolicy",
    "Settings",
    "Timeouts",
    "TransientProviderError",
    "__version__",
]
