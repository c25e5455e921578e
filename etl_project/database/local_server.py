"""A throwaway PostgreSQL cluster of an installed PostgreSQL (e.g. Debian's /usr/lib/postgresql/15/bin).

The tests (ETL_TEST_POSTGRES_BIN) and `make bench` (--postgres-bin) use it to run against another major than the
embedded one. The cluster is made like the embedded server's: initdb with trust authentication, UTF-8, the
environment's locale and data checksums (initdb's default since PostgreSQL 18, so an older major pays for them
too), a Unix socket in the cluster's own temporary folder and no TCP port at all. As root it runs as the
`postgres` OS user (PostgreSQL refuses to run as root). `stop()` stops it and removes the folder.

Not used by the product: `etl dev` and ETL_DATABASE_URL-less runs use the embedded server (embedded.py).
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from etl_project.store.rows import one_row

#: The OS user that runs the server when we are root (Debian's postgresql packages create it).
SERVER_OS_USER = "postgres"
#: For tests: no durability, since the cluster is thrown away anyway.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
_PORT = 5432  # only names the socket file, in a folder of its own: no clash with any other server


@dataclass
class LocalServer:
    """A running cluster: `url` connects to its `postgres` database as the `postgres` superuser."""

    bin_dir: Path
    folder: Path
    url: str
    major: int

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder; safe to call twice."""
        if not self.folder.exists():
            return
        if (self.data_dir / "postmaster.pid").exists():
            try:
                _run(
                    self.bin_dir,
                    ["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
                    self.folder,
                )
            except RuntimeError:
                _kill_postmaster(self.data_dir)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_local_server(bin_dir: Path | str, settings: Mapping[str, str] | None = None) -> LocalServer:
    """initdb a cluster with `bin_dir`'s programs in a new temporary folder, start it and wait until it
    accepts connections. `settings` go into its postgresql.conf (e.g. THROWAWAY_SETTINGS, shared_buffers)."""
    bin_dir = Path(bin_dir).resolve()
    if not (bin_dir / "initdb").is_file() or not (bin_dir / "pg_ctl").is_file():
        raise RuntimeError(f"{bin_dir} holds no PostgreSQL installation (no initdb and pg_ctl)")
    # Directly under the temporary folder: short enough for a Unix socket path, and open to the postgres user
    # (pytest's own temporary folders are private to root).
    folder = Path(tempfile.mkdtemp(prefix="etl-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(SERVER_OS_USER)
        except KeyError:
            shutil.rmtree(folder)
            raise RuntimeError(
                f"running as root, the server needs an OS user {SERVER_OS_USER!r} to run as; none exists"
            ) from None
        os.chown(folder, user.pw_uid, user.pw_gid)
    data_dir = folder / "data"
    server = LocalServer(
        bin_dir=bin_dir,
        folder=folder,
        url=f"postgresql://postgres:@/postgres?host={folder}&port={_PORT}",
        major=0,
    )
    atexit.register(server.stop)  # should the caller never get to stop it
    try:
        _run(
            bin_dir,
            [
                "initdb",
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--data-checksums",
                "--no-sync",
                "--no-instructions",
            ],
            folder,
        )
        server.major = int((data_dir / "PG_VERSION").read_text().split(".")[0])
        conf = {
            "listen_addresses": "",
            "unix_socket_directories": str(folder),
            "port": str(_PORT),
            **(settings or {}),
        }
        with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as file:
            file.write("\n# etl_project.database.local_server\n")
            file.writelines(f"{name} = '{value}'\n" for name, value in conf.items())
        log = folder / "server.log"
        try:
            _run(bin_dir, ["pg_ctl", "-D", str(data_dir), "-l", str(log), "-w", "-t", "60", "start"], folder)
        except RuntimeError as err:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{err}\nserver log:\n{text[-3000:]}") from None
        _check_version(server)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def local_server(bin_dir: Path | str, settings: Mapping[str, str] | None = None) -> Iterator[LocalServer]:
    server = start_local_server(bin_dir, settings)
    try:
        yield server
    finally:
        server.stop()


def _check_version(server: LocalServer) -> None:
    """The server answering on the socket is the one just started (not, say, a distribution's main cluster)."""
    conn = psycopg2.connect(server.url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT current_setting('server_version_num')::int / 10000, current_setting('data_directory')"
            )
            major, data_directory = one_row(cur)
    finally:
        conn.close()
    if (major, Path(data_directory).resolve()) != (server.major, server.data_dir.resolve()):
        raise RuntimeError(
            f"expected PostgreSQL {server.major} in {server.data_dir}, got {major} in {data_directory}"
        )


def _run(bin_dir: Path, args: list[str], cwd: Path) -> None:
    """Run one of the installation's programs, as the postgres OS user when we are root."""
    command = [str(bin_dir / args[0]), *args[1:]]
    if os.geteuid() == 0:
        command = ["runuser", "-u", SERVER_OS_USER, "--", *command]
    # Output to a file, not a pipe: a pipe inherited by the server would keep us waiting for its exit.
    with tempfile.TemporaryFile("w+") as output:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=output, cwd=cwd, timeout=120
        )
        if result.returncode != 0:
            output.seek(0)
            raise RuntimeError(
                f"{' '.join(command)} exited with {result.returncode}:\n{output.read()[-3000:]}"
            )


def _kill_postmaster(data_dir: Path) -> None:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown
    except (OSError, ValueError, IndexError):
        pass
