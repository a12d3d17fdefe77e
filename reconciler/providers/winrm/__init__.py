"""The WinRM provider: System Center VMM servers and Hyper-V hosts reached over WS-Management with pywinrm.

``backend.routes`` opens it when ``RECONCILER_WINRM=on``: ``provider.WinRMProvider`` dispatches each VMM and
Hyper-V kind to its family's handler (``networks``, ``ports``, ``switches``, ``vm_networks``, ``clouds``,
``vms``, ``hosts``), which runs its family's shipped PowerShell script (``scripts/``) through
``transport.Runner`` with the values as one data argument, and normalizes the answer (``normalize``). The
transport maps what goes wrong into ``core.errors``; ``session`` makes a missing object ``NotFoundError``.

Importing this package, ``settings`` or ``backend`` imports nothing from pywinrm: the provider's modules do, once
the provider is on (see docs/winrm.md)."""
