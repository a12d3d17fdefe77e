"""The inverse of ``engine.expand``: live objects -> spec documents, for ``reconciler import``.

``expand`` turns each spec item into the resources the live systems hold; this package turns what discovery
found (``live``) back into the items that expand to exactly those resources: ``site`` (a Site: the vault, the
hosts, the NVGRE chain), ``tenant`` (a Tenant: cloud, VM networks, VMs, recovery), ``profiles`` (memory settings
VMs share, hosts' power settings). Each module knows its kinds' shapes, as expand does; none knows a backend.
``documents`` assembles the files. Pure: discovery is the only I/O, done by ``live.discover`` through the routing
table's discoverers (``providers.discovery``)."""
