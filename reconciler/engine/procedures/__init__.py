"""Multi-step procedures the engine runs over provider primitives (``providers.hosts``), journaled in the
store: a host rollout's maintenance, settings, restart, confirmation and return. The kind says which
procedure a change needs (``KindInfo.procedure``)."""
