"""A local, stateful, in-process fake of Azure Resource Manager (ARM) and the Azure AD token endpoint.

It serves HTTPS on 127.0.0.1 with a certificate signed by a throwaway CA (``ca_path``), so the REAL Azure SDK
clients (azure-mgmt-recoveryservicessiterecovery, -recoveryservices, -storage, -network, -resource, and
azure-identity) can be pointed at it with ``base_url=fake.base_url`` and ``connection_verify=fake.ca_path``.

What it models (the multi-tenant Hyper-V/VMM to Azure Site Recovery case, docs/azure.md):

* resource groups, storage accounts, virtual networks (tenant side);
* Recovery Services vaults and, under a vault, the ASR objects: fabrics, protection containers (VMM clouds),
  replication networks (VM networks), protectable items (VMs), replication policies, container mappings,
  network mappings, replicated protected items and ASR jobs.

Behaviour worth knowing when writing tests against it:

* Stored objects are keyed by their ARM id compared case-insensitively. Ids come back in the mixed case real
  ARM uses: ASR objects start with ``/Subscriptions/`` (like Microsoft's examples), vault ids use
  ``/resourcegroups/`` in lower case, a policy's ``activeStorageAccountId`` is lower-cased.
* Every list endpoint pages ``page_size`` objects at a time with an absolute ``nextLink``.
* Every ASR write (PUT/PATCH/DELETE/POST remove under a vault) creates an ASR job and answers 202 with
  ``Azure-AsyncOperation`` and ``Location`` both set to ``{vault}/replicationJobs/{job}/operationresults/{op}``.
  The write takes effect when the job succeeds, which happens on the (``job_polls`` + 1)-th poll of that URL
  (a GET of the job itself counts as a poll too, for clients that follow the job rather than the operation).
* Tenant-side long-running operations (storage create, vnet create/delete, vault create/delete, resource group
  delete) also finish after ``job_polls`` InProgress polls.
* ``inject`` makes the next matching requests fail; ``fail_next_job`` makes the next matching ASR job fail.
* ASR refuses as the service does: 400 ``BadRequest`` with a generic message, the specific code, message and
  recommended action in ``details``. Enable protection is checked against the protectable item (``hvHostVmId``,
  the disks, managed disks with a cache account or a storage account, never both); a container mapping's
  ``providerSpecificInput`` needs its ``instanceType``.
* ``bodies`` records every write's JSON body; ``nic_shape = "legacy"`` answers protected VMs' NICs in the older
  shape (``recoveryVMSubnetName``, no ``ipConfigs``), where an update's NIC input replaces the NIC's subnet.
* ``register_vmm`` is what registering a VMM server leaves (``add_vault(..., vmm_server=None)``: a vault
  without); ``extras`` (tests/azure_fake_extras.py): recovery plans, test failover, recovery points, ASR
  Providers, resource provider registration (``extras.unregister``) and throttling (``extras.throttle_every``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tests import tls
from tests.azure_fake_extras import Extras
from tests.azure_fake_graph import PATH as GRAPH_PATH
from tests.azure_fake_graph import FakeGraph

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential, TokenRequestOptions

JSON = dict[str, Any]

AZURE = "Microsoft Azure"
HVR_AZURE = "HyperVReplicaAzure"
_ASR_TYPE = "Microsoft.RecoveryServices/vaults"
_NAMESPACE = uuid.UUID("6f1c1f0e-8a43-4c1e-9a55-0d8f6a3f2b10")
_NOT_FOUND_HINT = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"


# --------------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key(path: str) -> str:
    """The case-insensitive key of an ARM id or request path."""
    return urllib.parse.unquote(path).rstrip("/").lower()


def _location(value: str) -> str:
    """ARM's normalized location: "West US" -> "westus"."""
    return value.replace(" ", "").lower()


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts).lower()))


def _name_of(arm_id: str) -> str:
    return arm_id.rstrip("/").rsplit("/", 1)[-1]


def _props(obj: JSON) -> JSON:
    properties = obj.setdefault("properties", {})
    assert isinstance(properties, dict)
    return properties


class ArmError(Exception):
    """An ARM error answer: {"error": {"code", "message"}}, with ``details`` when given."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: list[JSON] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self, path: str) -> JSON:
        """The answer's body. ASR refuses in its own shape: 400 ``BadRequest`` with a generic message, the
        specific code, message, causes and recommended action in ``details`` (as the service answers)."""
        error: JSON = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        elif self.status == 400 and "/replication" in path.lower():
            error = {
                "code": "BadRequest",
                "message": "The operation has failed.",
                "details": [
                    {
                        "code": self.code,
                        "message": self.message,
                        "possibleCauses": "The request is not valid for the current state of the object.",
                        "recommendedAction": "Fix the request and retry the operation.",
                        "activityId": str(uuid.uuid4()),
                    }
                ],
            }
        return {"error": error}


def _bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


@dataclass
class _Request:
    method: str
    path: str  # unquoted, without query and trailing slash
    raw_path: str  # as sent, without query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class _Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Injection:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: str
    message: str
    retry_after: int | None
    times: int


@dataclass
class _JobFailure:
    pattern: re.Pattern[str]
    code: str
    message: str


@dataclass
class _Operation:
    """A long-running operation behind a status URL."""

    op_id: str
    kind: str  # "asr" (ASR job), "async" (Azure-AsyncOperation status body) or "location" (202 until done)
    path: str  # the status URL's path
    polls_needed: int
    apply: Callable[[], None]
    rollback: Callable[[], None] | None = None
    result: Callable[[], JSON | None] | None = None  # the final body of a Location-polled operation
    job_key: str | None = None
    failure: _JobFailure | None = None
    polls: int = 0
    status: str = "InProgress"
    start_time: str = field(default_factory=_now)
    end_time: str | None = None


@dataclass
class _Vault:
    key: str
    obj: JSON
    prefix: str  # display id prefix of the vault's ASR objects
    sub: str
    rg: str
    name: str


# --------------------------------------------------------------------------------------------------------------
# TLS material
# --------------------------------------------------------------------------------------------------------------


def _write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost) signed by it.

    Returns (CA PEM, server certificate chain PEM, server key PEM)."""
    certs = tls.write_certificates(directory, label="fake-azure")
    return certs.ca, certs.chain, certs.key


# --------------------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------------------


class _Server(tls.LocalServer):
    def __init__(self, fake: FakeAzure, context: ssl.SSLContext) -> None:
        self.fake = fake
        super().__init__(_Handler, context)


class _Handler(tls.LocalHandler):
    server: _Server

    def _read_body(self) -> bytes:
        return self.read_body()

    def _dispatch(self) -> None:
        raw = self._read_body()
        status, headers, payload = self.server.fake._handle(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)

    do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = _dispatch


