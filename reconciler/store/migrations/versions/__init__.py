"""One module per revision (Alembic loads them by path; the package only keeps them importable)."""
