"""CLI layer: typer commands. The only layer that prints or exits; everything below returns values."""

from __future__ import annotations

from reconciler.cli.app import app, main

__all__ = ["app", "main"]
