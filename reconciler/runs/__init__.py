"""Runs: the application layer between the CLI and the engine (docs/architecture.md, "The runs layer").

A run is one plan, apply, drift or watch cycle: load and validate the specs, open the backends, read the
live state, plan, take the scope locks, apply, and record what happened (the history store, the audit
trail, the structured log), every recorded value redacted. The CLI parses arguments, calls a run and
renders what it returns; a run never prints, never exits and never imports typer or rich: it reports
progress through hooks the caller passes in and stops with a typed :class:`~reconciler.runs.errors.RunError`.
Every "now" a run needs comes from one :class:`~reconciler.runs.clock.Clock` passed in.

This package's ``__init__`` imports nothing: ``reconciler --help`` must not pay for the engine.
"""
