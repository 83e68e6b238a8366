"""A private PostgreSQL cluster for tests and benchmarks, independent of any
system cluster (which need not run; /etc/postgresql is never read or changed).

Needs the Debian package `postgresql-15` (initdb and postgres in
/usr/lib/postgresql/15/bin). initdb refuses to run as root, so as root the
cluster runs as the `postgres` system user the package creates; as another
user it runs as that user.

    from postgres_peer import PostgresPeer        # sys.path += [".../tests/peers"]

    with PostgresPeer() as pg:
        pg.psql("SELECT 1")                        # -> "1"
        pg.dsn                                     # postgresql://umstore@127.0.0.1:PORT/umstore

Everything lives in one temporary directory (`pg.work`): the data directory
`data/`, the socket directory `run/`, the log `postgres.log`.

Constructor (keyword arguments):
  port=0          TCP port on 127.0.0.1 (0: a free one; `pg.port`)
  database="umstore", user="umstore"   created at start, `user` owns `database`
                  and may create more (CREATEDB: a database per test instance)
  settings={}     further postgresql.conf parameters, e.g. {"fsync": "off"}
  primary=None    another PostgresPeer: start as its streaming standby
                  (pg_basebackup), synchronous when `synchronous=True` was
                  given to the primary

Methods: start() / stop(mode="fast") / kill() (SIGKILL of the postmaster),
restart(), promote() (a standby becomes primary), psql(sql) -> str,
wait_ready(timeout=30).

As a command, it runs another command with a cluster started for it:

    postgres_peer.py run -- COMMAND [ARGS...]

sets UMSTORE_TEST_PG_DSN for COMMAND and returns its exit code, or exits 77
(CTest's skip code) when PostgreSQL is not installed.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
SKIP = 77


def available():
    return (BIN / "initdb").exists() and (BIN / "postgres").exists()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresPeer:
    def __init__(self, port=0, database="umstore", user="umstore", settings=None, primary=None,
                 synchronous=False):
        if not available():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({BIN}/initdb missing): apt-get install postgresql-15")
        self.port = port or free_port()
        self.database = database
        self.user = user
        self.settings = dict(settings or {})
        self.primary = primary
        self.synchronous = synchronous
        self.work = Path(tempfile.mkdtemp(prefix="umstore-pg-"))
        self.data = self.work / "data"
        self.run_dir = self.work / "run"
        self.log = self.work / "postgres.log"
        self.process = None
        # initdb will not run as root: the cluster belongs to `postgres` then.
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.work, entry.pw_uid, entry.pw_gid)
        os.chmod(self.work, 0o755)

    @property
    def dsn(self):
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def conninfo(self, **extra):
        words = {"host": "127.0.0.1", "port": str(self.port), "dbname": self.database, "user": self.user}
        words.update(extra)
        return " ".join(f"{k}={v}" for k, v in words.items())

    def _run(self, argv, **kwargs):
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--"] + list(argv)
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)

    def _configure(self):
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.run_dir}'",
            "max_connections": "200",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "logging_collector": "off",
        }
        conf.update({k: str(v) for k, v in self.settings.items()})
        with open(self.data / "postgresql.auto.conf", "a") as f:
            for key, value in conf.items():
                f.write(f"{key} = {value}\n")
        # Loopback only, trust: the cluster is private to the test.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication all 127.0.0.1/32 trust\n")

    def start(self):
        if not self.data.exists():
            self.run_dir.mkdir(exist_ok=True)
            if self._as_postgres:
                shutil.chown(self.run_dir, "postgres", "postgres")
            if self.primary is None:
                self._run([str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                           "--no-sync", "-E", "UTF8", "--locale", "C"])
            else:
                self._run([str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
                           "-U", "postgres", "-D", str(self.data), "-R", "--no-sync", "-X", "stream",
                           "--checkpoint=fast"])  # a spread checkpoint takes minutes
            self._configure()
        self._spawn()
        self.wait_ready()
        if self.primary is None and not getattr(self, "_created", False):
            self.psql(f"CREATE ROLE {self.user} LOGIN CREATEDB", user="postgres", dbname="postgres")
            self.psql(f"CREATE DATABASE {self.database} OWNER {self.user}", user="postgres", dbname="postgres")
            self._created = True
            if self.synchronous:
                # Only now: with it set, every commit (the CREATE ROLE above
                # too) waits for a standby that cannot exist yet.
                self.psql("ALTER SYSTEM SET synchronous_standby_names = '*'", user="postgres", dbname="postgres")
                self.psql("SELECT pg_reload_conf()", user="postgres", dbname="postgres")
        return self

    def _spawn(self):
        argv = [str(BIN / "postgres"), "-D", str(self.data)]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log.read_text()[-2000:]}")
            probe = subprocess.run([str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready on 127.0.0.1:{self.port} after {timeout} s")

    def psql(self, sql, user=None, dbname=None):
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", user or self.user, "-d", dbname or self.database, "-c", sql],
            check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def _pid(self):
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def stop(self, mode="fast"):
        if self.process and self.process.poll() is None:
            sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
            pid = self._pid()
            # The postmaster runs under runuser: signal it, not runuser.
            os.kill(pid, sig) if pid else self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self):
        pid = self._pid()
        if pid:
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process:
            self.process.kill()
            self.process.wait()

    def restart(self, mode="fast"):
        self.stop(mode)
        self._spawn()
        self.wait_ready()

    def promote(self):
        self._run([str(BIN / "pg_ctl"), "promote", "-w", "-D", str(self.data)])

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def main(argv):
    if len(argv) < 3 or argv[1] != "run" or argv[2] != "--" or len(argv) < 4:
        print("usage: postgres_peer.py run -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if not available():
        print(f"SKIP: PostgreSQL 15 is not installed ({BIN}/initdb missing)", file=sys.stderr)
        return SKIP
    with PostgresPeer() as pg:
        env = dict(os.environ, UMSTORE_TEST_PG_DSN=pg.dsn)
        return subprocess.run(argv[3:], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
