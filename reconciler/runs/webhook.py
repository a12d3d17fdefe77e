"""The webhook of ``reconciler watch``: a JSON summary POSTed when drift appears, changes or clears (Slack
and Teams incoming webhooks render its ``text``). Secrets masked; 5xx answers and connection failures
retried; a failure is a warning, never the end of a watch. The URL's path is an incoming webhook's secret:
logs show the scheme and host only. Redirects are not followed: a webhook answering 30x could otherwise send
the watch's POST (and its summary of the estate) to any address it names, internal ones included."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

WEBHOOK_TIMEOUT_S = 10.0
WEBHOOK_ATTEMPTS = 3


class _Retryable(Exception):
    """A 5xx answer or a connection failure: worth another attempt."""


def _opener() -> urllib.request.OpenerDirector:
    """An opener that treats a redirect as the answer (an HTTPError with its 30x code), never following it."""

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirects())


def webhook_host(url: str) -> str:
    """The URL as logged: scheme and host only (an incoming webhook's path is its secret)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}/..."


def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    timeout_s: float = WEBHOOK_TIMEOUT_S,
    attempts: int = WEBHOOK_ATTEMPTS,
    wait_s: float = 1.0,
) -> bool:
    """POST ``payload`` (secrets masked) as JSON; retry 5xx answers and connection failures. A failure is
    logged as a warning (``watch.webhook-failed``) and returns False: a webhook never stops a watch."""
    import urllib.error

    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    from reconciler.runs import logs

    body = json.dumps(logs.redact(payload), default=str).encode("utf-8")

    def once() -> int:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "reconciler-watch"},
        )
        try:
            with _opener().open(request, timeout=timeout_s) as answer:
                status: int = answer.status
                return status
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise _Retryable(f"HTTP {exc.code} {exc.reason}") from exc
            if 300 <= exc.code < 400:
                raise ValueError(
                    f"HTTP {exc.code} {exc.reason}: the webhook redirects, and redirects are not followed"
                ) from exc
            raise
        except (urllib.error.URLError, OSError) as exc:
            raise _Retryable(str(getattr(exc, "reason", exc))) from exc

    where = webhook_host(url)
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(max(1, attempts)),
            wait=wait_exponential(multiplier=wait_s, max=max(wait_s, 8 * wait_s)),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        ):
            with attempt:
                status = once()
    except (_Retryable, urllib.error.HTTPError, ValueError) as exc:
        logs.log("watch.webhook-failed", level="warning", webhook=where, notice=payload.get("event"), error=str(exc))
        return False
    logs.log("watch.webhook", webhook=where, notice=payload.get("event"), status=status)
    return True
