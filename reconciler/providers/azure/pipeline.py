"""The SDK pipeline's per-request retry policy: a throttled request is sent again, not the whole step.

ARM throttles per subscription and per tenant and answers 429 with Retry-After; a step makes several requests
(a re-read, the write, the operation's polls), and retrying the step for one throttled request repeats every
request before it. So each client's pipeline retries the request itself:

- 429 and 408 (the service did not act on the request): any method;
- 500, 502, 503, 504: the methods azure-core deems safe (GET, PUT, DELETE, HEAD; POST and PATCH on 500, 503,
  504);
- never 501 or 505 (the service does not support the request: permanent), nor any other status, whatever
  headers it carries;
- the delay is the service's Retry-After (or x-ms-retry-after-ms), cut to ``max_retry_after_s``; without one,
  exponential backoff from ``backoff_s``;
- at most ``retries`` times per request; past that the last answer goes to the error boundary (``arm.py``),
  which makes it a TemporaryError for the engine.

Imported only when the provider is on (azure-core is slow to import).
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy as _SdkRetryPolicy

RETRIED = frozenset({408, 429, 500, 502, 503, 504})
ANY_METHOD = frozenset({408, 429})


class RetryPolicy(_SdkRetryPolicy[Any, Any]):
    """azure-core's retry policy with a closed list of retried statuses and a cap on Retry-After."""

    def __init__(self, *, max_retry_after_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_retry_after_s = max_retry_after_s

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        status = response.http_response.status_code
        if status not in RETRIED or not settings["total"]:
            return False
        if status in ANY_METHOD:
            return True
        return bool(super().is_retry(settings, response))

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        delay = super().get_retry_after(response)
        return None if delay is None else min(float(delay), self.max_retry_after_s)


def retry_policy(*, retries: int, max_retry_after_s: float, backoff_s: float) -> RetryPolicy:
    """The policy every client of the provider gets (``settings.AzureSettings.client_kwargs``)."""
    return RetryPolicy(
        max_retry_after_s=max_retry_after_s,
        retry_total=retries,
        retry_connect=retries,
        retry_read=retries,
        retry_status=retries,
        retry_backoff_factor=backoff_s,
        retry_backoff_max=max_retry_after_s,
    )
