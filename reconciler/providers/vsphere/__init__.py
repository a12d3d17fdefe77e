"""The vSphere client layer: pyVmomi against vCenter, for the vSphere provider.

- ``settings``: where to connect and how to sign in, from the environment (``RECONCILER_VSPHERE=on``);
- ``session``: one signed-in session per vCenter, reused for a run and closed at its end;
- ``inventory``: bulk reads (hosts, VMs) in one PropertyCollector round trip per kind;
- ``hosts``: host power policy, maintenance mode and task waiting;
- ``perf``: CPU ready (``cpu.ready.summation``) per host and VM;
- ``faults``: pyVmomi faults mapped into the engine's error tree.

pyVmomi is imported only inside this package (an import-linter contract).
"""
