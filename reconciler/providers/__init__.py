"""Providers layer: one package per backend. Each reads live objects in bulk and applies changes,
mapping foreign errors into ``core.errors`` at its boundary."""
