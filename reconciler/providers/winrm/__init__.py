"""The WinRM provider's foundation: System Center VMM servers and Hyper-V hosts reached over WS-Management
with pywinrm. ``settings`` says where and how to connect (from the environment, never the specs);
``transport.Runner`` runs a shipped PowerShell script (``scripts/``) against an endpoint with one data
argument and maps what goes wrong into ``core.errors``. The VMM and Hyper-V kinds sit on top of it.

Importing this package imports nothing from pywinrm: only ``transport`` and ``shells`` do, when a run needs
them (see docs/winrm.md)."""
