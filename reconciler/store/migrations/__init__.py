"""Alembic migrations of the history store, shipped in the package and run by ``store.db.open_store``.

``env.py`` needs no ``alembic.ini``: ``store.db.alembic_config`` builds the configuration in code and passes
the open connection in ``config.attributes["connection"]``. One file per revision in ``versions/``
(``rNNNN_what.py``, revision ``"NNNN"``); a new table or column goes into both its module's ``Table`` and
a new revision, and ``tests/test_history.py`` fails while they disagree."""
