"""The history store (SQLAlchemy Core, migrated by Alembic): scope locks, run history; drift reports next.

``db.open_store(url)`` opens it (migrated to head); ``locks`` holds one apply per scope at a time;
``history`` records runs, their steps and what was last applied per resource."""
