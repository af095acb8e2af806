"""Alembic environment of the modelloop store.

The store runs migrations programmatically (``Store.__init__`` calls ``upgrade head``) and
hands its own connection in ``config.attributes["connection"]``. For developers, the URL
may also come from ``-x url=...`` or ``sqlalchemy.url``::

    alembic -c src/modelloop/store/migrations/alembic.ini -x url=sqlite:///dev.db revision \
        --autogenerate -m "add a column"
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from modelloop.store._tables import metadata

config = context.config
target_metadata = metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("Give the database URL: alembic ... -x url=sqlite:///path/to.db")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
