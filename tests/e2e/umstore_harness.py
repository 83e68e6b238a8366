"""Starts the real umstore program in a temporary data directory on free
loopback ports, and drives its command line, for the end-to-end tests.

With UMSTORE_TEST_PG_DSN set (tests/peers/postgres_peer.py run -- ...), every
instance keeps its messages in a database of its own on that PostgreSQL
cluster ([store] backend = postgresql) instead of the Maildir, so the same
test runs on both backends."""
import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
from pathlib import Path

UMSTORE = os.environ.get("UMSTORE_BIN", "umstore")
SOURCE_DIR = Path(os.environ.get("UMSTORE_SOURCE_DIR", Path(__file__).resolve().parents[2]))
SAMPLES = SOURCE_DIR / "samples"
DOMAIN = "vm.example.net"
PG_DSN = os.environ.get("UMSTORE_TEST_PG_DSN")


def psql(dsn, sql):
    """Runs one statement with the psql client; returns its unaligned rows."""
    return subprocess.run(["psql", dsn, "-qAtc", sql], check=True, capture_output=True, text=True,
                          timeout=60).stdout


def private_database(dsn):
    """A new, empty database on the cluster `dsn` names; returns its DSN."""
    name = "e2e_" + secrets.token_hex(6)
    psql(dsn, f"CREATE DATABASE {name}")
    return dsn.rsplit("/", 1)[0] + "/" + name


class Umstore:
    def __init__(self, config_text=None, pg_cluster=PG_DSN, store_dsn=None, migrate=True):
        """store_dsn: share that database (another node of a cluster) instead
        of making one on pg_cluster. migrate=False leaves a new database
        empty (what `umstore restore` wants)."""
        self._tmp = tempfile.TemporaryDirectory(prefix="umstore-e2e-")
        self.data_dir = Path(self._tmp.name) / "data"
        self.work = Path(self._tmp.name)
        self.config = None
        self.store_dsn = store_dsn or (private_database(pg_cluster) if pg_cluster else None)
        if self.store_dsn:
            store = f"\n[store]\nbackend = postgresql\ndsn = {self.store_dsn}\n"
            # Migrated with the store's keys alone: a test may give a config serve must refuse.
            (self.work / "store.conf").write_text(store)
            if migrate:
                subprocess.run([UMSTORE, "--config", str(self.work / "store.conf"), "db", "migrate"], check=True,
                               capture_output=True, timeout=120)
            config_text = (config_text or "") + store
        # Transcription and fax text recognition cost seconds of CPU per
        # message and hold delivery up to [transcription] wait_seconds: off
        # unless a test asks for them (test_recognition*.py).
        config_text = config_text or ""
        if "[transcription]" not in config_text and "[fax_ocr]" not in config_text:
            config_text += "\n[transcription]\nenabled = false\n[fax_ocr]\nenabled = false\n"
        if config_text:
            self.config = self.work / "umstore.conf"
            self.config.write_text(config_text)
        self.process = None
        self.log_path = self.work / "serve.log"

    # -- command line -----------------------------------------------------
    def run(self, *args, stdin=None, check=True):
        cmd = [UMSTORE, "--data-dir", str(self.data_dir), *(["--config", str(self.config)] if self.config else []),
               *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr}")
        return result

    def add_mailbox(self, number, name, password):
        return self.run("mailbox", "add", number, "--name", name, "--password-stdin", stdin=password + "\n")

    def ingest(self, kind, to, caller, path, caller_name=None, check=True):
        args = ["ingest", kind, "--to", to, "--from", caller]
        if caller_name:
            args += ["--caller-name", caller_name]
        return self.run(*args, str(path), check=check)

    # -- what the store holds, whichever backend ---------------------------
    def stored_messages(self):
        """The octets of every stored message copy, read where the backend keeps them."""
        if self.store_dsn:
            rows = psql(self.store_dsn, "SELECT encode(b.data, 'hex') FROM messages m "
                                        "JOIN bodies b ON b.sha256 = m.body_sha256 ORDER BY m.folder_id, m.uid")
            return [bytes.fromhex(row) for row in rows.split()]
        return [p.read_bytes() for p in sorted((self.data_dir / "mail").rglob("*"))
                if p.is_file() and p.parent.name in ("new", "cur")]

    def stored_accounts(self):
        """Everything the backend keeps about accounts, as bytes (to look for secrets in)."""
        if self.store_dsn:
            return psql(self.store_dsn, "SELECT * FROM accounts").encode()
        return (self.data_dir / "accounts.db").read_bytes()

    # -- server -------------------------------------------------------------
    def start(self):
        args = [UMSTORE, "serve", "--data-dir", str(self.data_dir), "--domain", DOMAIN,
                "--smtp", "127.0.0.1:0", "--imap", "127.0.0.1:0", "--http", "127.0.0.1:0",
                "--admin", "127.0.0.1:0"]
        if self.config:
            args[2:2] = ["--config", str(self.config)]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        info_file = self.data_dir / "run" / "server.json"
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"umstore serve exited {self.process.returncode}: {self.log_path.read_text()}")
            if info_file.exists():
                try:
                    self.info = json.loads(info_file.read_text())
                    if self.info.get("pid") == self.process.pid:
                        break
                except json.JSONDecodeError:
                    pass
            time.sleep(0.05)
        else:
            raise AssertionError("umstore serve did not start within 30 s")
        self.smtp_port = int(self.info["smtp"].rsplit(":", 1)[1])
        self.imap_port = int(self.info["imap"].rsplit(":", 1)[1])
        self.http_port = int(self.info["http"].rsplit(":", 1)[1])
        self.admin_port = int(self.info["admin"].rsplit(":", 1)[1])
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.log.close()

    def close(self):
        self.stop()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_for(predicate, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gateway_api(port, path, *curl_args, token):
    """One gateway API request with curl: (HTTP status, the body as JSON, else as text)."""
    r = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", f"http://127.0.0.1:{port}{path}",
                        *(["-H", f"Authorization: Bearer {token}"] if token else []), *curl_args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    try:
        return int(code), json.loads(body) if body.startswith("{") else body
    except json.JSONDecodeError:
        return int(code), body


def job_outcome(port, job, token, seconds=120):
    """The job's status once it has left `queued` (delivered, failed, ...)."""
    deadline = time.time() + seconds
    while True:
        code, body = gateway_api(port, f"/v1/messages/{job}", token=token)
        assert code == 200, (code, body)
        if body["status"] != "queued":
            return body
        if time.time() > deadline:
            raise AssertionError(f"job {job} still queued after {seconds} s: {body}")
        time.sleep(0.1)


def read_wav_mono16(path):
    """Samples and rate of a 16-bit mono PCM WAV (Python's wave module)."""
    import array
    import wave
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, "expected 16-bit mono"
        samples = array.array("h", w.readframes(w.getnframes()))
        return samples, w.getframerate()


def snr_db(reference, test):
    """Signal-to-noise ratio of `test` against `reference`, over the common length."""
    import math
    n = min(len(reference), len(test))
    signal_power = sum(x * x for x in reference[:n])
    noise_power = sum((reference[i] - test[i]) ** 2 for i in range(n))
    return 10 * math.log10(signal_power / max(noise_power, 1))
