"""The supported PostgreSQL majors: an older server is refused at the first connection, by name."""

from types import SimpleNamespace

import psycopg2
import pytest

from etl_project.database.server_version import UnsupportedServerError, check_server_version
from etl_project.resources import EtlDatabase

pytestmark = pytest.mark.every_postgres_major


def test_an_older_server_gets_one_clear_error_naming_both_versions():
    with pytest.raises(
        UnsupportedServerError, match=r"PostgreSQL 14\.11 found; .* needs PostgreSQL 15 or newer"
    ):
        check_server_version(SimpleNamespace(server_version=140011))


def test_the_check_runs_before_migrations_on_the_first_connection(database_url, monkeypatch):
    real_connect = psycopg2.connect

    class OldServer:
        """A real connection that reports the version of PostgreSQL 14."""

        def __init__(self, conn):
            self._conn = conn
            self.server_version = 140011

        def __getattr__(self, name):
            return getattr(self._conn, name)

    monkeypatch.setattr(psycopg2, "connect", lambda *a, **k: OldServer(real_connect(*a, **k)))
    with pytest.raises(UnsupportedServerError, match="PostgreSQL 14.11 found"):
        with EtlDatabase(url=database_url).connect():
            pass


def test_the_server_under_test_is_supported(db):
    assert check_server_version(db) >= 150000
