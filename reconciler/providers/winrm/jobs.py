"""Waiting on VMM jobs. A write script starts its long cmdlet with ``-RunAsynchronously -JobVariable`` and
prints the job's ID; :meth:`Jobs.wait` then polls ``Get-SCJob`` (``vmm_jobs.ps1``, every job of the step in
one run) until each is done or the job timeout passes, reporting each new status and progress. A failed job's
own ``ErrorInfo`` (VMM's error code, the problem and the recommended action) is the step's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.core.errors import PermanentError
from reconciler.providers.base import Progress
from reconciler.providers.winrm.context import SiteRef
from reconciler.providers.winrm.session import Session

DONE = frozenset({"completed", "succeedwithinfo"})
FAILED = frozenset({"failed", "canceled", "cancelled"})


class Jobs:
    def __init__(
        self,
        session: Session,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session
        self.timeout_s = session.settings.job_timeout_s
        self.poll_s = session.settings.poll_interval_s
        self._clock = clock
        self._sleep = sleep

    def wait(self, site: SiteRef, ids: Iterable[str], what: str, report: Progress) -> None:
        """Wait for the VMM jobs ``ids`` of the step ``what`` (``create logical network X``)."""
        pending = [i for i in dict.fromkeys(ids) if i]
        deadline = self._clock() + self.timeout_s
        seen: dict[str, str] = {}
        while pending:
            for job in self.session.vmm(site, "vmm_jobs", {"ids": list(pending)}):
                if not isinstance(job, Mapping):
                    continue
                ident = str(job.get("ID") or "")
                status = str(job.get("Status") or "")
                line = _line(job)
                if seen.get(ident) != line:
                    report(f"{what}: {line}")
                    seen[ident] = line
                if status.casefold() in FAILED:
                    raise _failed(what, job)
                if status.casefold() in DONE and ident in pending:
                    pending.remove(ident)
            if not pending:
                return
            if self._clock() > deadline:
                raise PermanentError(
                    f"{what}: VMM job {', '.join(pending)} did not finish within {self.timeout_s:g}s "
                    "(RECONCILER_JOB_TIMEOUT_S); it may still finish: run apply again to check",
                    code="JobTimeout",
                )
            self._sleep(self.poll_s)

    def pause(self, attempt: int) -> None:
        """Wait before attempt ``attempt + 1`` of something worth retrying (a poll interval per attempt)."""
        self._sleep(self.poll_s * attempt)


def jobs_of(result: Mapping[str, Any]) -> list[str]:
    """The job IDs a write script printed."""
    value = result.get("jobs")
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if v]


def _line(job: Mapping[str, Any]) -> str:
    progress = f" ({job.get('Progress')})" if job.get("Progress") else ""
    step = f": {job.get('CurrentStep')}" if job.get("CurrentStep") else ""
    return f"VMM job {job.get('Name') or job.get('ID')}: {job.get('Status')}{progress}{step}"


def _failed(what: str, job: Mapping[str, Any]) -> PermanentError:
    """The job's own error: VMM's code, its problem and what it recommends."""
    info = job.get("ErrorInfo")
    error: Mapping[str, Any] = info if isinstance(info, Mapping) else {}
    code = str(error.get("Code") or error.get("DetailedCode") or "JobFailed")
    problem = str(error.get("Problem") or "no error recorded").strip()
    action = str(error.get("RecommendedAction") or "").strip()
    message = f"{what}: VMM job {job.get('Name') or job.get('ID')} {str(job.get('Status')).lower()}: {code}: {problem}"
    if action:
        message += f" (recommended: {action})"
    return PermanentError(message, code=code)
