"""swaks against the running server, the admin command line, the config
file, and ingest without a running server."""
import imaplib
import os
import subprocess
import sys
import unittest
import urllib.request
import json
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SAMPLES, Umstore  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "secret one"
MAX_SIZE = 2_000_000

CONFIG = f"""
[umstore]
domain = {DOMAIN}
log_level = info

[smtp]
max_message_bytes = {MAX_SIZE}
"""


def swaks(port, to, *extra, body=None):
    cmd = ["swaks", "--server", "127.0.0.1", "--port", str(port), "--from", "gateway@example.org",
           "--to", to, "--helo", "gw.example.org", "--timeout", "30", *extra]
    # swaks takes "+15550100@..." for an option unless told to parse POSIX-style.
    env = dict(os.environ, POSIXLY_CORRECT="1")
    if body is not None:
        cmd += ["--body", "-"]  # a megabyte does not fit on a command line
    return subprocess.run(cmd, input=body, capture_output=True, text=True, timeout=120, env=env)


class SmtpAgainstServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore(config_text=CONFIG)
        cls.server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def inbox_count(self):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(NUMBER, PASSWORD)
        typ, data = conn.select("INBOX", readonly=True)
        conn.logout()
        return int(data[0])

    def test_local_delivery_is_accepted_and_stored(self):
        before = self.inbox_count()
        r = swaks(self.server.smtp_port, f"{NUMBER}@{DOMAIN}", "--body", "hello from swaks")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"<[-~] *250 2\.\d\.\d")
        self.assertEqual(self.inbox_count(), before + 1)

    def test_unknown_mailbox_is_550_5_1_1(self):
        r = swaks(self.server.smtp_port, f"+15559999@{DOMAIN}")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("550 5.1.1", r.stdout)

    def test_relaying_elsewhere_is_554_5_7_1(self):
        r = swaks(self.server.smtp_port, "someone@example.com")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("554 5.7.1", r.stdout)

    def test_one_megabyte_message_is_accepted(self):
        before = self.inbox_count()
        body = ("x" * 998 + "\r\n") * 1050  # just over 1 MB
        r = swaks(self.server.smtp_port, f"{NUMBER}@{DOMAIN}", body=body)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:])
        self.assertEqual(self.inbox_count(), before + 1)

    def test_message_over_size_is_refused_with_552(self):
        ehlo = swaks(self.server.smtp_port, f"{NUMBER}@{DOMAIN}", "--quit-after", "EHLO")
        self.assertIn(f"SIZE {MAX_SIZE}", ehlo.stdout)
        before = self.inbox_count()
        body = ("y" * 998 + "\r\n") * 2100  # about 2.1 MB
        r = swaks(self.server.smtp_port, f"{NUMBER}@{DOMAIN}", body=body)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("552 5.3.4", r.stdout)
        self.assertEqual(self.inbox_count(), before)

    def test_healthz(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.server.http_port}/healthz", timeout=10) as resp:
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read()), {"status": "ok"})
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(f"http://127.0.0.1:{self.server.http_port}/nothing", timeout=10)
        self.assertEqual(ctx.exception.code, 404)
        self.assertIn("error", json.loads(ctx.exception.read()))

    def test_second_server_on_the_same_data_dir_is_refused(self):
        r = subprocess.run([os.environ.get("UMSTORE_BIN", "umstore"), "serve", "--data-dir", str(self.server.data_dir),
                            "--smtp", "127.0.0.1:0", "--imap", "127.0.0.1:0", "--http", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another umstore serve is running", r.stderr)


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.umstore = Umstore()

    def tearDown(self):
        self.umstore.close()

    def test_mailbox_add_list_passwd_remove(self):
        out = self.umstore.run("mailbox", "add", "+15550100", "--name", "Alice Example").stdout
        self.assertRegex(out, r"password for \+15550100: \S{16}")
        self.umstore.add_mailbox("+4930123456", "Bernd Beispiel", "pw")
        listing = self.umstore.run("mailbox", "list").stdout
        self.assertIn("+15550100", listing)
        self.assertIn("Bernd Beispiel", listing)
        self.umstore.run("mailbox", "passwd", "+4930123456", "--password-stdin", stdin="new pw\n")
        self.umstore.run("mailbox", "remove", "+15550100")
        listing = self.umstore.run("mailbox", "list").stdout
        self.assertNotIn("+15550100", listing)
        self.assertIn("+4930123456", listing)
        # The stored hash is Argon2id, never the password.
        db = self.umstore.stored_accounts()
        self.assertIn(b"$argon2id$", db)
        self.assertNotIn(b"new pw", db)

    def test_bad_numbers_and_duplicates_are_refused_clearly(self):
        for bad in ["5550100", "+1", "+1234567890123456", "+1555abc", "../etc"]:
            r = self.umstore.run("mailbox", "add", bad, "--name", "X", check=False)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn("E.164", r.stderr, bad)
        self.umstore.add_mailbox("+15550100", "Alice", "pw")
        r = self.umstore.run("mailbox", "add", "+15550100", "--name", "Again", "--password-stdin",
                             stdin="pw\n", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("+15550100", r.stderr)

    def test_help_on_every_command(self):
        for command in ["serve", "mailbox", "ingest", "convert"]:
            r = self.umstore.run(command, "--help")
            self.assertIn("usage:", r.stdout, command)
        r = self.umstore.run("frobnicate", check=False)
        self.assertEqual(r.returncode, 2)

    def test_ingest_without_server_delivers_into_the_store(self):
        self.umstore.add_mailbox(NUMBER, "Alice", PASSWORD)
        out = self.umstore.ingest("voice", NUMBER, "+15550123", SAMPLES / "voicemail.wav").stdout
        self.assertIn("directly into the mailstore", out)
        self.umstore.start()
        conn = imaplib.IMAP4("127.0.0.1", self.umstore.imap_port)
        conn.login(NUMBER, PASSWORD)
        typ, data = conn.select("INBOX", readonly=True)
        self.assertEqual(int(data[0]), 1)
        conn.logout()

    def test_ingest_without_server_stores_through_the_ingest_queue(self):
        self.umstore.add_mailbox(NUMBER, "Alice", PASSWORD)
        out = self.umstore.ingest("voice", NUMBER, "+15550123", SAMPLES / "voicemail.wav").stdout
        job = out.split("ingest id ")[1].split(",")[0]
        stored = self.umstore.stored_messages()
        self.assertEqual(len(stored), 1, out)
        head = stored[0].split(b"\r\n\r\n")[0].decode()
        self.assertRegex(head, r"^Return-Path: <>\r\nReceived: from cli\s")
        self.assertEqual(head.count("Return-Path:"), 1)
        self.assertEqual(head.count("Received:"), 1)
        self.assertIn(f"\r\nX-Umstore-Ingest-Id: {job}\r\n", head)
        self.assertIn(f"id {job}", head)

    def test_failed_ingest_says_why_and_keeps_the_file(self):
        self.umstore.add_mailbox(NUMBER, "Alice", PASSWORD)
        broken = self.umstore.work / "broken.wav"
        broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
        before = broken.read_bytes()
        r = self.umstore.ingest("voice", NUMBER, "+15550123", broken, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("broken.wav", r.stderr)
        self.assertEqual(broken.read_bytes(), before)
        r = self.umstore.ingest("voice", "+15559999", "+15550123", SAMPLES / "voicemail.wav", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no mailbox +15559999", r.stderr)
        r = self.umstore.ingest("fax", NUMBER, "+15550123", SAMPLES / "voicemail.wav", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("voicemail.wav", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
