"""The state of the tests' emulated VMM server (``tests/vmm_emulator.py``): its objects by type and VMM ID, its
jobs, and what a cmdlet does when it refuses (a PowerShell terminating error, as the shipped prelude reports it).

Objects are plain dicts named as ``Get-SC*`` names their properties; references between them are VMM IDs, so a
name is looked up when it is printed, as VMM does. Names compare without case, as VMM's do."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests import winrm_powershell as ps

Record = dict[str, Any]


class CmdletError(Exception):
    """A cmdlet's terminating error: becomes the prelude's error block (``ps.error``)."""

    def __init__(self, message: str, *, cmdlet: str, category: str = "InvalidOperation", code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.cmdlet = cmdlet
        self.category = category
        self.code = code

    def reply(self) -> ps.Reply:
        error_id = (
            f"{self.code},Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.{self.cmdlet}" if self.code else ""
        )
        return ps.error(self.message, cmdlet=self.cmdlet, category=self.category, error_id=error_id)


@dataclass
class Job:
    ID: str
    Name: str
    polls_left: int
    error: Record | None = None  # a failed job's ErrorInfo
    polls: int = 0

    @property
    def status(self) -> str:
        if self.polls < self.polls_left:
            return "Running"
        return "Failed" if self.error is not None else "Completed"

    def as_record(self) -> Record:
        status = self.status
        progress = f"{min(99, 100 * self.polls // max(1, self.polls_left))} %" if status == "Running" else "100 %"
        return {
            "ID": self.ID,
            "Name": self.Name,
            "Status": status,
            "Progress": progress,
            "CurrentStep": self.Name if status == "Running" else "",
            "ErrorInfo": self.error if status == "Failed" else None,
        }


@dataclass
class _Failure:
    pattern: re.Pattern[str]
    error: Record


@dataclass
class State:
    """Every object of the VMM server, by type then VMM ID; its jobs; faults waiting to happen."""

    server: str
    job_polls: int = 1
    tables: dict[str, dict[str, Record]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- objects -----------------------------------------------------------------------------------------------

    def all(self, kind: str) -> list[Record]:
        return list(self.tables.get(kind, {}).values())

    def add(self, kind: str, record: Record) -> Record:
        record.setdefault("ID", str(uuid.uuid4()))
        self.tables.setdefault(kind, {})[record["ID"]] = record
        return record

    def remove(self, kind: str, record: Record) -> None:
        self.tables.get(kind, {}).pop(record["ID"], None)

    def get(self, kind: str, ident: str) -> Record | None:
        return self.tables.get(kind, {}).get(str(ident))

    def find(self, kind: str, *, ident: Any = None, name: Any = None) -> Record | None:
        """Find-RcObject: by ID when one is given, else the first of that name (without case)."""
        if ident:
            return self.get(kind, str(ident))
        wanted = str(name).casefold()
        return next((r for r in self.all(kind) if str(r["Name"]).casefold() == wanted), None)

    def need(self, kind: str, name: Any, what: str, *, cmdlet: str) -> Record:
        """Assert-RcFound: the object, or the ObjectNotFound error the script stops on."""
        found = self.find(kind, name=name)
        if found is None:
            raise CmdletError(f"{what} '{name}' does not exist", cmdlet=cmdlet, category="ObjectNotFound")
        return found

    def name(self, kind: str, ident: Any) -> str | None:
        found = self.get(kind, str(ident)) if ident else None
        return str(found["Name"]) if found is not None else None

    def used_by(self, kind: str, test: Any) -> Iterator[Record]:
        return (r for r in self.all(kind) if test(r))

    # --- jobs --------------------------------------------------------------------------------------------------

    def fail_next(self, name: str, *, code: str, problem: str, action: str = "") -> None:
        """The next job whose name matches ``name`` (a regex) fails with this ErrorInfo, and changes nothing."""
        error = {"Code": code, "DetailedCode": f"0x{abs(hash(code)) % 0xFFFF:04x}", "Problem": problem}
        self.failures.append(_Failure(re.compile(name), {**error, "RecommendedAction": action}))

    def job(self, name: str, change: Any = None) -> str:
        """Start a job (``-RunAsynchronously``): ``change`` happens now unless a fault says the job fails."""
        failure = next((f for f in self.failures if f.pattern.search(name)), None)
        if failure is not None:
            self.failures.remove(failure)
        elif change is not None:
            change()
        ident = str(uuid.uuid4())
        self.jobs[ident] = Job(ident, name, self.job_polls, failure.error if failure else None)
        return ident

    def create(self, kind: str, job_name: str, record: Record) -> Record:
        """A New-SC* cmdlet run asynchronously: the object exists once its job did not fail (a failed job
        leaves nothing behind). What the script prints: Write-RcResult."""
        record.setdefault("ID", str(uuid.uuid4()))
        return result(record, [self.job(job_name, lambda: self.add(kind, record))])

    def poll(self, ident: str) -> Record:
        job = self.jobs.get(str(ident))
        if job is None:
            raise CmdletError(f"VMM job {ident} does not exist", cmdlet="Get-SCJob", category="ObjectNotFound")
        record = job.as_record()
        job.polls += 1
        return record


def result(record: Record | None, jobs: list[str]) -> Record:
    """Write-RcResult."""
    return {"id": record["ID"] if record is not None else None, "jobs": jobs}


def wanted(data: Any, name: str) -> bool:
    """Test-RcWanted."""
    names = data.get("names") if isinstance(data, dict) else None
    return not names or name.casefold() in {str(n).casefold() for n in names}


def unknown(vmm: State, data: dict[str, Any]) -> Record:
    """What a script's ``default`` branch does: Stop-RcUnknown."""
    raise CmdletError("unknown operation", cmdlet="Write-Error", category="InvalidArgument")


def refuse_in_use(record: Record, users: list[Record], cmdlet: str) -> None:
    """VMM refuses to remove what another object uses."""
    if users:
        raise CmdletError(
            f"'{record['Name']}' cannot be removed because '{users[0]['Name']}' uses it.", cmdlet=cmdlet, code="20413"
        )


def host_groups(vmm: State, paths: Any, cmdlet: str) -> list[str]:
    """The host groups of ``paths`` (VMM's spelling); a missing one stops the script (ObjectNotFound)."""
    known = {str(g["Path"]).casefold(): str(g["Path"]) for g in vmm.all("hostGroup")}
    out = []
    for path in paths or []:
        if str(path).casefold() not in known:
            raise CmdletError(f"host group '{path}' does not exist", cmdlet=cmdlet, category="ObjectNotFound")
        out.append(known[str(path).casefold()])
    return out


def describer(tables: dict[str, str]) -> Callable[[State, dict[str, Any]], Record]:
    """A script's ``describe`` operation (an adoption) for its kinds (kind -> table): the Description set, nothing
    else; a one-kind script ignores ``$Data.kind`` (give its table under ``*``)."""

    def run(vmm: State, data: dict[str, Any]) -> Record:
        return _describe(vmm, tables.get(str(data.get("kind"))) or tables.get("*"), data)

    return run


def _describe(vmm: State, table: str | None, data: dict[str, Any]) -> Record:
    found = vmm.get(table, str(data.get("id"))) if table else None
    if found is None:
        what = table or str(data.get("kind"))
        raise CmdletError(f"{what} '{data.get('id')}' does not exist", cmdlet="Write-Error", category="ObjectNotFound")
    found["Description"] = str(data.get("description") or "")
    return result(found, [])
