"""Webhooks and DSNs for gateway ingest through the real `umstore serve`: a
Python http.server receives the final status of each message (per gateway
and per request `callback_url`), a receiver that first answers 500 gets the
webhook again, a webhook still owed survives a restart, and a copy
forwarded to a mailbox's email address that the relay target refuses with
550 comes back as a failure DSN (ENVID = ingest id) that fails the job."""
import json
import socketserver
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SAMPLES, Umstore  # noqa: E402

BOB = "+15550100"
CAROL = "+15550101"
CAROL_EMAIL = "carol@remote.example"
PASSWORD = "secret one"
TOKEN = "gw-one-token-0123456789"
VOICE = SAMPLES / "voicemail.wav"


class Receiver:
    """Records every POST; paths in `failing` answer 500 (once for /flaky)."""

    def __init__(self):
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

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


def config(receiver, relay):
    return f"""
[umstore]
domain = {DOMAIN}

[gateways]
gw1 = {TOKEN}

[webhooks]
gw1 = {receiver.url("/gateway")}

[ingest]
webhook_retry_base = 1
webhook_retry_max = 2
webhook_attempts = 30

[smtp]
smarthost = 127.0.0.1:{relay.port}
retry_base = 1
"""


def curl(port, path, *args):
    cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", f"http://127.0.0.1:{port}{path}",
           "-H", f"Authorization: Bearer {TOKEN}", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(body) if body.startswith("{") else body


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
        message_id = post_voicemail(self.server, BOB)
        hook = wait_for(lambda: [b for b in self.receiver.received("/gateway") if b["id"] == message_id])[0]
        self.assertEqual(hook["status"], "delivered", hook)
        self.assertEqual(hook["mailbox"], BOB)
        self.assertGreater(hook["imap_uid"], 0)

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
