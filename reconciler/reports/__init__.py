"""Reports layer: renderers of plans (and later drift) for people (rich text) and tools (JSON)."""
