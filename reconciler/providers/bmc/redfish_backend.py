"""The Redfish implementation of the BMC seam, on DMTF's ``redfish`` library (python-redfish-library).

The library is a thin REST client: this module walks the resources itself, following links rather than
assuming paths (service root -> Systems -> the system -> its ``Bios`` -> ``@Redfish.Settings``), so Dell
(``/Bios/Settings``, pending values only, a job per change) and HPE (``/Bios/Settings`` with every attribute,
applied at boot) go through the same code. The attribute registry is found through ``/redfish/v1/Registries``
(the member named by the BIOS's ``AttributeRegistry``), else at Dell's ``<Bios>/BiosRegistry``.

Two of the library's defaults are overridden on purpose: it skips certificate validation unless given a CA
file (so it always gets one: ``RECONCILER_BMC_CA_BUNDLE`` or the system's bundle), and it retries a failed
request ten times with a sleep (so ``max_retry=0``: the engine retries, with backoff, once for the whole step).
Errors leave as the engine's: HTTP 5xx and network failures are temporary, a refused login is one clear
credential error naming the BMC, a refused PATCH carries the BMC's own message (the attribute, the value).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import redfish
from redfish.rest import v1 as rest

from reconciler.core.errors import PermanentError, PreconditionError, ReconcilerError, TemporaryError
from reconciler.providers.bmc.model import (
    AttributeSpec,
    AttributeValue,
    BiosState,
    Job,
    JobState,
    Registry,
    ResetType,
    Staged,
    SystemInfo,
)
from reconciler.providers.bmc.settings import BmcSettings, BmcTarget

_DELL_STATES = {
    "scheduled": JobState.SCHEDULED,
    "new": JobState.SCHEDULED,
    "waiting": JobState.SCHEDULED,
    "running": JobState.RUNNING,
    "downloading": JobState.RUNNING,
    "completed": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "completedwitherrors": JobState.FAILED,
    # Redfish TaskState values, for BMCs that answer a Task monitor instead of a Dell job
    "starting": JobState.RUNNING,
    "pending": JobState.SCHEDULED,
    "exception": JobState.FAILED,
    "killed": JobState.FAILED,
    "cancelled": JobState.FAILED,
}


def extended_messages(body: Any) -> list[str]:
    """The human messages of a Redfish error body (``error.@Message.ExtendedInfo[].Message``)."""
    if not isinstance(body, dict):
        return []
    error = body.get("error", body)
    infos = error.get("@Message.ExtendedInfo") or [] if isinstance(error, dict) else []
    messages = [str(i.get("Message") or i.get("MessageId") or "") for i in infos if isinstance(i, dict)]
    if not any(messages) and isinstance(error, dict) and error.get("message"):
        messages = [str(error["message"])]
    return [m for m in messages if m]


class RedfishBmc:
    """One BMC over Redfish. Opens a session (or basic auth) at construction; ``close`` logs out."""

    def __init__(self, settings: BmcSettings, target: BmcTarget, *, spec_address: str | None = None) -> None:
        self.name = target.host
        self.target = target
        self._paths: dict[str, str] = {}
        login = settings.login(target, spec_address=spec_address)
        with self._boundary("connecting"):
            self._client = redfish.redfish_client(
                base_url=target.url,
                username=login.user,
                password=login.password,
                cafile=settings.cafile(),
                timeout=settings.timeout_s,
                max_retry=0,
            )
        with self._boundary("signing in"):
            self._login(settings.auth)

    # --------------------------------------------------------------------------------------- plumbing

    def _login(self, auth: str) -> None:
        root = self._client.root or {}
        has_sessions = bool(root.get("SessionService")) or bool((root.get("Links") or {}).get("Sessions"))
        if auth == "session" and has_sessions:
            try:
                self._client.login(auth=rest.AuthMethod.SESSION)
                return
            except rest.SessionCreationError:
                pass  # a session service that refuses sessions (not the credentials): fall back to basic
        self._client.login(auth=rest.AuthMethod.BASIC)

    @contextlib.contextmanager
    def _boundary(self, action: str) -> Iterator[None]:
        where = f"BMC of {self.name} ({self.target.url})"
        try:
            yield
        except ReconcilerError:
            raise
        except rest.InvalidCredentialsError:
            raise PermanentError(
                f"{where}: the login was refused (wrong user name or password): check RECONCILER_BMC_USER and "
                f"RECONCILER_BMC_PASSWORD, or the BMC's entry in RECONCILER_BMC_LOGIN_FILE",
                code="InvalidCredentials",
            ) from None
        except (rest.RetriesExhaustedError, rest.ServerDownOrUnreachableError) as exc:
            cause = exc.__cause__ or exc
            if "CERTIFICATE_VERIFY_FAILED" in str(cause):
                raise PermanentError(
                    f"{where}: its TLS certificate is not trusted: put its CA in RECONCILER_BMC_CA_BUNDLE (a PEM file)",
                    code="CertificateNotTrusted",
                ) from None
            raise TemporaryError(f"{where}: {action}: {type(cause).__name__}: {cause}") from None
        except (OSError, rest.JsonDecodingError, rest.SessionCreationError) as exc:
            raise TemporaryError(f"{where}: {action}: {type(exc).__name__}: {exc}") from None

    def _request(self, method: str, path: str, *, action: str, body: Any = None) -> Any:
        """One request; its response, or the engine error for a failure status."""
        with self._boundary(action):
            call = getattr(self._client, method.lower())
            response = call(path, body=body) if body is not None else call(path)
        status = int(response.status)
        if status < 400:
            return response
        where = f"BMC of {self.name} ({self.target.url})"
        try:
            detail = "; ".join(extended_messages(response.dict)) or response.text[:200]
        except Exception:
            detail = str(status)
        if status == 401:
            raise TemporaryError(f"{where}: {action}: 401 (the session expired): signing in again on retry")
        if status >= 500 or status == 429:
            raise TemporaryError(f"{where}: {action}: HTTP {status}: {detail}")
        raise PermanentError(f"{where}: {action}: HTTP {status}: {detail}", code=f"HTTP{status}")

    def _get(self, path: str, *, action: str) -> dict[str, Any]:
        body = self._request("GET", path, action=action).dict
        return body if isinstance(body, dict) else {}

    def _path(self, key: str) -> str:
        """Discover (once) the system, BIOS and settings paths by following links from the service root."""
        if not self._paths:
            root = self._client.root or {}
            systems = self._get(root["Systems"]["@odata.id"], action="listing the systems")
            members = systems.get("Members") or []
            if not members:
                raise PermanentError(f"BMC of {self.name}: it manages no system", code="NoSystem")
            system_path = members[0]["@odata.id"]
            system = self._get(system_path, action="reading the system")
            bios_link = (system.get("Bios") or {}).get("@odata.id")
            if not bios_link:
                raise PermanentError(f"BMC of {self.name}: the system exposes no BIOS resource", code="NoBios")
            bios = self._get(bios_link, action="reading the BIOS")
            settings = ((bios.get("@Redfish.Settings") or {}).get("SettingsObject") or {}).get("@odata.id")
            reset = (system.get("Actions") or {}).get("#ComputerSystem.Reset") or {}
            self._paths = {
                "system": system_path,
                "bios": bios_link,
                "settings": settings or f"{bios_link.rstrip('/')}/Settings",
                "reset": reset.get("target") or f"{system_path.rstrip('/')}/Actions/ComputerSystem.Reset",
                "reset_types": ",".join(reset.get("ResetType@Redfish.AllowableValues") or []),
                "registry_id": str(bios.get("AttributeRegistry") or ""),
                "apply_times": ",".join((bios.get("@Redfish.Settings") or {}).get("SupportedApplyTimes") or []),
            }
        return self._paths[key]

    # --------------------------------------------------------------------------------------- the seam

    def system(self) -> SystemInfo:
        body = self._get(self._path("system"), action="reading the system")
        return SystemInfo(
            id=str(body.get("Id", "")),
            name=str(body.get("HostName") or body.get("Name") or ""),
            manufacturer=str(body.get("Manufacturer") or ""),
            model=str(body.get("Model") or ""),
            power_state=str(body.get("PowerState") or ""),
        )

    def read_bios(self) -> BiosState:
        # The pending settings first: a boot that applies them between the two reads then shows them in force
        # (and so not pending), never as gone from both (read the other way round, they would seem dropped).
        staged = self._get(self._path("settings"), action="reading the pending BIOS settings").get("Attributes") or {}
        current = self._get(self._path("bios"), action="reading the BIOS").get("Attributes") or {}
        # Dell lists only pending values; HPE lists every attribute with pending ones merged: keep differences.
        pending = {k: v for k, v in staged.items() if current.get(k) != v}
        return BiosState(attributes=dict(current), pending=pending, registry_id=self._path("registry_id"))

    def registry(self) -> Registry:
        registry_id = self._path("registry_id")
        body = self._find_registry(registry_id)
        specs: dict[str, AttributeSpec] = {}
        for entry in (body.get("RegistryEntries") or {}).get("Attributes") or []:
            values = tuple(str(v.get("ValueName")) for v in entry.get("Value") or [] if isinstance(v, dict))
            name = str(entry.get("AttributeName"))
            specs[name] = AttributeSpec(
                name=name,
                kind=str(entry.get("Type") or ""),
                values=values,
                read_only=bool(entry.get("ReadOnly", False)),
                lower=entry.get("LowerBound"),
                upper=entry.get("UpperBound"),
            )
        return Registry(id=str(body.get("Id") or registry_id), attributes=specs)

    def _find_registry(self, registry_id: str) -> dict[str, Any]:
        root = self._client.root or {}
        collection = (root.get("Registries") or {}).get("@odata.id")
        if collection and registry_id:
            listed = self._get(collection, action="listing the registries")
            for member in listed.get("Members") or []:
                path = str(member.get("@odata.id", ""))
                if path.rstrip("/").rsplit("/", 1)[-1] != registry_id:
                    continue
                entry = self._get(path, action="reading the registry's location")
                locations = entry.get("Location") or []
                english = next((loc for loc in locations if loc.get("Language") == "en"), None)
                uri = (english or (locations[0] if locations else {})).get("Uri")
                if uri:
                    return self._get(uri, action="reading the BIOS attribute registry")
        # Dell iDRAC serves it under the BIOS resource.
        return self._get(f"{self._path('bios').rstrip('/')}/BiosRegistry", action="reading the BIOS attribute registry")

    def stage(self, attributes: Mapping[str, AttributeValue]) -> Staged:
        body: dict[str, Any] = {"Attributes": dict(attributes)}
        if "OnReset" in self._path("apply_times").split(","):
            body["@Redfish.SettingsApplyTime"] = {"ApplyTime": "OnReset"}
        response = self._request("PATCH", self._path("settings"), action="staging BIOS settings", body=body)
        location = response.getheader("Location") or ""
        job_id = location.rstrip("/").rsplit("/", 1)[-1] if location else None
        if job_id:
            self._paths[f"job:{job_id}"] = location
        return Staged(job_id=job_id, attributes=dict(attributes))

    def pending_job(self) -> str | None:
        """The id of a BIOS job still waiting to run or running (Dell's job list), if any."""
        path = self._jobs_path()
        if path is None:
            return None
        listed = self._get(path, action="listing the jobs")
        for member in listed.get("Members") or []:
            job_path = str(member.get("@odata.id", ""))
            job_id = job_path.rstrip("/").rsplit("/", 1)[-1]
            self._paths[f"job:{job_id}"] = job_path
            job = self.job(job_id)
            if job.state in (JobState.SCHEDULED, JobState.RUNNING):
                return job_id
        return None

    def _jobs_path(self) -> str | None:
        if "Dell" not in str((self._client.root or {}).get("Vendor", "")) and self.target.vendor != "dell":
            return None
        return "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/Jobs"

    def job(self, job_id: str) -> Job:
        path = self._paths.get(f"job:{job_id}") or f"{self._jobs_path() or '/redfish/v1/TaskService/Tasks'}/{job_id}"
        body = self._get(path, action=f"reading job {job_id}")
        raw = str(body.get("JobState") or body.get("TaskState") or "")
        percent = body.get("PercentComplete")
        return Job(
            id=job_id,
            state=_DELL_STATES.get(raw.casefold(), JobState.OTHER),
            percent=int(percent) if isinstance(percent, int | float) else None,
            message=str(body.get("Message") or ""),
        )

    def discard_pending(self) -> None:
        """Drop staged values: delete the scheduled BIOS job (Dell); elsewhere not possible over Redfish."""
        job_id = self.pending_job()
        if job_id is None:
            if self.read_bios().pending:
                raise PreconditionError(
                    f"BMC of {self.name}: pending BIOS settings cannot be discarded over Redfish here; they apply at "
                    "the next reset",
                    code="CannotDiscard",
                )
            return
        self._request("DELETE", self._paths[f"job:{job_id}"], action=f"deleting job {job_id}")

    def reset(self, kind: ResetType = ResetType.GRACEFUL_RESTART) -> None:
        allowed = [t for t in self._path("reset_types").split(",") if t]
        chosen = kind.value
        if allowed and chosen not in allowed and kind is ResetType.GRACEFUL_RESTART and "ForceRestart" in allowed:
            chosen = "ForceRestart"
        if self.system().power_state.casefold() == "off":
            chosen = ResetType.ON.value
        self._request(
            "POST", self._path("reset"), action=f"resetting the server ({chosen})", body={"ResetType": chosen}
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a session already gone has nothing left to log out of
            self._client.logout()
