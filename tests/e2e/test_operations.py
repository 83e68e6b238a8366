"""What an operator relies on, against the real server: SIGHUP reloads the
log format and the TLS certificate and keeps serving (and a bad config
changes nothing), systemd's notify socket hears READY/RELOADING/STOPPING,
/healthz and /readyz say what they check, /metrics has the store's lines, a
run file left by a killed server fools nobody, and the CLI's --version and
convert's file mode."""
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SAMPLES, UMSTORE, Umstore, wait_for  # noqa: E402


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def served_certificate(port):
    """The DER certificate the IMAP server presents after STARTTLS."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"a STARTTLS\r\n")
        while not f.readline().startswith(b"a "):
            pass
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def make_certificate(directory, name):
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    f"/CN={name}", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class OperationsTest(unittest.TestCase):
    def test_sighup_reloads_logging_and_certificate_and_keeps_serving(self):
        with Umstore() as server:
            first = make_certificate(server.work, "first")
            second = make_certificate(server.work, "second")
            config = server.work / "umstore.conf"
            config.write_text(f"[tls]\ncert = {first[0]}\nkey = {first[1]}\n")
            server.config = config
            # systemd's side of Type=notify: a datagram socket named in NOTIFY_SOCKET.
            notify_path = server.work / "notify.sock"
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.addCleanup(notify.close)
            notify.bind(str(notify_path))
            notify.settimeout(20)
            os.environ["NOTIFY_SOCKET"] = str(notify_path)
            try:
                server.start()
            finally:
                del os.environ["NOTIFY_SOCKET"]
            self.assertIn(b"READY=1", notify.recv(4096))
            before = served_certificate(server.imap_port)

            config.write_text(f"[log]\nformat = json\n[tls]\ncert = {second[0]}\nkey = {second[1]}\n")
            server.process.send_signal(signal.SIGHUP)
            self.assertIn(b"RELOADING=1", notify.recv(4096))
            self.assertIn(b"READY=1", notify.recv(4096))
            wait_for(lambda: '"SIGHUP: reloaded' in server.log_path.read_text(), "the reload's log line")
            self.assertIsNone(server.process.poll(), "SIGHUP ended the server")
            after = served_certificate(server.imap_port)
            self.assertNotEqual(before, after, "the new certificate is not served after SIGHUP")
            reload_line = [line for line in server.log_path.read_text().splitlines() if "SIGHUP: reloaded" in line][0]
            fields = json.loads(reload_line)
            self.assertEqual(fields["component"], "serve")
            self.assertEqual(fields["log_format"], "json")

            # A config that does not load changes nothing and says why.
            config.write_text("[log]\nformat = yaml\n")
            server.process.send_signal(signal.SIGHUP)
            self.assertIn(b"RELOADING=1", notify.recv(4096))
            self.assertIn(b"READY=1", notify.recv(4096))
            wait_for(lambda: "reload failed" in server.log_path.read_text(), "the failed reload's log line")
            self.assertIn("[log] format: 'yaml'", server.log_path.read_text())
            self.assertEqual(served_certificate(server.imap_port), after)
            self.assertEqual(http_get(server.http_port, "/readyz")[0], 200)

            server.stop()
            self.assertEqual(server.process.returncode, 0)
            self.assertIn(b"STOPPING=1", notify.recv(4096))
            self.assertFalse((server.data_dir / "run" / "server.json").exists())

    def test_health_readiness_and_metrics(self):
        with Umstore() as server:
            server.start()
            status, body = http_get(server.http_port, "/healthz")
            self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))
            status, body = http_get(server.http_port, "/readyz")
            self.assertEqual((status, json.loads(body)), (200, {"status": "ready"}))
            status, body = http_get(server.http_port, "/metrics")
            self.assertEqual(status, 200)
            self.assertIn("# TYPE umstore_store_disk_free_bytes gauge", body)
            free = [line for line in body.splitlines() if line.startswith("umstore_store_disk_free_bytes ")]
            self.assertGreater(int(free[0].split()[1]), 0)
            self.assertIn("umstore_smtp_queue_messages 0", body)
            self.assertIn("umstore_ingest_accepted_total 0", body)

            # The store's directory made read-only: /healthz must notice (root
            # ignores permissions, so a read-only bind would be needed: skip then).
            run_dir = server.data_dir / "run"
            if os.geteuid() != 0:
                run_dir.chmod(0o500)
                try:
                    status, body = http_get(server.http_port, "/healthz")
                    self.assertEqual(status, 503)
                    self.assertIn("store", json.loads(body)["failed"])
                finally:
                    run_dir.chmod(0o700)

    def test_run_file_of_a_killed_server_fools_nobody(self):
        with Umstore() as server:
            server.add_mailbox("+15550100", "Alice Example", "alice password")
            server.start()
            server.stop(signal.SIGKILL)
            run_file = server.data_dir / "run" / "server.json"
            self.assertTrue(run_file.exists(), "SIGKILL should leave the run file behind")
            # The lock died with the server: ingest delivers straight into the store.
            out = server.ingest("voice", "+15550100", "+15550123", SAMPLES / "voicemail.wav")
            self.assertIn("directly into the mailstore", out.stdout)
            # A new server replaces the file before it listens.
            server.start()
            self.assertEqual(json.loads(run_file.read_text())["pid"], server.process.pid)

    def test_version_and_convert_file_mode(self):
        out = subprocess.run([UMSTORE, "--version"], capture_output=True, text=True, check=True)
        self.assertRegex(out.stdout, r"^umstore \d+\.\d+\.\d+\n$")
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "out.wav"
            old = os.umask(0o022)
            try:
                subprocess.run([UMSTORE, "convert", str(SAMPLES / "voicemail.wav"), str(target)], check=True,
                               capture_output=True)
            finally:
                os.umask(old)
            self.assertEqual(target.stat().st_mode & 0o777, 0o644)


if __name__ == "__main__":
    unittest.main()
