"""Assemble what import writes: the documents of the selected sites and tenants (``--site``, ``--tenant``) with
the selected kinds' items (``--kind``), the profiles they use, one file per site and tenant plus the profiles'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.engine.inverse import profiles, site, tenant
from reconciler.engine.inverse.doc import Generated
from reconciler.engine.inverse.live import Live
from reconciler.providers.discovery import Scope, ScopeKind
from reconciler.spec.models.seed import SeedSpec, SeedTenant


@dataclass(frozen=True)
class Selection:
    """What to import: sites (with their tenants), tenants, kinds or families; empty: everything in the seed."""

    sites: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def kind(self, kind: str) -> bool:
        """Whether items of ``kind`` (or of any kind of the family ``kind``) are imported."""
        if not self.kinds:
            return True
        family = kind.split(".", 1)[0]
        return any(s in (kind, family) or s.startswith(kind + ".") for s in self.kinds)

    def tenant(self, t: SeedTenant) -> bool:
        if not self.sites and not self.tenants:
            return True
        return t.name in self.tenants or t.site in self.sites

    def site(self, name: str) -> bool:
        return (not self.sites and not self.tenants) or name in self.sites


@dataclass
class Imported:
    documents: list[Generated] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def files(self) -> dict[str, list[Generated]]:
        out: dict[str, list[Generated]] = {}
        for doc in self.documents:
            out.setdefault(doc.file, []).append(doc)
        return out


def scopes(seed: SeedSpec, selection: Selection) -> list[Scope]:
    """The scopes discovery reads: each site with a selected tenant or itself selected, and those tenants."""
    tenants = [t for t in seed.tenants if selection.tenant(t)]
    sites = {s.name for s in seed.sites if selection.site(s.name)} | {t.site for t in tenants}
    return [Scope(ScopeKind.SITE, s, s) for s in sorted(sites)] + [
        Scope(ScopeKind.TENANT, t.name, t.site) for t in tenants
    ]


def build(seed: SeedSpec, live: Live, selection: Selection, *, provisional: bool = False) -> Imported:
    """The documents for ``selection`` from what ``live`` holds. ``provisional``: for the next discovery round
    (every seeded tenant, with placeholders where discovery found nothing yet); never written."""
    out = Imported()
    tenants = [t for t in seed.tenants if selection.tenant(t)]
    memories = [o.data for t in tenants for o in live.of(t.name, "hyperv.vm_memory")]
    memory_docs, memory_names = profiles.memory_profiles(memories) if selection.kind("hyperv.vm_memory") else ([], {})
    used: set[str] = set()
    facts: dict[str, tenant.SiteFacts] = {}
    for s in seed.sites:
        doc = site.site_document(s, live, selected=selection.kind)
        facts[s.name] = tenant.SiteFacts(vault_location=str(doc.spec["recoveryVault"]["location"]))
        if selection.site(s.name):
            out.documents.append(doc)
            if selection.kind("host.power_policy"):
                out.documents.extend(profiles.power_profiles(s.name, live))
    for t in tenants:
        if t.site not in facts:
            out.warnings.append(f"tenant {t.name}: its site {t.site!r} is not in the seed; left out")
            continue
        made, why = tenant.tenant_document(
            t, live, site=facts[t.site], memory=memory_names, selected=selection.kind, provisional=provisional
        )
        if made is None:
            out.warnings.append(why)
            continue
        used |= {vm["memoryProfile"] for vm in made.spec.get("vms", []) if "memoryProfile" in vm}
        out.documents.append(made)
    out.documents.extend(d for d in memory_docs if d.name in used)
    if live.unlisted:
        kinds = ", ".join(sorted(live.unlisted))
        out.warnings.append(f"no configured backend can list {kinds}: those items are not imported")
    return out


def names(documents: Sequence[Generated]) -> list[str]:
    return [f"{d.kind}/{d.name}" for d in documents]
