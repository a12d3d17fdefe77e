"""What a vault knows of the site's VMM server: its fabric, and the clouds (protection containers) and VM
networks the server synchronised to the vault, which ASR names with its own ids.

Mappings and protected items live under a container or network, so their single reads and writes start by
turning the spec's cloud or VM network name into ASR's; the answer is read once per vault for the run (steps
running at the same time wait for the one read in flight rather than each reading it) and asked again once per
missing name (VMM may have synchronised it since). A cloud or network that is not in the vault yet raises
``NotFoundError``: nothing under it can exist either, so a read answers "absent".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from reconciler.core.errors import NotFoundError, PermanentError
from reconciler.providers.azure import arm
from reconciler.providers.azure.context import VaultRef
from reconciler.providers.azure.session import Family, Session, plain


@dataclass(frozen=True)
class Topology:
    """A vault's fabric for the site's VMM server, and its clouds (protection containers) and VM networks."""

    fabric: str
    containers: dict[str, str]  # cloud (casefolded friendly name) -> container name
    networks: dict[str, str]  # VM network (casefolded friendly name) -> ASR network name


def _friendly(obj: dict[str, Any]) -> str:
    return str((obj.get("properties") or {}).get("friendlyName", ""))


class Topologies:
    """Each vault's topology, read once per run (and again when a name is missing)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lock = threading.Lock()
        self._vault_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, Topology] = {}
        self._refreshed: set[tuple[str, bool, str]] = set()  # (site, network?, casefolded name) asked again

    def of(self, vault: VaultRef, *, refresh: bool = False) -> Topology:
        """The vault's fabric for the site's VMM server with its clouds and VM networks (one read per vault, unless
        ``refresh``)."""
        with self._lock:
            lock = self._vault_locks.setdefault(vault.site, threading.Lock())
        with lock:
            cached = self._cache.get(vault.site)
            if cached is not None and not refresh:
                return cached
            topology = self._read(vault)
            self._cache[vault.site] = topology
            return topology

    def _read(self, vault: VaultRef) -> Topology:
        asr = self.session.vault_client(Family.ASR, vault)
        rg, name = vault.resource_group, vault.name
        fabric = self._fabric(vault, asr)
        with arm.boundary(f"list clouds of {vault.vmm_server} in vault {name}"):
            containers = {
                _friendly(c).casefold(): str(c["name"])
                for c in map(plain, asr.replication_protection_containers.list_by_replication_fabrics(rg, name, fabric))
            }
        with arm.boundary(f"list VM networks of {vault.vmm_server} in vault {name}"):
            networks = {
                _friendly(n).casefold(): str(n["name"])
                for n in map(plain, asr.replication_networks.list_by_replication_fabrics(rg, name, fabric))
            }
        return Topology(fabric, containers, networks)

    def _fabric(self, vault: VaultRef, asr: Any) -> str:
        """The name of the fabric the site's VMM server registered as."""
        with arm.boundary(f"list fabrics in vault {vault.name}"):
            fabrics = [plain(f) for f in asr.replication_fabrics.list(vault.resource_group, vault.name)]
        fabric = next(
            (
                f
                for f in fabrics
                if arm.same(str((f.get("properties") or {}).get("friendlyName")), vault.vmm_server)
                or arm.same(str(f.get("name")), vault.vmm_server)
            ),
            None,
        )
        if fabric is None:
            # Not "absent": nothing in the vault can be read or written until an operator registers the server.
            known = ", ".join(str((f.get("properties") or {}).get("friendlyName")) for f in fabrics) or "none"
            raise PermanentError(
                f"VMM server {vault.vmm_server} is not registered in vault {vault.name} (registered: {known}): "
                "install the Azure Site Recovery provider on it and register it with the vault first",
                code="FabricNotFound",
            )
        return str(fabric["name"])

    def container(self, vault: VaultRef, cloud: str) -> tuple[str, str]:
        """The fabric and the protection container of ``cloud``."""
        return self._synced(
            vault,
            cloud,
            networks=False,
            missing=f"cloud {cloud!r} is not a protection container in vault {vault.name}: the VMM server has not "
            "synchronised it yet (check the cloud's 'Send configuration data to Azure Site Recovery' setting)",
            code="ContainerNotFound",
        )

    def network(self, vault: VaultRef, vm_network: str) -> tuple[str, str]:
        """The fabric and the ASR network of ``vm_network``."""
        return self._synced(
            vault,
            vm_network,
            networks=True,
            missing=f"VM network {vm_network!r} is not known to vault {vault.name} yet: VMM sends it once the "
            "network exists in a cloud that ASR protects; run apply again in a few minutes",
            code="NetworkNotFound",
        )

    def _synced(self, vault: VaultRef, name: str, *, networks: bool, missing: str, code: str) -> tuple[str, str]:
        topology = self.of(vault)
        names = topology.networks if networks else topology.containers
        if name.casefold() not in names:
            key = (vault.site, networks, name.casefold())
            with self._lock:
                again = key not in self._refreshed
                self._refreshed.add(key)
            if again:  # once per name and run: VMM may have synchronised it since the first read
                topology = self.of(vault, refresh=True)
                names = topology.networks if networks else topology.containers
        if name.casefold() in names:
            return topology.fabric, names[name.casefold()]
        raise NotFoundError(missing, code=code)
