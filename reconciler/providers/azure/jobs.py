"""Waiting on Azure's long-running operations, and on the Azure Site Recovery jobs behind them.

Every write that ARM answers with 202 goes through :meth:`Jobs.wait`: it starts the SDK's poller, follows it
within the provider's job timeout, and reports progress. ASR names its job in the operation's status URL
(``.../replicationJobs/{job}``): while the poller waits, progress shows the job's state and running task, and
a failed job's own errors (with ASR's recommended action) replace the operation's terse summary.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from reconciler.core.errors import PermanentError
from reconciler.providers.azure import arm
from reconciler.providers.azure.context import VaultRef
from reconciler.providers.azure.session import Family, Session, plain
from reconciler.providers.base import Progress

_JOB = re.compile(r"/replicationJobs/([^/?]+)", re.IGNORECASE)

# Starts the operation: called with the hook that sees the first response's headers, returns the SDK poller.
Start = Callable[[Callable[[Any], None]], Any]


class Jobs:
    def __init__(self, session: Session, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.timeout_s = session.settings.job_timeout_s
        self._clock = clock

    def wait(self, what: str, start: Start, report: Progress, vault: VaultRef | None = None) -> Any:
        """Start a long-running operation and wait for it, with progress and the job timeout; ``vault``: the
        vault whose ASR job the operation runs (its state is then the progress shown). The operation's result."""
        return self.run(what, start, report, vault)[0]

    def run(self, what: str, start: Start, report: Progress, vault: VaultRef | None = None) -> tuple[Any, str | None]:
        """:meth:`wait`, with the name of the ASR job behind the operation (None: not an ASR job)."""
        urls: list[str] = []

        def hook(response: Any) -> None:
            headers = response.http_response.headers
            for header in ("Azure-AsyncOperation", "Location"):
                if headers.get(header):
                    urls.append(str(headers[header]))

        with arm.boundary(what):
            poller = start(hook)
        job = next((m.group(1) for u in urls for m in [_JOB.search(u)] if m), None)
        try:
            self._follow(what, poller, report, vault, job)
            with arm.boundary(what):
                return poller.result(), job
        except PermanentError as exc:
            if vault is not None and job:
                detail = self._job_errors(vault, job)
                if detail:  # the job's own errors say more (and what to do): they replace the summary
                    raise PermanentError(f"{what}: ASR job {job} failed: {detail}", code=exc.code) from exc
            raise

    def _follow(self, what: str, poller: Any, report: Progress, vault: VaultRef | None, job: str | None) -> None:
        """Poll until done, reporting each new state; JobTimeout past the deadline."""
        deadline = self._clock() + self.timeout_s
        last = ""
        while True:
            with arm.boundary(what):
                poller.wait(timeout=min(5.0, max(0.0, deadline - self._clock())))
                done = poller.done()
            if done:
                return
            state = self._job_state(vault, job) if vault is not None and job else str(poller.status())
            if state != last:
                report(f"{what}: {state}")
                last = state
            if self._clock() > deadline:
                raise PermanentError(
                    f"{what} did not finish within {self.timeout_s:g}s"
                    + (f" (ASR job {job})" if job else "")
                    + "; it may still finish: run apply again to check",
                    code="JobTimeout",
                )

    def job(self, vault: VaultRef, job: str) -> dict[str, Any] | None:
        """The ASR job (wire JSON), or None when it cannot be read."""
        return self._job(vault, job)

    def _job(self, vault: VaultRef, job: str) -> dict[str, Any] | None:
        asr = self.session.vault_client(Family.ASR, vault)
        try:
            with arm.boundary(f"get ASR job {job}"):
                return plain(asr.replication_jobs.get(vault.resource_group, vault.name, job))
        except PermanentError:  # the job only adds detail: without it the operation's own answer stands
            return None

    def _job_state(self, vault: VaultRef, job: str) -> str:
        obj = self._job(vault, job)
        props = (obj or {}).get("properties") or {}
        state = str(props.get("state") or "InProgress")
        running = next(
            (t for t in props.get("tasks") or [] if str(t.get("state", "")).casefold() == "inprogress"), None
        )
        task = f" ({running.get('friendlyName') or running.get('name')})" if running else ""
        return f"ASR job {props.get('friendlyName') or job}: {state}{task}"

    def _job_errors(self, vault: VaultRef, job: str) -> str:
        props = (self._job(vault, job) or {}).get("properties") or {}
        parts = []
        for error in props.get("errors") or []:
            service = error.get("serviceErrorDetails") or error.get("providerErrorDetails") or {}
            code = service.get("code") or service.get("errorCode") or ""
            message = service.get("message") or service.get("errorMessage") or ""
            action = service.get("recommendedAction")
            parts.append(f"{code}: {message}" + (f" (recommended: {action})" if action else ""))
        return "; ".join(parts)
