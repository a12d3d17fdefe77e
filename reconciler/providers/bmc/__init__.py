"""The BMC client layer: BIOS settings through each server's management controller, for the BMC provider.

- ``settings``: how to reach and sign in to each BMC, from the environment (``RECONCILER_BMC=on``);
- ``model``: the seam (``BmcBackend``, a small protocol) and the values crossing it;
- ``redfish_backend``: the Redfish implementation (DMTF's redfish library), Dell iDRAC and HPE iLO;
- ``bios``: vendor mapping, registry checks, staging what differs, waiting until a reset applied it.

The Redfish library is imported only inside this package (an import-linter contract).
"""
