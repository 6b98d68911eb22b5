"""Fixtures for the store's tests: every test runs on SQLite and on the machine's PostgreSQL.

PostgreSQL: ``postgresql://postgres@127.0.0.1:5432`` with trust auth (or
$THERMOGATE_TEST_POSTGRES, an admin URL). The session creates one database
with a random name and drops it at the end; each test gets a fresh schema in
it (through libpq's ``options=-csearch_path=...``). If the server cannot be
reached, the PostgreSQL tests fail when $CI is set and are skipped, with the
reason, otherwise.
"""

from __future__ import annotations

import os
import secrets

import pytest

from controller.store import open_store

PG_ADMIN_URL = os.environ.get("THERMOGATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_base() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0]


@pytest.fixture(scope="session")
def pg_database():
    """The URL of a fresh PostgreSQL database for this test session."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).strip()}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the PostgreSQL tests must run)")
        pytest.skip(message)
    name = f"thermogate_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{_admin_base()}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _new_schema(database_url: str) -> str:
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{database_url}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_empty_url(pg_database):
    """A store URL on an empty schema of its own (for the migration tests)."""
    return _new_schema(pg_database)


@pytest.fixture(scope="session")
def _pg_migrated(pg_database):
    url = _new_schema(pg_database)
    open_store(url).close()
    return url


@pytest.fixture
def pg_url(_pg_migrated):
    """A store URL on a migrated schema with every table emptied (faster than migrating per test)."""
    import psycopg

    schema = _pg_migrated.rsplit("%3D", 1)[1]
    with psycopg.connect(_pg_migrated.split("?")[0], autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name <> 'schema_version'",
            (schema,))]
        conn.execute("TRUNCATE " + ", ".join(f'"{schema}"."{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    return _pg_migrated


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A URL for an empty, migrated store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/thermogate.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request, tmp_path):
    """A URL for an empty database (no tables at all), once per backend."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/empty.db"
    return request.getfixturevalue("pg_empty_url")


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()
