"""The history store (SQLAlchemy Core): scope locks today; run history, step journal and drift reports next.

``db.open_store(url)`` opens it; ``locks`` holds one apply per scope at a time."""
