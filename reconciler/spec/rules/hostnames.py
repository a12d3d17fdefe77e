"""Hyper-V hosts are Windows servers: beyond the DNS rule every host name follows (a field type), their
computer name, the first label, is a NetBIOS name (``spec/naming.py``). vSphere hosts (ESXi) are not."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.core.diagnostics import Diagnostic
from reconciler.spec import naming
from reconciler.spec.loader import SpecSet
from reconciler.spec.models.site import Platform


def check(specs: SpecSet) -> Iterable[Diagnostic]:
    rule = naming.NETBIOS_HOST
    for doc in specs.sites.values():
        for i, host in enumerate(doc.model.spec.hosts):
            if host.platform is not Platform.HYPERV:
                continue
            problem = rule.problem(host.name)  # the DNS rule it narrows was checked with the schema
            if problem is not None:
                yield doc.diagnostic(
                    rule.code,
                    ("spec", "hosts", i, "name"),
                    f"Hyper-V host {host.name!r} breaks the {rule.system} naming rule: {problem}",
                    hint=rule.hint,
                )
