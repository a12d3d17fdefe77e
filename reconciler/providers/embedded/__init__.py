"""The embedded estate: a backend for every kind, persisted in SQLite, that enforces the real systems'
rules. It lets a new user see the whole loop work, and tests and benchmarks run anywhere."""
