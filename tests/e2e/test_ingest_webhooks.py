"""Webhooks and DSNs for gateway ingest through the real `umstore serve`: a
Python http.server receives the final status of each message (per gateway
and per request `callback_url`), a receiver that first answers 500 gets the
webhook again, a webhook still owed survives a restart, and a copy
forwarded to a mailbox's email address that the relay target refuses with
550 comes back as a failure DSN (ENVID = ingest id) that fails the job.
https:// receivers get the webhook only with a certificate from a trusted
CA (here a test CA made with the openssl command, [ingest] webhook_ca_file)
that names the URL's host; others are retried with the reason logged."""
import json
import socketserver
import ssl
import subprocess
import tempfile
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SAMPLES, Umstore, gateway_api  # noqa: E402

BOB = "+15550100"
CAROL = "+15550101"
CAROL_EMAIL = "carol@remote.example"
PASSWORD = "secret one"
TOKEN = "gw-one-token-0123456789"
VOICE = SAMPLES / "voicemail.wav"


class Receiver:
    """Records every POST; paths in `failing` answer 500 (once for /flaky).
    With `certificate` (certificate file, key file) it speaks HTTPS."""

    def __init__(self, certificate=None):
        self.lock = threading.Lock()
        self.calls = []          # (path, status answered, body)
        self.failing = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    flaky_first = self.path == "/flaky" and not any(c[0] == "/flaky" for c in receiver.calls)
                    status = 500 if flaky_first or self.path in receiver.failing else 200
                    receiver.calls.append((self.path, status, body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # TLS handshakes the client broke off

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.scheme = "http"
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            # The handshake happens in the connection's thread, never in the accept loop.
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                     do_handshake_on_connect=False)
            self.scheme = "https"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def received(self, path, status=200):
        with self.lock:
            return [body for p, s, body in self.calls if p == path and s == status]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RefusingRelay(socketserver.ThreadingTCPServer):
    """An SMTP next hop that refuses every recipient with 550 5.1.1."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 relay.remote.example ESMTP\r\n")
                for raw in self.rfile:
                    verb = raw.decode("ascii", "replace").strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-relay.remote.example\r\n250 PIPELINING\r\n")
                    elif verb == "RCPT":
                        self.wfile.write(b"550 5.1.1 <carol@remote.example>: user unknown\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"554 5.5.1 no valid recipients\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


def config(receiver, relay, ca_file=None):
    ca_line = f"webhook_ca_file = {ca_file}" if ca_file else ""
    return f"""
[umstore]
domain = {DOMAIN}

[gateways]
gw1 = {TOKEN}

[webhooks]
gw1 = {receiver.url("/gateway")}

[ingest]
{ca_line}
webhook_retry_base = 1
webhook_retry_max = 2
webhook_attempts = 30

[smtp]
smarthost = 127.0.0.1:{relay.port}
retry_base = 1
"""


def curl(port, path, *args):
    return gateway_api(port, path, *args, token=TOKEN)


def wait_for(predicate, timeout=45):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def post_voicemail(server, to, *extra):
    code, body = curl(server.http_port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={to}",
                      "-F", "from=+15550123", *extra)
    assert code == 202, body
    return body["id"]


def check_gateway_webhook(test, server, receiver):
    """A voicemail for BOB: the gateway's configured webhook reports it delivered."""
    message_id = post_voicemail(server, BOB)
    hook = wait_for(lambda: [b for b in receiver.received("/gateway") if b["id"] == message_id])[0]
    test.assertEqual(hook["status"], "delivered", hook)
    test.assertEqual(hook["mailbox"], BOB)
    test.assertGreater(hook["imap_uid"], 0)


class TestCertificates:
    """A CA and server certificates made with the openssl command."""

    def __init__(self, directory):
        self.dir = Path(directory)

    def openssl(self, *args):
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True, timeout=30)

    def new_key(self, name, *req_args):
        self.openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", f"{name}.key", *req_args)

    def authority(self, name):
        """Returns the path of a new self-signed CA certificate `name`.pem."""
        self.new_key(name, "-x509", "-days", "2", "-out", f"{name}.pem", "-subj", f"/CN=umstore test {name}",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return self.dir / f"{name}.pem"

    def server(self, name, authority, subject_alt_name, usage="serverAuth"):
        """Returns (certificate, key) of `name` signed by the CA `authority`
        (`usage` clientAuth: a client's certificate)."""
        self.new_key(name, "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (self.dir / f"{name}.ext").write_text(f"subjectAltName={subject_alt_name}\nextendedKeyUsage={usage}\n")
        self.openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{authority}.pem", "-CAkey", f"{authority}.key",
                     "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
        return str(self.dir / f"{name}.pem"), str(self.dir / f"{name}.key")


class WebhookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        cls.relay = RefusingRelay()
        cls.server = Umstore(config_text=config(cls.receiver, cls.relay))
        cls.server.add_mailbox(BOB, "Bob Example", PASSWORD)
        cls.server.run("mailbox", "add", CAROL, "--name", "Carol Example", "--email", CAROL_EMAIL,
                       "--password-stdin", stdin=PASSWORD + "\n")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.receiver.close()
        cls.relay.shutdown()
        cls.relay.server_close()

    def test_the_gateway_webhook_gets_the_final_status(self):
        check_gateway_webhook(self, self.server, self.receiver)

    def test_a_receiver_that_fails_first_gets_the_webhook_again(self):
        message_id = post_voicemail(self.server, BOB, "-F", f"callback_url={self.receiver.url('/flaky')}")
        hook = wait_for(lambda: self.receiver.received("/flaky"))[0]
        self.assertEqual(hook["id"], message_id)
        self.assertEqual(hook["status"], "delivered")
        self.assertEqual(len(self.receiver.received("/flaky", status=500)), 1)
        # The request's callback_url replaces the gateway's.
        self.assertFalse([b for b in self.receiver.received("/gateway") if b["id"] == message_id])
        _, metrics = curl(self.server.http_port, "/metrics")
        self.assertRegex(metrics, r"umstore_ingest_webhook_failures_total [1-9]")

    def test_a_refused_forward_comes_back_as_a_dsn_that_fails_the_message(self):
        message_id = post_voicemail(self.server, CAROL, "-F", f"callback_url={self.receiver.url('/dsn')}")
        failed = wait_for(lambda: [b for b in self.receiver.received("/dsn") if b["status"] == "failed"])[0]
        self.assertEqual(failed["id"], message_id)
        self.assertEqual(failed["forwarded_to"], CAROL_EMAIL)
        self.assertEqual(failed["dsn"]["action"], "failed")
        self.assertEqual(failed["dsn"]["status"], "5.1.1")
        self.assertIn("user unknown", failed["dsn"]["diagnostic_code"])
        self.assertIn("user unknown", failed["reason"])
        # The delivered status came first (stored in the mailbox, copy queued).
        self.assertEqual(self.receiver.received("/dsn")[0]["status"], "delivered")
        code, status = curl(self.server.http_port, f"/v1/messages/{message_id}")
        self.assertEqual(code, 200)
        self.assertEqual(status["status"], "failed")
        self.assertEqual(status["dsn"]["status"], "5.1.1")
        self.assertGreater(status["imap_uid"], 0)


class HttpsWebhookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certificates_dir = tempfile.TemporaryDirectory(prefix="umstore-e2e-certs-")
        certificates = TestCertificates(cls.certificates_dir.name)
        ca_file = certificates.authority("ca")
        certificates.authority("other-ca")
        cls.receiver = Receiver(certificates.server("receiver", "ca", "IP:127.0.0.1"))
        cls.untrusted = Receiver(certificates.server("untrusted", "other-ca", "IP:127.0.0.1"))
        cls.misnamed = Receiver(certificates.server("misnamed", "ca", "DNS:webhooks.example.org"))
        cls.relay = RefusingRelay()
        cls.server = Umstore(config_text=config(cls.receiver, cls.relay, ca_file))
        cls.server.add_mailbox(BOB, "Bob Example", PASSWORD)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        for receiver in (cls.receiver, cls.untrusted, cls.misnamed):
            receiver.close()
        cls.relay.shutdown()
        cls.relay.server_close()
        cls.certificates_dir.cleanup()

    def failed_attempts(self, message_id, url):
        prefix = f"webhook for id={message_id} to {url} failed"
        return [line for line in self.server.log_path.read_text().splitlines() if prefix in line]

    def test_the_gateway_webhook_goes_to_an_https_receiver_the_ca_file_trusts(self):
        check_gateway_webhook(self, self.server, self.receiver)

    def test_an_https_callback_url_gets_the_final_status(self):
        message_id = post_voicemail(self.server, BOB, "-F", f"callback_url={self.receiver.url('/request')}")
        hook = wait_for(lambda: self.receiver.received("/request"))[0]
        self.assertEqual(hook["id"], message_id)
        self.assertEqual(hook["status"], "delivered")

    def test_a_receiver_whose_certificate_another_ca_signed_gets_nothing(self):
        url = self.untrusted.url("/hook")
        message_id = post_voicemail(self.server, BOB, "-F", f"callback_url={url}")
        # Retried like any failed attempt, the reason in the log each time.
        failures = wait_for(lambda: len(self.failed_attempts(message_id, url)) >= 2 and self.failed_attempts(message_id, url))
        self.assertIn("TLS: certificate of 127.0.0.1 rejected: unable to get local issuer certificate", failures[0])
        self.assertIn("(attempt 2)", failures[1])
        self.assertEqual(self.untrusted.calls, [])

    def test_a_receiver_whose_certificate_names_another_host_gets_nothing(self):
        url = self.misnamed.url("/hook")
        message_id = post_voicemail(self.server, BOB, "-F", f"callback_url={url}")
        failure = wait_for(lambda: self.failed_attempts(message_id, url))[0]
        self.assertIn("TLS: certificate of 127.0.0.1 rejected: IP address mismatch", failure)
        self.assertEqual(self.misnamed.calls, [])

    def test_other_callback_schemes_are_refused(self):
        code, body = curl(self.server.http_port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}",
                          "-F", "callback_url=ftp://127.0.0.1/hook")
        self.assertEqual(code, 400)
        self.assertIn("http:// or https://", body["error"])


class WebhookConfigTest(unittest.TestCase):
    def refused_config(self, text):
        with Umstore(config_text=f"[umstore]\ndomain = {DOMAIN}\n{text}") as server:
            with self.assertRaises(AssertionError) as refused:
                server.start()
            return str(refused.exception)

    def test_a_gateway_url_of_another_scheme_stops_the_start(self):
        self.assertIn("[webhooks] gw1: the URL must start with http:// or https://",
                      self.refused_config("[webhooks]\ngw1 = ftp://127.0.0.1/hook\n"))

    def test_a_missing_ca_file_stops_the_start(self):
        self.assertIn("[ingest] webhook_ca_file: cannot read /nonexistent/ca.pem",
                      self.refused_config("[ingest]\nwebhook_ca_file = /nonexistent/ca.pem\n"))


class WebhookRestartTest(unittest.TestCase):
    def test_an_owed_webhook_survives_a_restart(self):
        receiver = Receiver()
        relay = RefusingRelay()
        receiver.failing.add("/down")
        try:
            with Umstore(config_text=config(receiver, relay)) as server:
                server.add_mailbox(BOB, "Bob Example", PASSWORD)
                server.start()
                message_id = post_voicemail(server, BOB, "-F", f"callback_url={receiver.url('/down')}")
                wait_for(lambda: receiver.received("/down", status=500))
                server.stop()
                receiver.failing.clear()
                server.start()
                hook = wait_for(lambda: receiver.received("/down"))[0]
                self.assertEqual(hook["id"], message_id)
                self.assertEqual(hook["status"], "delivered")
                self.assertEqual(len(receiver.received("/down")), 1)
        finally:
            receiver.close()
            relay.shutdown()
            relay.server_close()


if __name__ == "__main__":
    unittest.main()