class _StaticCredential:
    """A TokenCredential whose tokens never expire."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 10 * 365 * 24 * 3600)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, int(time.time()) + 10 * 365 * 24 * 3600)

    def close(self) -> None:
        return

    def __enter__(self) -> _StaticCredential:
        return self

    def __exit__(self, *args: object) -> None:
        return


# --------------------------------------------------------------------------------------------------------------
# URL patterns (matched case-insensitively against the unquoted path)
# --------------------------------------------------------------------------------------------------------------

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourcegroups/(?P<rg>[^/]+)"
_SA = _RG + r"/providers/microsoft\.storage/storageaccounts"
_VNETS = _RG + r"/providers/microsoft\.network/virtualnetworks"
_VAULTS = _RG + r"/providers/microsoft\.recoveryservices/vaults"
_V = _VAULTS + r"/(?P<vault>[^/]+)"
_F = _V + r"/replicationfabrics/(?P<fabric>[^/]+)"
_C = _F + r"/replicationprotectioncontainers/(?P<container>[^/]+)"
_N = _F + r"/replicationnetworks/(?P<network>[^/]+)"
_ONE = r"/(?P<name>[^/]+)"

# the remainder (after the vault key) of every ASR object of one kind, for vault-wide lists
_DEEP = {
    "fabrics": r"replicationfabrics/[^/]+",
    "containers": r"replicationfabrics/[^/]+/replicationprotectioncontainers/[^/]+",
    "networks": r"replicationfabrics/[^/]+/replicationnetworks/[^/]+",
    "container_mappings": (
        r"replicationfabrics/[^/]+/replicationprotectioncontainers/[^/]+/replicationprotectioncontainermappings/[^/]+"
    ),
    "network_mappings": r"replicationfabrics/[^/]+/replicationnetworks/[^/]+/replicationnetworkmappings/[^/]+",
    "protected_items": (
        r"replicationfabrics/[^/]+/replicationprotectioncontainers/[^/]+/replicationprotecteditems/[^/]+"
    ),
    "policies": r"replicationpolicies/[^/]+",
    "recovery_plans": r"replicationrecoveryplans/[^/]+",
    "providers": r"replicationfabrics/[^/]+/replicationrecoveryservicesproviders/[^/]+",
    "jobs": r"replicationjobs/[^/]+",
}

_RouteHandler = Callable[[_Request, "re.Match[str]"], _Response]


# --------------------------------------------------------------------------------------------------------------
# the fake
# --------------------------------------------------------------------------------------------------------------


class FakeAzure:
    """A stateful fake of ARM + Azure AD over HTTPS. See the module docstring."""

    def __init__(self, tmp_dir: Path) -> None:
        self.base_url: str = ""
        self.calls: list[tuple[str, str]] = []
        self.token_tenants: list[str] = []
        self.token_clients: list[tuple[str, str]] = []  # (tenant, client_id) of each token request
        self.job_polls: int = 1
        self.page_size: int = 2
        self.bodies: list[tuple[str, str, Any]] = []  # (method, path, JSON body) of every ARM write
        # "ipConfigs": NICs read back with the failover subnet on each IP configuration (API 2021 and later);
        # "legacy": on the NIC (recoveryVMSubnetName, no ipConfigs), as older API versions answer.
        self.nic_shape: str = "ipConfigs"
        self._lock = threading.RLock()
        self._store: dict[str, JSON] = {}
        self._operations: dict[str, _Operation] = {}  # status URL key -> operation
        self._job_operations: dict[str, _Operation] = {}  # job key -> operation
        self._injections: list[_Injection] = []
        self._job_failures: list[_JobFailure] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        ca_path, chain_path, key_path = _write_certificates(Path(tmp_dir))
        self.ca_path: str = str(ca_path)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(chain_path), str(key_path))
        self.extras = Extras(self)  # recovery plans, test failover, ASR Providers, registration, throttling
        self.graph = FakeGraph(self)  # Resource Graph queries over the store (tests/azure_fake_graph.py)
        self._routes: list[tuple[re.Pattern[str], _RouteHandler]] = [
            (re.compile(pattern + r"/?", re.I), handler)
            for pattern, handler in [
                (_SUB + r"/resourcegroups", self._resource_groups),
                (_RG, self._resource_group),
                (_SUB + r"/providers/microsoft\.storage/storageaccounts", self._storage_accounts_in_subscription),
                (_SA, self._storage_accounts),
                (_SA + _ONE, self._storage_account),
                (_VNETS, self._virtual_networks),
                (_VNETS + _ONE, self._virtual_network),
                (_VNETS + r"/(?P<vnet>[^/]+)/subnets", self._subnets),
                (_VNETS + r"/(?P<vnet>[^/]+)/subnets" + _ONE, self._subnet),
                (_VAULTS, self._vaults),
                (_V, self._vault),
                (_V + r"/replicationfabrics", self._vault_list("fabrics")),
                (_F, self._asr_get),
                (_V + r"/replicationprotectioncontainers", self._vault_list("containers")),
                (_F + r"/replicationprotectioncontainers", self._asr_children),
                (_C, self._asr_get),
                (_V + r"/replicationnetworks", self._vault_list("networks")),
                (_F + r"/replicationnetworks", self._asr_children),
                (_N, self._asr_get),
                (_C + r"/replicationprotectableitems", self._asr_children),
                (_C + r"/replicationprotectableitems" + _ONE, self._asr_get),
                (_V + r"/replicationpolicies", self._vault_list("policies")),
                (_V + r"/replicationpolicies" + _ONE, self._policy),
                (_V + r"/replicationprotectioncontainermappings", self._vault_list("container_mappings")),
                (_C + r"/replicationprotectioncontainermappings", self._asr_children),
                (_C + r"/replicationprotectioncontainermappings" + _ONE, self._container_mapping),
                (_C + r"/replicationprotectioncontainermappings" + _ONE + r"/remove", self._container_mapping_remove),
                (_V + r"/replicationnetworkmappings", self._vault_list("network_mappings")),
                (_N + r"/replicationnetworkmappings", self._asr_children),
                (_N + r"/replicationnetworkmappings" + _ONE, self._network_mapping),
                (_V + r"/replicationprotecteditems", self._vault_list("protected_items")),
                (_C + r"/replicationprotecteditems", self._asr_children),
                (_C + r"/replicationprotecteditems" + _ONE, self._protected_item),
                (_C + r"/replicationprotecteditems" + _ONE + r"/remove", self._protected_item_remove),
                (_V + r"/replicationjobs", self._vault_list("jobs")),
                (_V + r"/replicationjobs" + _ONE, self._job),
                *self.extras.routes(_V, _C),
                (GRAPH_PATH, self.graph.handle),
            ]
        ]

    # ----------------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeAzure:
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        if self._server is None:
            self._server = _Server(self, self._context)
            self.base_url = f"https://127.0.0.1:{self._server.server_address[1]}"
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-azure", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None

    def __enter__(self) -> FakeAzure:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def credential(self) -> TokenCredential:
        """A credential whose get_token returns AccessToken("fake-token", far future)."""
        return _StaticCredential("fake-token")

    # ------------------------------------------------------------------------------------------------------- seeding

    def add_resource_group(
        self, subscription: str, name: str, location: str, tags: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            self._put(self._resource_group_object(subscription, name, location, tags))

    def add_vault(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        location: str,
        *,
        vmm_server: str | None,
        clouds: dict[str, list[str]] | None = None,
        vm_networks: list[str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """A vault, with the VMM server registered to it (``register_vmm``) unless ``vmm_server`` is None."""
        with self._lock:
            if self._store.get(self._rg_key(subscription, resource_group)) is None:
                self.add_resource_group(subscription, resource_group, location)
            rg_name = self._store[self._rg_key(subscription, resource_group)]["name"]
            vault = self._vault_object(subscription, rg_name, name, location, tags, {"name": "RS0", "tier": "Standard"})
            self._put(vault)
        if vmm_server is not None:
            self.register_vmm(
                subscription,
                resource_group,
                name,
                vmm_server=vmm_server,
                clouds=clouds or {},
                vm_networks=vm_networks or [],
            )

    def register_vmm(
        self,
        subscription: str,
        resource_group: str,
        vault_name: str,
        *,
        vmm_server: str,
        clouds: dict[str, list[str]],
        vm_networks: list[str],
        provider_version: str = "5.24.0902.2",
        connection: str = "Connected",
    ) -> None:
        """What registering a VMM server with the vault leaves (DRConfigurator.exe): one fabric with the ASR
        Provider, a protection container per cloud with its VMs as protectable items, and the VM networks as
        replication networks."""
        with self._lock:
            vault = self._store[
                _key(
                    f"/subscriptions/{subscription}/resourcegroups/{resource_group}/providers/"
                    f"microsoft.recoveryservices/vaults/{vault_name}"
                )
            ]
            scope = self._vault_scope_of(vault)
            fabric_name = _stable_id("fabric", scope.key, vmm_server)
            fabric: JSON = {
                "id": f"{scope.prefix}/replicationFabrics/{fabric_name}",
                "name": fabric_name,
                "type": f"{_ASR_TYPE}/replicationFabrics",
                "location": vault["location"],
                "properties": {
                    "friendlyName": vmm_server,
                    "encryptionDetails": {"kekState": "None"},
                    "rolloverEncryptionDetails": {"kekState": "None"},
                    "internalIdentifier": _stable_id("fabric-internal", scope.key, vmm_server),
                    "bcdrState": "Valid",
                    "customDetails": {"instanceType": "VMM"},
                    "healthErrorDetails": [],
                    "health": "Normal",
                },
            }
            self._put(fabric)
            self._put(self._recovery_services_provider(fabric, vmm_server, provider_version, connection))
            for network in vm_networks:
                network_name = _stable_id("network", fabric["id"], network)
                self._put(
                    {
                        "id": f"{fabric['id']}/replicationNetworks/{network_name}",
                        "name": network_name,
                        "type": f"{_ASR_TYPE}/replicationFabrics/replicationNetworks",
                        "properties": {
                            "fabricType": "VMM",
                            "subnets": [],
                            "friendlyName": network,
                            "networkType": "VmNetworkTypeNone",
                        },
                    }
                )
            for cloud, vms in clouds.items():
                container_name = "cloud_" + _stable_id("cloud", fabric["id"], cloud)
                container: JSON = {
                    "id": f"{fabric['id']}/replicationProtectionContainers/{container_name}",
                    "name": container_name,
                    "type": f"{_ASR_TYPE}/replicationFabrics/replicationProtectionContainers",
                    "properties": {
                        "fabricFriendlyName": vmm_server,
                        "friendlyName": cloud,
                        "fabricType": "VMM",
                        "protectedItemCount": 0,
                        "pairingStatus": "NotPaired",
                        "role": "Primary",
                        "fabricSpecificDetails": {"instanceType": "VMM"},
                    },
                }
                self._put(container)
                for vm in vms:
                    item_name = _stable_id("vm", container["id"], vm)
                    self._put(
                        {
                            "id": f"{container['id']}/replicationProtectableItems/{item_name}",
                            "name": item_name,
                            "type": f"{_ASR_TYPE}/replicationFabrics/replicationProtectionContainers/"
                            "replicationProtectableItems",
                            "properties": {
                                "friendlyName": vm,
                                "protectionStatus": "Unprotected",
                                "recoveryServicesProviderId": self._provider_id(fabric),
                                "protectionReadinessErrors": [],
                                "supportedReplicationProviders": [HVR_AZURE],
                                "customDetails": {
                                    "instanceType": "HyperVVirtualMachine",
                                    "sourceItemId": item_name,
                                    "generation": "1",
                                    "osDetails": {"osType": "Windows"},
                                    "diskDetails": [
                                        {
                                            "vhdId": _stable_id("vhd", container["id"], vm),
                                            "vhdName": f"{vm}_disk0",
                                            "maxSizeMB": 130048,
                                            "vhdType": "OperatingSystem",
                                        }
                                    ],
                                    "hasPhysicalDisk": "NotPresent",
                                    "hasFibreChannelAdapter": "NotPresent",
                                    "hasSharedVhd": "NotPresent",
                                },
                            },
                        }
                    )

    def put_raw(self, path: str, body: JSON) -> None:
        """Store any ARM object as-is under the given ARM id."""
        with self._lock:
            self._store[_key(path)] = copy.deepcopy(body)

    def objects(self, type_suffix: str) -> list[JSON]:
        """Copies of the stored objects whose ARM type ends with ``type_suffix`` (``replicationProtectedItems``)."""
        with self._lock:
            return [
                copy.deepcopy(o)
                for o in self._store.values()
                if str(o.get("type", "")).lower().endswith(type_suffix.lower())
            ]

    def get_raw(self, path: str) -> JSON | None:
        """Any stored object by its ARM id (case-insensitive), or None."""
        with self._lock:
            obj = self._store.get(_key(path))
            return copy.deepcopy(obj) if obj is not None else None

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` ARM requests with this method (or "*") whose path matches the regex answer `status`."""
        with self._lock:
            self._injections.append(
                _Injection(method.upper(), re.compile(path_regex, re.I), status, code, message, retry_after, times)
            )

    def fail_next_job(self, path_regex: str, code: str, message: str) -> None:
        """The next ASR long-running write whose path matches ends with its job Failed and is rolled back."""
        with self._lock:
            self._job_failures.append(_JobFailure(re.compile(path_regex, re.I), code, message))

    # ------------------------------------------------------------------------------------------------------ dispatch

    def _handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urllib.parse.urlsplit(target)
        raw_path = split.path
        path = urllib.parse.unquote(raw_path).rstrip("/") or "/"
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        with self._lock:
            aad = self._aad(method, path, raw)
            if aad is not None:
                response = aad
            else:
                self.calls.append((method, path))
                try:
                    body = json.loads(raw) if raw.strip() else None
                    if body is not None and not isinstance(body, dict):
                        body = ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
                except ValueError:
                    body = ArmError(400, "InvalidRequestContent", "The request content was invalid JSON.")
                graph_query = re.fullmatch(GRAPH_PATH, path, re.I) is not None  # a POST that only reads
                if method != "GET" and not graph_query and not isinstance(body, ArmError):
                    self.bodies.append((method, path, copy.deepcopy(body)))
                try:
                    if isinstance(body, ArmError):
                        raise body
                    response = self._arm(_Request(method, path, raw_path, query, headers, body))
                except ArmError as error:
                    response = _Response(error.status, error.body(path), dict(error.headers))
                except Exception:  # a bug in the fake or an input it cannot digest: say so, loudly
                    trace = traceback.format_exc()
                    sys.stderr.write(f"FakeAzure failed on {method} {path}:\n{trace}")
                    # 501: unlike 500, the SDK's retry policy does not retry it
                    response = _Response(501, {"error": {"code": "FakeAzureInternalError", "message": trace}})
        out_headers = {"x-ms-request-id": str(uuid.uuid4()), **response.headers}
        payload = b""
        if response.body is not None:
            out_headers.setdefault("Content-Type", "application/json; charset=utf-8")
            payload = json.dumps(response.body).encode()
        return response.status, out_headers, payload

    def _arm(self, req: _Request) -> _Response:
        authorization = req.headers.get("authorization", "")
        if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or not a Bearer token.",
            )
        self.extras.before(req)
        for injection in self._injections:
            if injection.method in (req.method, "*") and injection.pattern.search(req.path):
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                headers = {} if injection.retry_after is None else {"Retry-After": str(injection.retry_after)}
                raise ArmError(injection.status, injection.code, injection.message, headers)
        operation = self._operations.get(_key(req.path))
        if operation is not None:
            if req.method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on an operation status.")
            return self._poll(operation)
        for pattern, handler in self._routes:
            match = pattern.fullmatch(req.path)
            if match is not None:
                return handler(req, match)
        raise ArmError(404, "InvalidResourceType", f"The fake Azure has no route for {req.method} {req.path}.")

    # ------------------------------------------------------------------------------------------------------ Azure AD

    def _aad(self, method: str, path: str, raw: bytes) -> _Response | None:
        """Azure AD endpoints used by azure-identity/MSAL (authority=base_url), or None for ARM paths."""
        if path.lower().startswith("/subscriptions"):
            return None
        match = re.fullmatch(r"/(?P<tenant>[^/]+)(?:/v2\.0)?/\.well-known/openid-configuration", path, re.I)
        if match and method == "GET":
            return _Response(200, self._openid_configuration(match["tenant"]))
        match = re.fullmatch(r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", path, re.I)
        if match and method == "POST":
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            if form.get("grant_type") != "client_credentials":
                return _Response(
                    400,
                    {
                        "error": "unsupported_grant_type",
                        "error_description": "The fake Azure AD supports client_credentials only.",
                    },
                )
            self.token_tenants.append(match["tenant"])
            self.token_clients.append((match["tenant"], form.get("client_id", "")))
            return _Response(
                200,
                {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": "fake-aad-token"},
            )
        match = re.fullmatch(r"/(?P<tenant>[^/]+)/discovery/instance", path, re.I)
        if match and method == "GET":
            host = urllib.parse.urlsplit(self.base_url).netloc
            return _Response(
                200,
                {
                    "tenant_discovery_endpoint": (
                        f"{self.base_url}/{match['tenant']}/v2.0/.well-known/openid-configuration"
                    ),
                    "api-version": "1.1",
                    "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
                },
            )
        match = re.fullmatch(r"/(?P<tenant>[^/]+)/discovery/v2\.0/keys", path, re.I)
        if match and method == "GET":
            return _Response(200, {"keys": []})
        return None

    def _openid_configuration(self, tenant: str) -> JSON:
        base = f"{self.base_url}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/openid/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "tid", "oid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "fake.azure.local",
            "cloud_graph_host_name": "graph.fake.azure.local",
            "msgraph_host": "graph.fake.azure.local",
        }

    # ------------------------------------------------------------------------------------------------- store helpers

    def _put(self, obj: JSON) -> None:
        self._store[_key(obj["id"])] = obj

    def _delete_tree(self, key: str) -> None:
        for existing in [k for k in self._store if k == key or k.startswith(key + "/")]:
            del self._store[existing]
            self._job_operations.pop(existing, None)

    def _children(self, collection_key: str) -> list[JSON]:
        return [obj for k, obj in self._store.items() if k.rsplit("/", 1)[0] == collection_key]

    def _deep(self, base_key: str, remainder: str) -> list[JSON]:
        pattern = re.compile(re.escape(base_key) + "/" + remainder)
        return [obj for k, obj in self._store.items() if pattern.fullmatch(k)]

    def _page(self, req: _Request, items: list[JSON]) -> _Response:
        try:
            offset = max(0, int(req.query.get("$skiptoken", "0")))
        except ValueError as error:
            raise _bad_request("InvalidSkipToken", "The $skiptoken is not valid.") from error
        size = max(1, self.page_size)
        page: JSON = {"value": copy.deepcopy(items[offset : offset + size])}
        if offset + size < len(items):
            api_version = urllib.parse.quote(req.query.get("api-version", "2025-08-01"))
            page["nextLink"] = f"{self.base_url}{req.raw_path}?api-version={api_version}&$skiptoken={offset + size}"
        return _Response(200, page)

    @staticmethod
    def _methods(req: _Request, *allowed: str) -> None:
        if req.method not in allowed:
            raise ArmError(405, "MethodNotAllowed", f"The fake Azure does not support {req.method} on {req.path}.")

    @staticmethod
    def _rg_key(sub: str, rg: str) -> str:
        return _key(f"/subscriptions/{sub}/resourcegroups/{rg}")

    def _require_rg(self, sub: str, rg: str) -> JSON:
        obj = self._store.get(self._rg_key(sub, rg))
        if obj is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return obj

    def _resource_not_found(self, resource_type: str, name: str, rg: str) -> ArmError:
        return ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{resource_type}/{name}' under resource group '{rg}' was not found. {_NOT_FOUND_HINT}",
        )

    def _object(self, arm_id: str) -> JSON | None:
        return self._store.get(_key(arm_id))

    def _is_storage_account(self, arm_id: str) -> bool:
        return bool(re.fullmatch(_SA + _ONE, urllib.parse.unquote(arm_id).rstrip("/"), re.I)) and (
            self._object(arm_id) is not None
        )

    def _is_virtual_network(self, arm_id: str) -> bool:
        return bool(re.fullmatch(_VNETS + _ONE, urllib.parse.unquote(arm_id).rstrip("/"), re.I)) and (
            self._object(arm_id) is not None
        )

    # ---------------------------------------------------------------------------------------------------- operations

    def _operation(
        self,
        kind: str,
        path: str,
        apply: Callable[[], None],
        *,
        rollback: Callable[[], None] | None = None,
        result: Callable[[], JSON | None] | None = None,
        job_key: str | None = None,
        failure: _JobFailure | None = None,
    ) -> _Operation:
        op_id = path.rsplit("/", 1)[-1]
        operation = _Operation(op_id, kind, path, max(0, self.job_polls), apply, rollback, result, job_key, failure)
        self._operations[_key(path)] = operation
        if job_key is not None:
            self._job_operations[job_key] = operation
        return operation

    def _status_url(self, path: str, req: _Request) -> str:
        api_version = urllib.parse.quote(req.query.get("api-version", "2025-08-01"))
        return f"{self.base_url}{urllib.parse.quote(path)}?api-version={api_version}"

    def _advance(self, operation: _Operation) -> None:
        if operation.status != "InProgress":
            return
        operation.polls += 1
        job = self._store.get(operation.job_key) if operation.job_key else None
        if operation.polls <= operation.polls_needed:
            if job is not None:
                self._set_job_state(job, "InProgress")
            return
        operation.end_time = _now()
        if operation.failure is not None:
            operation.status = "Failed"
            if operation.rollback is not None:
                operation.rollback()
            if job is not None:
                self._set_job_state(job, "Failed", operation.failure)
        else:
            operation.status = "Succeeded"
            operation.apply()
            if job is not None:
                self._set_job_state(job, "Succeeded")
        if operation.job_key is not None:
            self._job_operations.pop(operation.job_key, None)

    def _poll(self, operation: _Operation) -> _Response:
        self._advance(operation)
        retry = {"Retry-After": "0"}
        if operation.kind == "location":
            if operation.status == "InProgress":
                return _Response(202, None, {**retry, "Location": self.base_url + urllib.parse.quote(operation.path)})
            final = operation.result() if operation.result is not None else None
            return _Response(200, final) if final is not None else _Response(204)
        body: JSON = {
            "id": operation.path,
            "name": operation.op_id,
            "status": operation.status,
            "startTime": operation.start_time,
        }
        if operation.end_time is not None:
            body["endTime"] = operation.end_time
        if operation.status == "Failed" and operation.failure is not None:
            body["error"] = {"code": operation.failure.code, "message": operation.failure.message}
        if operation.kind == "asr" and operation.status == "InProgress":
            return _Response(202, body, retry)
        return _Response(200, body, retry if operation.status == "InProgress" else {})

    def _location_operation(
        self, req: _Request, path: str, apply: Callable[[], None], result: Callable[[], JSON | None] | None = None
    ) -> _Response:
        """202 + Location polling: 202 while running, then 200 with `result()` (or 204)."""
        self._operation("location", path, apply, result=result)
        return _Response(202, None, {"Location": self._status_url(path, req), "Retry-After": "0"})

    def _async_operation_header(self, req: _Request, path: str, apply: Callable[[], None]) -> dict[str, str]:
        """Azure-AsyncOperation polling: the header to send with the PUT's 200/201 answer."""
        self._operation("async", path, apply)
        return {"Azure-AsyncOperation": self._status_url(path, req), "Retry-After": "0"}

    # ----------------------------------------------------------------------------------------------- resource groups

    def _resource_group_object(self, sub: str, name: str, location: str, tags: dict[str, str] | None) -> JSON:
        return {
            "id": f"/subscriptions/{sub}/resourceGroups/{name}",
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": _location(location),
            "tags": dict(tags or {}),
            "properties": {"provisioningState": "Succeeded"},
        }

    def _resource_groups(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        return self._page(req, self._children(_key(f"/subscriptions/{m['sub']}/resourcegroups")))

    def _resource_group(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "HEAD", "PUT", "PATCH", "DELETE")
        key = self._rg_key(m["sub"], m["rg"])
        existing = self._store.get(key)
        if req.method == "HEAD":
            return _Response(204 if existing is not None else 404)
        if req.method == "PUT":
            body = req.body or {}
            if not body.get("location"):
                raise _bad_request("LocationRequired", "The location property is required for this definition.")
            if existing is not None:
                if _location(body["location"]) != existing["location"]:
                    raise ArmError(
                        409,
                        "InvalidResourceGroupLocation",
                        f"Invalid resource group location '{_location(body['location'])}'. The Resource group "
                        f"already exists in location '{existing['location']}'.",
                    )
                existing["tags"] = dict(body.get("tags") or {})
                return _Response(200, copy.deepcopy(existing))
            obj = self._resource_group_object(m["sub"], m["rg"], body["location"], body.get("tags"))
            self._put(obj)
            return _Response(201, copy.deepcopy(obj))
        if existing is None:
            if req.method == "DELETE":
                return _Response(204)
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{m['rg']}' could not be found.")
        if req.method == "PATCH":
            if (req.body or {}).get("tags") is not None:
                existing["tags"] = dict(req.body["tags"])
            return _Response(200, copy.deepcopy(existing))
        if req.method == "DELETE":
            existing["properties"]["provisioningState"] = "Deleting"
            token = uuid.uuid4().hex.upper()
            path = f"/subscriptions/{m['sub']}/operationresults/{token}"
            return self._location_operation(req, path, lambda: self._delete_tree(key))
        return _Response(200, copy.deepcopy(existing))

    # ------------------------------------------------------------------------------------------------------- storage

    def _storage_accounts_in_subscription(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        base = _key(f"/subscriptions/{m['sub']}/resourcegroups")
        return self._page(req, self._deep(base, r"[^/]+/providers/microsoft\.storage/storageaccounts/[^/]+"))

    def _storage_accounts(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        self._require_rg(m["sub"], m["rg"])
        return self._page(req, self._children(_key(req.path)))

    def _storage_account(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "PUT", "PATCH", "DELETE")
        rg = self._require_rg(m["sub"], m["rg"])
        key = _key(req.path)
        existing = self._store.get(key)
        name = m["name"]
        if req.method == "PUT":
            body = req.body or {}
            if not body.get("location") or not body.get("sku"):
                raise _bad_request("InvalidRequestContent", "location and sku are required.")
            if not re.fullmatch(r"[a-z0-9]{3,24}", name):
                raise _bad_request(
                    "AccountNameInvalid",
                    f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                    "characters in length and use numbers and lower-case letters only.",
                )
            for other_key in self._store:
                if other_key != key and re.fullmatch(_SA + _ONE, other_key, re.I) and other_key.endswith("/" + name):
                    raise ArmError(
                        409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken."
                    )
            location = _location(body["location"])
            if existing is not None and existing.get("location") != location:
                raise ArmError(
                    409,
                    "InvalidResourceLocation",
                    f"The resource '{name}' already exists in location '{existing.get('location')}'.",
                )
            obj = existing if existing is not None else self._storage_object(m["sub"], rg["name"], name, location)
            obj["sku"] = self._storage_sku(body["sku"])
            obj["kind"] = body.get("kind") or "StorageV2"
            obj["tags"] = dict(body.get("tags") or {})
            _props(obj).update(dict(body.get("properties") or {}))
            _props(obj)["provisioningState"] = "Creating" if existing is None else "Succeeded"
            self._put(obj)

            def finish() -> None:
                current = self._store.get(key)
                if current is not None:
                    _props(current)["provisioningState"] = "Succeeded"

            path = f"/subscriptions/{m['sub']}/providers/Microsoft.Storage/locations/{location}/asyncoperations/"
            path += str(uuid.uuid4())
            return self._location_operation(req, path, finish, lambda: copy.deepcopy(self._store.get(key)))
        if existing is None:
            if req.method == "DELETE":
                return _Response(204)
            raise self._resource_not_found("Microsoft.Storage/storageAccounts", name, m["rg"])
        if req.method == "PATCH":
            body = req.body or {}
            if body.get("sku"):
                existing["sku"] = self._storage_sku(body["sku"])
            if body.get("tags") is not None:
                existing["tags"] = dict(body["tags"])
            if body.get("kind"):
                existing["kind"] = body["kind"]
            _props(existing).update(dict(body.get("properties") or {}))
            return _Response(200, copy.deepcopy(existing))
        if req.method == "DELETE":
            del self._store[key]
            return _Response(200)
        return _Response(200, copy.deepcopy(existing))

    @staticmethod
    def _storage_sku(sku: JSON) -> JSON:
        name = str(sku.get("name") or "Standard_LRS")
        return {"name": name, "tier": "Premium" if name.lower().startswith("premium") else "Standard"}

    @staticmethod
    def _storage_object(sub: str, rg: str, name: str, location: str) -> JSON:
        endpoints = {kind: f"https://{name}.{kind}.core.windows.net/" for kind in ("blob", "queue", "table", "file")}
        return {
            "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}",
            "name": name,
            "type": "Microsoft.Storage/storageAccounts",
            "location": location,
            "kind": "StorageV2",
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "tags": {},
            "properties": {
                "provisioningState": "Succeeded",
                "primaryLocation": location,
                "statusOfPrimary": "available",
                "creationTime": _now(),
                "primaryEndpoints": endpoints,
                "accessTier": "Hot",
                "supportsHttpsTrafficOnly": True,
                "minimumTlsVersion": "TLS1_2",
                "allowBlobPublicAccess": False,
                "encryption": {
                    "keySource": "Microsoft.Storage",
                    "services": {"blob": {"enabled": True, "keyType": "Account"}},
                },
            },
        }

    # ------------------------------------------------------------------------------------------------------ networks

    def _virtual_networks(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        self._require_rg(m["sub"], m["rg"])
        return self._page(req, self._children(_key(req.path)))

    def _virtual_network(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "PUT", "PATCH", "DELETE")
        rg = self._require_rg(m["sub"], m["rg"])
        key = _key(req.path)
        existing = self._store.get(key)
        name = m["name"]
        if req.method == "PUT":
            body = req.body or {}
            if not body.get("location"):
                raise _bad_request("LocationRequired", "The location property is required for this definition.")
            location = _location(body["location"])
            vnet_id = (
                existing["id"]
                if existing is not None
                else f"/subscriptions/{m['sub']}/resourceGroups/{rg['name']}/providers/Microsoft.Network/"
                f"virtualNetworks/{name}"
            )
            properties = dict(body.get("properties") or {})
            subnets = []
            for subnet in properties.get("subnets") or []:
                subnet_props = dict(subnet.get("properties") or {})
                subnet_props["provisioningState"] = "Succeeded"
                subnets.append(
                    {
                        "name": subnet["name"],
                        "id": f"{vnet_id}/subnets/{subnet['name']}",
                        "etag": f'W/"{uuid.uuid4()}"',
                        "type": "Microsoft.Network/virtualNetworks/subnets",
                        "properties": subnet_props,
                    }
                )
            properties["subnets"] = subnets
            properties["addressSpace"] = {
                "addressPrefixes": list((properties.get("addressSpace") or {}).get("addressPrefixes") or [])
            }
            properties["provisioningState"] = "Updating"
            properties.setdefault("enableDdosProtection", False)
            properties["resourceGuid"] = (
                _props(existing).get("resourceGuid") if existing is not None else str(uuid.uuid4())
            )
            obj: JSON = {
                "id": vnet_id,
                "name": existing["name"] if existing is not None else name,
                "type": "Microsoft.Network/virtualNetworks",
                "location": location,
                "tags": dict(body.get("tags") or {}),
                "etag": f'W/"{uuid.uuid4()}"',
                "properties": properties,
            }
            self._put(obj)

            def finish() -> None:
                current = self._store.get(key)
                if current is not None:
                    _props(current)["provisioningState"] = "Succeeded"

            path = (
                f"/subscriptions/{m['sub']}/providers/Microsoft.Network/locations/{location}/operations/{uuid.uuid4()}"
            )
            headers = self._async_operation_header(req, path, finish)
            return _Response(200 if existing is not None else 201, copy.deepcopy(obj), headers)
        if existing is None:
            if req.method == "DELETE":
                return _Response(204)
            raise self._resource_not_found("Microsoft.Network/virtualNetworks", name, m["rg"])
        if req.method == "PATCH":  # updateTags: the tags alone
            existing["tags"] = dict((req.body or {}).get("tags") or {})
            existing["etag"] = f'W/"{uuid.uuid4()}"'
            return _Response(200, copy.deepcopy(existing))
        if req.method == "DELETE":
            _props(existing)["provisioningState"] = "Deleting"
            location = existing.get("location", "westus")
            path = f"/subscriptions/{m['sub']}/providers/Microsoft.Network/locations/{location}/operationResults/"
            path += str(uuid.uuid4())
            return self._location_operation(req, path, lambda: self._delete_tree(key))
        return _Response(200, copy.deepcopy(existing))

    def _subnets(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        self._require_rg(m["sub"], m["rg"])
        vnet = self._store.get(_key(req.path).rsplit("/", 1)[0])
        if vnet is None:
            raise self._resource_not_found("Microsoft.Network/virtualNetworks", m["vnet"], m["rg"])
        return self._page(req, list(_props(vnet).get("subnets") or []))

    def _subnet(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        self._require_rg(m["sub"], m["rg"])
        vnet = self._store.get(_key(req.path).rsplit("/", 2)[0])
        if vnet is None:
            raise self._resource_not_found("Microsoft.Network/virtualNetworks", m["vnet"], m["rg"])
        for subnet in _props(vnet).get("subnets") or []:
            if subnet["name"].lower() == m["name"].lower():
                return _Response(200, copy.deepcopy(subnet))
        raise self._resource_not_found("Microsoft.Network/virtualNetworks/subnets", f"{m['vnet']}/{m['name']}", m["rg"])

    # -------------------------------------------------------------------------------------------------------- vaults

    @staticmethod
    def _vault_sku(sku: JSON | None) -> JSON:
        sku = dict(sku or {"name": "Standard"})
        if str(sku.get("name", "")).lower() in ("standard", "rs0"):
            return {"name": "RS0", "tier": "Standard"}
        return sku

    def _vault_object(
        self, sub: str, rg: str, name: str, location: str, tags: dict[str, str] | None, sku: JSON | None
    ) -> JSON:
        # Real ARM returns some ids with "resourcegroups" in lower case: clients must compare ids case-insensitively.
        return {
            "id": f"/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{name}",
            "name": name,
            "type": "Microsoft.RecoveryServices/vaults",
            "location": _location(location),
            "tags": dict(tags or {}),
            "etag": f"W/\"datetime'{_now()}'\"",
            "sku": self._vault_sku(sku),
            "properties": {
                "provisioningState": "Succeeded",
                "privateEndpointStateForBackup": "None",
                "privateEndpointStateForSiteRecovery": "None",
                "publicNetworkAccess": "Enabled",
                "redundancySettings": {
                    "standardTierStorageRedundancy": "GeoRedundant",
                    "crossRegionRestore": "Disabled",
                },
            },
        }

    def _vault_scope_of(self, vault: JSON) -> _Vault:
        match = re.fullmatch(_V, vault["id"], re.I)
        assert match is not None, vault["id"]
        prefix = (
            f"/Subscriptions/{match['sub']}/resourceGroups/{match['rg']}/providers/Microsoft.RecoveryServices/"
            f"vaults/{match['vault']}"
        )
        return _Vault(_key(vault["id"]), vault, prefix, match["sub"], match["rg"], match["vault"])

    def _vault_scope(self, m: re.Match[str]) -> _Vault:
        self._require_rg(m["sub"], m["rg"])
        key = _key(
            f"/subscriptions/{m['sub']}/resourcegroups/{m['rg']}/providers/microsoft.recoveryservices/vaults/{m['vault']}"
        )
        vault = self._store.get(key)
        if vault is None:
            raise self._resource_not_found("Microsoft.RecoveryServices/vaults", m["vault"], m["rg"])
        return self._vault_scope_of(vault)

    def _vaults(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        self._require_rg(m["sub"], m["rg"])
        return self._page(req, self._children(_key(req.path)))

    def _vault(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "PUT", "PATCH", "DELETE")
        rg = self._require_rg(m["sub"], m["rg"])
        key = _key(req.path)
        existing = self._store.get(key)
        if req.method == "PUT":
            body = req.body or {}
            if not body.get("location"):
                raise _bad_request("LocationRequired", "The location property is required for this definition.")
            if existing is not None and _location(body["location"]) != existing["location"]:
                raise ArmError(
                    409, "InvalidResourceLocation", f"The vault '{m['vault']}' already exists in another location."
                )
            obj = self._vault_object(
                m["sub"], rg["name"], m["vault"], body["location"], body.get("tags"), body.get("sku")
            )
            if existing is not None:
                obj["id"], obj["name"] = existing["id"], existing["name"]
            _props(obj)["provisioningState"] = "Creating" if existing is None else "Succeeded"
            self._put(obj)

            def finish() -> None:
                current = self._store.get(key)
                if current is not None:
                    _props(current)["provisioningState"] = "Succeeded"

            path = f"{obj['id']}/operationStatus/{uuid.uuid4()}"
            headers = self._async_operation_header(req, path, finish)
            return _Response(200 if existing is not None else 201, copy.deepcopy(obj), headers)
        if existing is None:
            if req.method == "DELETE":
                return _Response(204)
            raise self._resource_not_found("Microsoft.RecoveryServices/vaults", m["vault"], m["rg"])
        if req.method == "PATCH":
            body = req.body or {}
            if body.get("tags") is not None:
                existing["tags"] = dict(body["tags"])
            if body.get("sku"):
                existing["sku"] = self._vault_sku(body["sku"])
            existing["etag"] = f"W/\"datetime'{_now()}'\""
            return _Response(200, copy.deepcopy(existing))
        if req.method == "DELETE":
            path = f"{existing['id']}/operationResults/{uuid.uuid4()}"
            return self._location_operation(req, path, lambda: self._delete_tree(key))
        return _Response(200, copy.deepcopy(existing))

    # ---------------------------------------------------------------------------------------------------- ASR: reads

    def _asr_parent_chain(self, scope: _Vault, key: str) -> None:
        """404 unless every ASR ancestor of `key` (fabric, container, network) exists."""
        remainder = key[len(scope.key) + 1 :].split("/")
        for depth in range(2, len(remainder), 2):
            ancestor = scope.key + "/" + "/".join(remainder[:depth])
            if ancestor not in self._store:
                raise ArmError(404, "ResourceNotFound", f"The ASR object '{ancestor}' was not found in the vault.")

    def _asr_lookup(self, req: _Request, m: re.Match[str]) -> tuple[_Vault, str, JSON | None]:
        scope = self._vault_scope(m)
        key = _key(req.path)
        if req.method == "POST" and key.endswith("/remove"):  # an action on the object
            key = key.removesuffix("/remove")
        self._asr_parent_chain(scope, key)
        return scope, key, self._store.get(key)

    def _asr_missing(self, key: str) -> ArmError:
        return ArmError(404, "ResourceNotFound", f"The ASR object '{key}' was not found in the vault.")

    def _vault_list(self, kind: str) -> _RouteHandler:
        def handler(req: _Request, m: re.Match[str]) -> _Response:
            self._methods(req, "GET")
            scope = self._vault_scope(m)
            return self._page(req, self._deep(scope.key, _DEEP[kind]))

        return handler

    def _asr_children(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        scope = self._vault_scope(m)
        key = _key(req.path)
        self._asr_parent_chain(scope, key + "/x")
        return self._page(req, self._children(key))

    def _asr_get(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        _, key, obj = self._asr_lookup(req, m)
        if obj is None:
            raise self._asr_missing(key)
        return _Response(200, copy.deepcopy(obj))

    def _job(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET")
        _, key, obj = self._asr_lookup(req, m)
        if obj is None:
            raise self._asr_missing(key)
        operation = self._job_operations.get(key)
        if operation is not None:  # a client following the job rather than the operation status
            self._advance(operation)
        return _Response(200, copy.deepcopy(obj))

    # ----------------------------------------------------------------------------------------------------- ASR: jobs

    def _start_job(
        self,
        req: _Request,
        scope: _Vault,
        *,
        scenario: str,
        friendly_name: str,
        target: JSON | None,
        target_name: str,
        target_type: str,
        apply: Callable[[], None],
        rollback: Callable[[], None] | None = None,
    ) -> _Response:
        """Create the ASR job of a write and answer 202 pointing at its operation status."""
        job_name = str(uuid.uuid4())
        job_id = f"{scope.prefix}/replicationJobs/{job_name}"
        started = _now()
        job: JSON = {
            "id": job_id,
            "name": job_name,
            "type": f"{_ASR_TYPE}/replicationJobs",
            "properties": {
                "activityId": f"{uuid.uuid4()} ActivityId: {uuid.uuid4()}",
                "scenarioName": scenario,
                "friendlyName": friendly_name,
                "state": "NotStarted",
                "stateDescription": "NotStarted",
                "tasks": [
                    {
                        "taskId": str(uuid.uuid4()),
                        "name": f"{scenario}Task",
                        "startTime": started,
                        "endTime": None,
                        "allowedActions": [],
                        "friendlyName": friendly_name,
                        "state": "NotStarted",
                        "stateDescription": "NotStarted",
                        "taskType": "TaskDetails",
                        "errors": [],
                    }
                ],
                "errors": [],
                "startTime": started,
                "endTime": None,
                "allowedActions": ["Cancel"],
                "targetObjectId": (target or {}).get("name", target_name),
                "targetObjectName": target_name,
                "targetInstanceType": target_type,
                "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": {}},
            },
        }
        self._put(job)
        failure = next((f for f in self._job_failures if f.pattern.search(req.path)), None)
        if failure is not None:
            self._job_failures.remove(failure)
        op_path = f"{job_id}/operationresults/{uuid.uuid4()}"
        self._operation("asr", op_path, apply, rollback=rollback, job_key=_key(job_id), failure=failure)
        url = self._status_url(op_path, req)
        return _Response(202, None, {"Azure-AsyncOperation": url, "Location": url, "Retry-After": "0"})

    def _set_job_state(self, job: JSON, state: str, failure: _JobFailure | None = None) -> None:
        properties = _props(job)
        properties["state"] = state
        properties["stateDescription"] = {"Succeeded": "Completed", "InProgress": "InProgress"}.get(state, state)
        terminal = state in ("Succeeded", "Failed", "Cancelled")
        now = _now()
        if terminal:
            properties["endTime"] = now
            properties["allowedActions"] = ["Restart"] if state == "Failed" else []
        for task in properties["tasks"]:
            task["state"] = state
            task["stateDescription"] = properties["stateDescription"]
            if terminal:
                task["endTime"] = now
        if failure is not None:
            error = {
                "serviceErrorDetails": {
                    "code": failure.code,
                    "message": failure.message,
                    "possibleCauses": "Injected by the test (FakeAzure.fail_next_job).",
                    "recommendedAction": "Fix the cause and retry the operation.",
                    "activityId": properties["activityId"],
                },
                "errorLevel": "Error",
                "creationTime": now,
                "taskId": properties["tasks"][0]["taskId"],
            }
            properties["errors"] = [error]
            properties["tasks"][0]["errors"] = [error]

    # ----------------------------------------------------------------------------------------------- ASR: validation

    def _require_storage_account(self, scope: _Vault, arm_id: Any, what: str) -> JSON:
        if not isinstance(arm_id, str) or not self._is_storage_account(arm_id):
            raise _bad_request("StorageAccountNotFound", f"The {what} storage account '{arm_id}' does not exist.")
        account = self._store[_key(arm_id)]
        if _location(str(account.get("location", ""))) != scope.obj["location"]:
            raise _bad_request(
                "StorageAccountLocationMismatch",
                f"The storage account '{arm_id}' is in '{account.get('location')}' but the vault "
                f"'{scope.name}' is in '{scope.obj['location']}': they must be in the same region.",
            )
        return account

    def _require_virtual_network(self, arm_id: Any, code: str = "TargetNetworkNotFound") -> JSON:
        if not isinstance(arm_id, str) or not self._is_virtual_network(arm_id):
            raise _bad_request(code, f"The Azure virtual network '{arm_id}' does not exist.")
        return self._store[_key(arm_id)]

    def _require_policy(self, scope: _Vault, policy_id: Any) -> JSON:
        policy = self._object(policy_id) if isinstance(policy_id, str) else None
        if policy is None or not _key(policy_id).startswith(scope.key + "/replicationpolicies/"):
            raise _bad_request("PolicyNotFound", f"The replication policy '{policy_id}' does not exist in the vault.")
        return policy

    @staticmethod
    def _provider_id(fabric: JSON) -> str:
        return f"{fabric['id']}/replicationRecoveryServicesProviders/{_stable_id('provider', fabric['id'])}"

    def _recovery_services_provider(self, fabric: JSON, server: str, version: str, connection: str) -> JSON:
        """The ASR Provider on the VMM server, shaped on ReplicationRecoveryServicesProviders_List.json."""
        provider_id = self._provider_id(fabric)
        return {
            "id": provider_id,
            "name": _name_of(provider_id),
            "type": f"{_ASR_TYPE}/replicationFabrics/replicationRecoveryServicesProviders",
            "properties": {
                "fabricType": "VMM",
                "friendlyName": server,
                "providerVersion": version,
                "serverVersion": "3.2.7510.0",
                "providerVersionState": "Latest",
                "providerVersionExpiryDate": None,
                "fabricFriendlyName": server,
                "lastHeartBeat": _now(),
                "connectionStatus": connection,
                "protectedItemCount": 0,
                "allowedScenarios": ["Refresh"],
                "machineName": server,
                "providerVersionDetails": {"version": version, "expiryDate": None, "status": "Latest"},
            },
        }

    # ------------------------------------------------------------------------------------------------- ASR: policies

    def _policy_details(self, scope: _Vault, settings: JSON, current: JSON | None) -> JSON:
        if settings.get("instanceType") != HVR_AZURE:
            raise _bad_request(
                "InvalidProviderSpecificInput",
                f"The fake supports the {HVR_AZURE} replication provider only, not '{settings.get('instanceType')}'.",
            )
        details: JSON = dict(current or {"instanceType": HVR_AZURE, "encryption": "Disabled"})
        interval = settings.get("replicationInterval")
        if interval is not None and interval not in (30, 300, 900):
            raise _bad_request("InvalidReplicationInterval", "replicationInterval must be 30, 300 or 900 seconds.")
        mapping = {
            "recoveryPointHistoryDuration": "recoveryPointHistoryDurationInHours",
            "applicationConsistentSnapshotFrequencyInHours": "applicationConsistentSnapshotFrequencyInHours",
            "replicationInterval": "replicationInterval",
            "onlineReplicationStartTime": "onlineReplicationStartTime",
        }
        for source, target in mapping.items():
            if source in settings:
                details[target] = settings[source]
        if current is None or settings.get("storageAccounts"):
            accounts = settings.get("storageAccounts") or []
            if not accounts:
                raise _bad_request("StorageAccountNotFound", "A HyperVReplicaAzure policy needs a storage account.")
            for account in accounts:
                self._require_storage_account(scope, account, "policy's")
            details["activeStorageAccountId"] = str(accounts[0]).lower()
        for target in mapping.values():
            details.setdefault(target, None)
        return details

    def _policy(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "PUT", "PATCH", "DELETE")
        scope, key, existing = self._asr_lookup(req, m)
        name = existing["name"] if existing is not None else m["name"]
        if req.method == "GET":
            if existing is None:
                raise self._asr_missing(key)
            return _Response(200, copy.deepcopy(existing))
        if req.method == "PUT":
            settings = ((req.body or {}).get("properties") or {}).get("providerSpecificInput") or {}
            details = self._policy_details(scope, settings, None)
            policy: JSON = {
                "id": f"{scope.prefix}/replicationPolicies/{name}",
                "name": name,
                "type": f"{_ASR_TYPE}/replicationPolicies",
                "properties": {"friendlyName": name, "providerSpecificDetails": details},
            }
            return self._start_job(
                req,
                scope,
                scenario="AddProtectionPolicy",
                friendly_name="Create replication policy",
                target=policy,
                target_name=name,
                target_type="ProtectionProfile",
                apply=lambda: self._put(policy),
            )
        if existing is None:
            if req.method == "DELETE":
                return _Response(204)
            raise self._asr_missing(key)
        if req.method == "PATCH":
            settings = ((req.body or {}).get("properties") or {}).get("replicationProviderSettings") or {}
            details = self._policy_details(scope, settings, _props(existing).get("providerSpecificDetails"))

            def update() -> None:
                current = self._store.get(key)
                if current is not None:
                    _props(current)["providerSpecificDetails"] = details

            return self._start_job(
                req,
                scope,
                scenario="UpdateProtectionPolicy",
                friendly_name="Update replication policy",
                target=existing,
                target_name=name,
                target_type="ProtectionProfile",
                apply=update,
            )
        users = [
            mapping["id"]
            for mapping in self._deep(scope.key, _DEEP["container_mappings"])
            if _key(str(_props(mapping).get("policyId", ""))) == key
        ]
        if users:
            raise _bad_request(
                "PolicyInUse",
                f"The replication policy '{name}' is associated with protection containers ({', '.join(users)}); "
                "dissociate it first.",
            )
        return self._start_job(
            req,
            scope,
            scenario="RemoveProtectionPolicy",
            friendly_name="Remove replication policy",
            target=existing,
            target_name=name,
            target_type="ProtectionProfile",
            apply=lambda: self._delete_tree(key),
        )

    # --------------------------------------------------------------------------------------- ASR: container mappings

    def _container_and_fabric(self, key: str) -> tuple[JSON, JSON]:
        """The protection container and fabric of an object key below a container."""
        parts = key.split("/")
        index = parts.index("replicationprotectioncontainers")
        container = self._store["/".join(parts[: index + 2])]
        fabric = self._store["/".join(parts[:index])]
        return container, fabric

    def _refresh_container(self, container_key: str) -> None:
        container = self._store.get(container_key)
        if container is None:
            return
        mappings = self._children(container_key + "/replicationprotectioncontainermappings")
        items = self._children(container_key + "/replicationprotecteditems")
        _props(container)["pairingStatus"] = "Paired" if mappings else "NotPaired"
        _props(container)["protectedItemCount"] = sum(
            1 for item in items if _props(item).get("protectionState") == "Protected"
        )

    def _container_mapping(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "PUT", "DELETE")
        scope, key, existing = self._asr_lookup(req, m)
        container, fabric = self._container_and_fabric(key)
        container_key = _key(container["id"])
        name = existing["name"] if existing is not None else m["name"]
        if req.method == "GET":
            if existing is None:
                raise self._asr_missing(key)
            return _Response(200, copy.deepcopy(existing))
        if req.method == "DELETE":  # purge: no checks
            if existing is None:
                return _Response(204)

            def purge() -> None:
                self._delete_tree(key)
                self._refresh_container(container_key)

            return self._start_job(
                req,
                scope,
                scenario="PurgeProtectionContainerMapping",
                friendly_name="Purge the association of a replication policy",
                target=existing,
                target_name=name,
                target_type="ProtectionContainerMapping",
                apply=purge,
            )
        properties = (req.body or {}).get("properties") or {}
        target = properties.get("targetProtectionContainerId")
        if str(target).lower() != AZURE.lower():
            raise _bad_request(
                "InvalidTargetProtectionContainer",
                f"targetProtectionContainerId must be '{AZURE}' for Hyper-V (VMM) to Azure, not '{target}'.",
            )
        specific = properties.get("providerSpecificInput")
        if specific is not None and not (isinstance(specific, dict) and specific.get("instanceType")):
            raise _bad_request(
                "InvalidProviderSpecificInput",
                "providerSpecificInput needs its instanceType (ReplicationProviderSpecificContainerMappingInput).",
            )
        policy = self._require_policy(scope, properties.get("policyId"))
        for other in self._children(container_key + "/replicationprotectioncontainermappings"):
            if _key(other["id"]) != key and _key(_props(other)["policyId"]) == _key(policy["id"]):
                raise _bad_request(
                    "ProtectionContainerAlreadyMapped",
                    f"The cloud '{_props(container)['friendlyName']}' is already associated with the policy "
                    f"'{policy['name']}' (mapping '{other['name']}').",
                )
        mapping: JSON = {
            "id": f"{container['id']}/replicationProtectionContainerMappings/{name}",
            "name": name,
            "type": (
                f"{_ASR_TYPE}/replicationFabrics/replicationProtectionContainers/replicationProtectionContainerMappings"
            ),
            "properties": {
                "targetProtectionContainerId": AZURE,
                "targetProtectionContainerFriendlyName": AZURE,
                "providerSpecificDetails": {},
                "health": "Normal",
                "healthErrorDetails": [],
                "policyId": policy["id"],
                "state": "Paired",
                "sourceProtectionContainerFriendlyName": _props(container)["friendlyName"],
                "sourceFabricFriendlyName": _props(fabric)["friendlyName"],
                "targetFabricFriendlyName": AZURE,
                "policyFriendlyName": policy["name"],
            },
        }

        def create() -> None:
            self._put(mapping)
            self._refresh_container(container_key)

        return self._start_job(
            req,
            scope,
            scenario="PairCloud",
            friendly_name="Associate replication policy",
            target=mapping,
            target_name=_props(container)["friendlyName"],
            target_type="ProtectionContainer",
            apply=create,
        )

    def _container_mapping_remove(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "POST")
        scope, key, existing = self._asr_lookup(req, m)
        if existing is None:
            raise self._asr_missing(key)
        container, _ = self._container_and_fabric(key)
        container_key = _key(container["id"])
        policy_key = _key(_props(existing)["policyId"])
        users = [
            _props(item)["friendlyName"]
            for item in self._children(container_key + "/replicationprotecteditems")
            if _key(str(_props(item).get("policyId", ""))) == policy_key
        ]
        if users:
            raise _bad_request(
                "ProtectionContainerMappingInUse",
                f"Virtual machines in the cloud are protected with this policy ({', '.join(users)}); "
                "disable their protection first.",
            )

        def remove() -> None:
            self._delete_tree(key)
            self._refresh_container(container_key)

        return self._start_job(
            req,
            scope,
            scenario="UnpairCloud",
            friendly_name="Dissociate replication policy",
            target=existing,
            target_name=_props(container)["friendlyName"],
            target_type="ProtectionContainer",
            apply=remove,
        )

    # ----------------------------------------------------------------------------------------- ASR: network mappings

    def _network_mapping(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "PUT", "PATCH", "DELETE")
        scope, key, existing = self._asr_lookup(req, m)
        network_key = key.rsplit("/", 2)[0]
        network = self._store[network_key]
        fabric = self._store[network_key.rsplit("/", 2)[0]]
        name = existing["name"] if existing is not None else m["name"]
        if req.method == "GET":
            if existing is None:
                raise self._asr_missing(key)
            return _Response(200, copy.deepcopy(existing))
        if req.method == "DELETE":
            if existing is None:
                return _Response(204)
            return self._start_job(
                req,
                scope,
                scenario="NetworkUnmapping",
                friendly_name="Delete network mapping",
                target=existing,
                target_name=name,
                target_type="NetworkMapping",
                apply=lambda: self._delete_tree(key),
            )
        if req.method == "PATCH" and existing is None:
            raise self._asr_missing(key)
        properties = (req.body or {}).get("properties") or {}
        recovery_fabric = properties.get("recoveryFabricName")
        if recovery_fabric is not None and str(recovery_fabric).lower() != AZURE.lower():
            raise _bad_request(
                "InvalidRecoveryFabric", f"recoveryFabricName must be '{AZURE}', not '{recovery_fabric}'."
            )
        specific = properties.get("fabricSpecificDetails") or {}
        if req.method == "PUT" and specific.get("instanceType") != "VmmToAzure":
            raise _bad_request(
                "InvalidFabricSpecificDetails", "fabricSpecificDetails.instanceType must be 'VmmToAzure'."
            )
        recovery_network_id = properties.get("recoveryNetworkId")
        if req.method == "PUT" or recovery_network_id is not None:
            vnet = self._require_virtual_network(recovery_network_id, "RecoveryNetworkNotFound")
        else:
            recovery_network_id = _props(existing or {})["recoveryNetworkId"]
            vnet = self._store.get(_key(recovery_network_id)) or {"name": _name_of(recovery_network_id)}
        for other in self._children(network_key + "/replicationnetworkmappings"):
            if _key(other["id"]) != key:
                raise _bad_request(
                    "NetworkAlreadyMapped",
                    f"The VM network '{_props(network)['friendlyName']}' is already mapped "
                    f"(mapping '{other['name']}').",
                )
        mapping: JSON = {
            "id": f"{network['id']}/replicationNetworkMappings/{name}",
            "name": name,
            "type": f"{_ASR_TYPE}/replicationFabrics/replicationNetworks/replicationNetworkMappings",
            "properties": {
                "state": "Paired",
                "primaryNetworkFriendlyName": _props(network)["friendlyName"],
                "primaryNetworkId": network["id"],
                "primaryFabricFriendlyName": _props(fabric)["friendlyName"],
                "recoveryNetworkFriendlyName": vnet["name"],
                "recoveryNetworkId": recovery_network_id,
                "recoveryFabricArmId": f"{scope.prefix}/replicationFabrics/{_stable_id('azure', scope.key)}",
                "recoveryFabricFriendlyName": AZURE,
                "fabricSpecificSettings": {"instanceType": "VmmToAzure"},
            },
        }
        return self._start_job(
            req,
            scope,
            scenario="NetworkMapping" if req.method == "PUT" else "UpdateNetworkMapping",
            friendly_name="Create network mapping" if req.method == "PUT" else "Update network mapping",
            target=mapping,
            target_name=name,
            target_type="NetworkMapping",
            apply=lambda: self._put(mapping),
        )

    # ------------------------------------------------------------------------------------------ ASR: protected items

    @staticmethod
    def _subnet_name(value: Any) -> str | None:
        if not value:
            return None
        return _name_of(str(value))

    def _protected_item_object(self, scope: _Vault, key: str, name: str, properties: JSON) -> tuple[JSON, JSON]:
        """Validate an enable-protection input; the new protected item (EnablingProtection) and its protectable item."""
        container, fabric = self._container_and_fabric(key)
        container_key = _key(container["id"])
        policy = self._require_policy(scope, properties.get("policyId"))
        if not any(
            _key(_props(mapping)["policyId"]) == _key(policy["id"])
            for mapping in self._children(container_key + "/replicationprotectioncontainermappings")
        ):
            raise _bad_request(
                "ProtectionContainerNotMappedToPolicy",
                f"The cloud '{_props(container)['friendlyName']}' is not associated with the replication policy "
                f"'{policy['name']}'. Associate the policy with the cloud first.",
            )
        protectable_id = properties.get("protectableItemId")
        protectable = self._object(protectable_id) if isinstance(protectable_id, str) else None
        if protectable is None or not _key(str(protectable_id)).startswith(
            container_key + "/replicationprotectableitems/"
        ):
            raise _bad_request(
                "ProtectableItemNotFound", f"The protectable item '{protectable_id}' does not exist in this cloud."
            )
        vm = _props(protectable)["friendlyName"]
        already = [
            item["name"]
            for item in self._children(container_key + "/replicationprotecteditems")
            if _key(str(_props(item).get("protectableItemId", ""))) == _key(protectable["id"])
        ]
        if already or _props(protectable).get("protectionStatus") != "Unprotected" or key in self._store:
            raise _bad_request("ItemAlreadyProtected", f"The virtual machine '{vm}' is already protected.")
        psd = properties.get("providerSpecificDetails") or {}
        if psd.get("instanceType") != HVR_AZURE:
            raise _bad_request(
                "InvalidProviderSpecificInput", f"providerSpecificDetails.instanceType must be '{HVR_AZURE}'."
            )
        details = _props(protectable).get("customDetails") or {}
        disks = self._enable_disks(psd, details)
        replica = self._replica_target(scope, psd)
        network_id = psd.get("targetAzureNetworkId")
        if network_id is not None:
            self._require_virtual_network(network_id)
        resource_group_id = psd.get("targetAzureV2ResourceGroupId")
        if resource_group_id is not None and (
            not re.fullmatch(_RG, str(resource_group_id).rstrip("/"), re.I) or self._object(resource_group_id) is None
        ):
            raise _bad_request(
                "TargetResourceGroupNotFound", f"The target resource group '{resource_group_id}' does not exist."
            )
        vm_network = self._source_vm_network(scope, network_id)
        nic = self._nic(protectable, vm_network, network_id, self._subnet_name(psd.get("targetAzureSubnetId")))
        replication: JSON = {
            "instanceType": HVR_AZURE,
            "azureVmDiskDetails": disks,
            "recoveryAzureVmName": psd.get("targetAzureVmName") or psd.get("vmName") or vm,
            "recoveryAzureVMSize": psd.get("targetVmSize"),
            **replica,
            "lastReplicatedTime": _now(),
            "rpoInSeconds": 30,
            "vmId": details.get("sourceItemId"),
            "vmProtectionState": "Protected",
            "vmProtectionStateDescription": "Protected",
            "initialReplicationDetails": {
                "initialReplicationType": "InitialReplication",
                "initialReplicationProgressPercentage": "100",
            },
            "vmNics": [nic],
            "selectedRecoveryAzureNetworkId": network_id,
            "encryption": "Disabled",
            "oSDetails": {"osType": psd.get("osType") or (details.get("osDetails") or {}).get("osType")},
            "sourceVmRamSizeInMB": 4096,
            "sourceVmCpuCount": 2,
            "enableRdpOnTargetOption": psd.get("enableRdpOnTargetOption") or "Never",
            "recoveryAzureResourceGroupId": resource_group_id,
            "licenseType": psd.get("licenseType") or "NoLicenseType",
        }
        item: JSON = {
            "id": f"{container['id']}/replicationProtectedItems/{name}",
            "name": name,
            "type": f"{_ASR_TYPE}/replicationFabrics/replicationProtectionContainers/replicationProtectedItems",
            "properties": {
                "friendlyName": vm,
                "protectedItemType": "HyperVVirtualMachine",
                "protectableItemId": protectable["id"],
                "recoveryServicesProviderId": self._provider_id(fabric),
                "primaryFabricFriendlyName": _props(fabric)["friendlyName"],
                "primaryFabricProvider": "VMM",
                "recoveryFabricFriendlyName": AZURE,
                "recoveryFabricId": AZURE,
                "primaryProtectionContainerFriendlyName": _props(container)["friendlyName"],
                "recoveryProtectionContainerFriendlyName": AZURE,
                "protectionState": "EnablingProtection",
                "protectionStateDescription": "Enabling protection",
                "activeLocation": "Primary",
                "testFailoverState": "None",
                "testFailoverStateDescription": "None",
                "allowedOperations": [],
                "replicationHealth": "Normal",
                "failoverHealth": "Normal",
                "healthErrors": [],
                "policyId": policy["id"],
                "policyFriendlyName": policy["name"],
                "currentScenario": {"scenarioName": "EnableDr", "jobId": None, "startTime": _now()},
                "providerSpecificDetails": replication,
                "recoveryContainerId": (
                    f"{scope.prefix}/replicationFabrics/{_stable_id('azure', scope.key)}"
                    f"/replicationProtectionContainers/{_stable_id('azure-container', scope.key)}"
                ),
            },
        }
        return item, protectable

    def _enable_disks(self, psd: JSON, details: JSON) -> list[JSON]:
        """Check the enable input's VM and disks against the protectable item, as ASR does; the replicated disks."""
        if psd.get("hvHostVmId") != details.get("sourceItemId"):
            raise _bad_request(
                "InvalidHvHostVmId",
                f"hvHostVmId '{psd.get('hvHostVmId')}' is not the virtual machine's id on its host "
                f"('{details.get('sourceItemId')}').",
            )
        disks = {str(d.get("vhdId")): d for d in details.get("diskDetails") or []}
        if "vhdId" in psd and str(psd["vhdId"]) not in disks:
            raise _bad_request("InvalidVhdId", f"The OS disk '{psd['vhdId']}' is not a disk of the virtual machine.")
        chosen = psd.get("disksToInclude") or list(disks)
        unknown = [d for d in chosen if str(d) not in disks]
        if unknown:
            raise _bad_request("InvalidDisksToInclude", f"Disks {unknown} are not disks of the virtual machine.")
        return [
            {
                "vhdType": disks[str(d)].get("vhdType"),
                "vhdId": str(d),
                "vhdName": disks[str(d)].get("vhdName"),
                "maxSizeMB": str(disks[str(d)].get("maxSizeMB")),
            }
            for d in chosen
        ]

    def _replica_target(self, scope: _Vault, psd: JSON) -> JSON:
        """Where the replicas go: managed disks (with a cache storage account) or a storage account's page blobs."""
        if str(psd.get("useManagedDisksForReplication", "")).lower() == "true":
            if psd.get("targetStorageAccountId"):
                raise _bad_request(
                    "InvalidParameterCombination",
                    "targetStorageAccountId cannot be given when replicating to managed disks "
                    "(useManagedDisksForReplication); pass the cache storage account as logStorageAccountId.",
                )
            self._require_storage_account(scope, psd.get("logStorageAccountId"), "cache (log)")
            disk_type = psd.get("diskType") or "Standard_LRS"
            if disk_type not in ("Standard_LRS", "StandardSSD_LRS", "Premium_LRS"):
                raise _bad_request("InvalidDiskType", f"The disk type '{disk_type}' is not supported.")
            return {
                "recoveryAzureStorageAccount": None,
                "recoveryAzureLogStorageAccountId": psd["logStorageAccountId"],
                "useManagedDisks": "True",
                "protectedManagedDisks": [
                    {
                        "diskId": _stable_id("managed-disk", str(psd.get("hvHostVmId")), str(disk)),
                        "seedManagedDiskId": None,
                        "replicaDiskType": disk_type,
                        "targetDiskAccountType": disk_type,
                        "diskSizeInGB": 127,
                    }
                    for disk in psd.get("disksToInclude") or [psd.get("vhdId") or "os"]
                ],
            }
        self._require_storage_account(scope, psd.get("targetStorageAccountId"), "target")
        return {
            "recoveryAzureStorageAccount": psd.get("targetStorageAccountId"),
            "recoveryAzureLogStorageAccountId": psd.get("logStorageAccountId"),
            "useManagedDisks": str(psd.get("useManagedDisks") or "false"),
        }

    def _nic(self, protectable: JSON, vm_network: str | None, network_id: Any, subnet: str | None) -> JSON:
        """A protected VM's NIC, in the shape ``nic_shape`` says the service answers."""
        nic: JSON = {
            "nicId": _stable_id("nic", protectable["id"]),
            "vMNetworkName": vm_network,
            "recoveryVMNetworkId": network_id,
            "selectionType": "SelectedByUser",
            "enableAcceleratedNetworkingOnRecovery": False,
            "reuseExistingNic": False,
        }
        if self.nic_shape == "legacy":
            nic["recoveryVMSubnetName"] = subnet
            return nic
        nic["ipConfigs"] = [
            {
                "name": "ipconfig1",
                "isPrimary": True,
                "subnetName": None,
                "ipAddressType": "Dynamic",
                "isSeletedForFailover": True,
                "recoverySubnetName": subnet,
                "recoveryIPAddressType": "Dynamic",
            }
        ]
        return nic

    def _source_vm_network(self, scope: _Vault, target_network_id: Any) -> str | None:
        """The VM network of a protected VM's NIC: the one mapped to the target network, else the first one."""
        mappings = self._deep(scope.key, _DEEP["network_mappings"])
        for mapping in mappings:
            if target_network_id and _key(str(_props(mapping).get("recoveryNetworkId"))) == _key(
                str(target_network_id)
            ):
                return str(_props(mapping)["primaryNetworkFriendlyName"])
        networks = self._deep(scope.key, _DEEP["networks"])
        return str(_props(networks[0])["friendlyName"]) if networks else None

    @staticmethod
    def _idle_scenario(scope: _Vault) -> JSON:
        return {
            "scenarioName": "None",
            "jobId": f"{scope.prefix}/replicationJobs/None",
            "startTime": "1753-01-01T01:01:01Z",
        }

    def _protected_item(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "GET", "PUT", "PATCH", "DELETE")
        scope, key, existing = self._asr_lookup(req, m)
        name = existing["name"] if existing is not None else m["name"]
        if req.method == "GET":
            if existing is None:
                raise self._asr_missing(key)
            return _Response(200, copy.deepcopy(existing))
        if req.method == "PUT":
            properties = (req.body or {}).get("properties") or {}
            item, protectable = self._protected_item_object(scope, key, name, properties)
            container_key = _key(item["id"]).rsplit("/", 2)[0]
            self._put(item)

            def enable() -> None:
                current = self._store.get(key)
                if current is None:
                    return
                _props(current).update(
                    {
                        "protectionState": "Protected",
                        "protectionStateDescription": "Protected",
                        "allowedOperations": [
                            "PlannedFailover",
                            "UnplannedFailover",
                            "DisableProtection",
                            "TestFailover",
                        ],
                        "currentScenario": self._idle_scenario(scope),
                    }
                )
                target = self._store.get(_key(protectable["id"]))
                if target is not None:
                    _props(target)["protectionStatus"] = "Protected"
                    _props(target)["replicationProtectedItemId"] = current["id"]
                self._refresh_container(container_key)

            response = self._start_job(
                req,
                scope,
                scenario="EnableDr",
                friendly_name="Enable protection",
                target=item,
                target_name=_props(item)["friendlyName"],
                target_type="ProtectionEntity",
                apply=enable,
                rollback=lambda: self._delete_tree(key),
            )
            _props(item)["currentScenario"]["jobId"] = self._job_id_of(response)
            return response
        if existing is None:
            if req.method == "DELETE":
                return _Response(204)
            raise self._asr_missing(key)
        if req.method == "DELETE":  # purge: whatever the state
            return self._disable_protection(req, scope, key, existing, purge=True)
        if _props(existing).get("protectionState") != "Protected":
            raise _bad_request(
                "InvalidOperationForCurrentState",
                f"The protected item '{name}' is '{_props(existing).get('protectionState')}'; wait for its job.",
            )
        update = self._protected_item_update(existing, (req.body or {}).get("properties") or {})

        def apply_update() -> None:
            current = self._store.get(key)
            if current is not None:
                _props(current)["providerSpecificDetails"] = update

        return self._start_job(
            req,
            scope,
            scenario="UpdateVmProperties",
            friendly_name="Update the virtual machine",
            target=existing,
            target_name=_props(existing)["friendlyName"],
            target_type="ProtectionEntity",
            apply=apply_update,
        )

    def _protected_item_update(self, existing: JSON, properties: JSON) -> JSON:
        """The providerSpecificDetails after an UpdateReplicationProtectedItemInput."""
        details: JSON = copy.deepcopy(_props(existing)["providerSpecificDetails"])
        renames = {
            "recoveryAzureVMName": "recoveryAzureVmName",
            "recoveryAzureVMSize": "recoveryAzureVMSize",
            "licenseType": "licenseType",
            "enableRdpOnTargetOption": "enableRdpOnTargetOption",
        }
        for source, target in renames.items():
            if properties.get(source) is not None:
                details[target] = properties[source]
        network_id = properties.get("selectedRecoveryAzureNetworkId")
        if network_id is not None:
            self._require_virtual_network(network_id)
            details["selectedRecoveryAzureNetworkId"] = network_id
            for nic in details.get("vmNics") or []:
                nic["recoveryVMNetworkId"] = network_id
        nics = {str(nic.get("nicId", "")).lower(): nic for nic in details.get("vmNics") or []}
        for nic_input in properties.get("vmNics") or []:
            nic = nics.get(str(nic_input.get("nicId", "")).lower())
            if nic is None:
                raise _bad_request("NicNotFound", f"The protected item has no NIC '{nic_input.get('nicId')}'.")
            if nic_input.get("selectionType") is not None:
                nic["selectionType"] = nic_input["selectionType"]
            if "ipConfigs" not in nic:
                # The older shape: a NIC input replaces the NIC's recovery settings, its subnet included (a NIC
                # input without recoveryVMSubnetName leaves the VM without a failover subnet).
                nic["recoveryVMSubnetName"] = nic_input.get("recoveryVMSubnetName")
                continue
            ip_configs = nic["ipConfigs"]
            legacy_subnet = nic_input.get("recoveryVMSubnetName")  # the pre-ipConfigs field name
            if legacy_subnet is not None:
                ip_configs[0]["recoverySubnetName"] = legacy_subnet
            for config_input in nic_input.get("ipConfigs") or []:
                config = next(
                    (c for c in ip_configs if c.get("name") == config_input.get("ipConfigName")), ip_configs[0]
                )
                for field_name in ("recoverySubnetName", "recoveryStaticIPAddress", "isSeletedForFailover"):
                    if config_input.get(field_name) is not None:
                        config[field_name] = config_input[field_name]
        specific = properties.get("providerSpecificDetails") or {}
        if specific:
            if specific.get("instanceType") != HVR_AZURE:
                raise _bad_request(
                    "InvalidProviderSpecificInput", f"providerSpecificDetails.instanceType must be '{HVR_AZURE}'."
                )
            resource_group_id = specific.get("recoveryAzureV2ResourceGroupId")
            if resource_group_id is not None:
                if self._object(resource_group_id) is None:
                    raise _bad_request(
                        "TargetResourceGroupNotFound",
                        f"The target resource group '{resource_group_id}' does not exist.",
                    )
                details["recoveryAzureResourceGroupId"] = resource_group_id
            if specific.get("useManagedDisks") is not None:
                details["useManagedDisks"] = str(specific["useManagedDisks"])
            for field_name in ("targetAvailabilityZone", "targetProximityPlacementGroupId", "targetVmTags"):
                if specific.get(field_name) is not None:
                    details[field_name] = specific[field_name]
        return details

    def _protected_item_remove(self, req: _Request, m: re.Match[str]) -> _Response:
        self._methods(req, "POST")
        scope, key, existing = self._asr_lookup(req, m)
        if existing is None:
            raise self._asr_missing(key)
        if _props(existing).get("protectionState") != "Protected":
            raise _bad_request(
                "InvalidOperationForCurrentState",
                f"The protected item '{existing['name']}' is '{_props(existing).get('protectionState')}'.",
            )
        return self._disable_protection(req, scope, key, existing, purge=False)

    def _disable_protection(self, req: _Request, scope: _Vault, key: str, existing: JSON, *, purge: bool) -> _Response:
        before = copy.deepcopy(existing)
        container_key = key.rsplit("/", 2)[0]
        _props(existing).update(
            {"protectionState": "DisablingProtection", "protectionStateDescription": "Disabling protection"}
        )

        def disable() -> None:
            self._delete_tree(key)
            protectable = self._store.get(_key(str(_props(before).get("protectableItemId", ""))))
            if protectable is not None:
                _props(protectable)["protectionStatus"] = "Unprotected"
                _props(protectable).pop("replicationProtectedItemId", None)
            self._refresh_container(container_key)

        def restore() -> None:
            self._put(before)

        return self._start_job(
            req,
            scope,
            scenario="PurgeProtection" if purge else "DisableDr",
            friendly_name="Purge protection" if purge else "Disable protection",
            target=existing,
            target_name=_props(existing)["friendlyName"],
            target_type="ProtectionEntity",
            apply=disable,
            rollback=restore,
        )

    @staticmethod
    def _job_id_of(response: _Response) -> str:
        """The ASR job id from a 202's Azure-AsyncOperation URL."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(response.headers["Azure-AsyncOperation"]).path)
        return path.split("/operationresults/", 1)[0]
