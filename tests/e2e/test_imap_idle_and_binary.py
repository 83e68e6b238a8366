"""IMAP: IDLE hears of deliveries made by another process (`umstore ingest`
writing into the Maildir), sessions not idling hear of them at their next
command, FETCH answers stay the same when they come from the server's cache,
and BINARY / BINARY.PEEK / BINARY.SIZE (RFC 3516) decode parts."""
import base64
import imaplib
import re
import socket
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from umstore_harness import SAMPLES, Umstore  # noqa: E402

USER = "+15550100"
PASSWORD = "idle-and-binary-secret"


class RawImap:
    """A line-level IMAP client for what imaplib cannot do (IDLE, literal8)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.line()  # greeting

    def line(self, timeout=10):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        text, self.buffer = self.buffer.split(b"\r\n", 1)
        return text.decode("latin-1")

    def send(self, text):
        self.sock.sendall(text.encode("latin-1") + b"\r\n")

    def command(self, tag, text):
        self.send(f"{tag} {text}")
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def close(self):
        self.sock.close()


def untagged_until(client, pattern, seconds):
    """Reads untagged lines until one matches `pattern`; None after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            line = client.line(timeout=max(0.1, deadline - time.time()))
        except socket.timeout:
            return None
        if re.search(pattern, line):
            return line
    return None


class ImapIdleAndBinaryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore()
        cls.server.add_mailbox(USER, "Idle Tester", PASSWORD)
        cls.server.ingest("voice", USER, "+15550123", SAMPLES / "voicemail.wav", caller_name="First Caller")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def login(self):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(USER, PASSWORD)
        return conn

    def raw_login(self):
        raw = RawImap(self.server.imap_port)
        self.assertTrue(raw.command("a", f'LOGIN "{USER}" "{PASSWORD}"')[-1].startswith("a OK"))
        return raw

    def test_idle_hears_a_delivery_by_another_process_and_noop_reports_it_too(self):
        idler = self.raw_login()
        busy = self.raw_login()
        try:
            selected = idler.command("s", "SELECT INBOX")
            exists = int(next(l for l in selected if l.endswith(" EXISTS")).split()[1])
            busy.command("s", "SELECT INBOX")
            idler.send("i IDLE")
            self.assertTrue(idler.line().startswith("+"))
            # Another process writes straight into the Maildir.
            self.server.ingest("voice", USER, "+15550199", SAMPLES / "voicemail.wav", caller_name="Second Caller")
            seen = untagged_until(idler, r"^\* %d EXISTS$" % (exists + 1), 10)
            self.assertIsNotNone(seen, "no EXISTS during IDLE")
            idler.send("DONE")
            self.assertIsNotNone(untagged_until(idler, r"^i OK", 10))
            # The session that was not idling hears of it at its next command.
            noop = busy.command("n", "NOOP")
            self.assertIn("* %d EXISTS" % (exists + 1), noop)
            self.assertTrue(noop[-1].startswith("n OK"))
        finally:
            idler.close()
            busy.close()

    def test_idle_hears_flag_changes_and_expunges_of_another_session(self):
        idler = self.raw_login()
        other = self.login()
        try:
            other.select("INBOX")
            other.append("INBOX", None, None, b"Subject: to be removed\r\n\r\nbye\r\n")
            idler.command("s", "SELECT INBOX")
            count = int(other.select("INBOX")[1][0])
            idler.send("i IDLE")
            self.assertTrue(idler.line().startswith("+"))
            other.store(str(count), "+FLAGS", "(\\Deleted)")
            self.assertIsNotNone(untagged_until(idler, r"^\* %d FETCH \(.*\\Deleted" % count, 10))
            other.expunge()
            self.assertIsNotNone(untagged_until(idler, r"^\* %d EXPUNGE$" % count, 10))
            idler.send("DONE")
            self.assertIsNotNone(untagged_until(idler, r"^i OK", 10))
        finally:
            idler.close()
            other.logout()

    def test_repeated_fetches_of_headers_and_structure_agree(self):
        conn = self.login()
        try:
            conn.select("INBOX", readonly=True)
            query = "(UID ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] RFC822.SIZE)"
            first = conn.fetch("1:*", query)
            second = conn.fetch("1:*", query)
            self.assertEqual(first, second)
            text = b"".join(p if isinstance(p, bytes) else b"".join(p) for p in first[1])
            self.assertIn(b"First Caller", text)
            self.assertIn(b"BODYSTRUCTURE ((", text)
            # The header section from the cache is the message's own header lines.
            whole = conn.fetch("1", "(BODY.PEEK[HEADER])")[1][0][1]
            fields = conn.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1]
            subject = next(l for l in whole.split(b"\r\n") if l.lower().startswith(b"subject:"))
            self.assertTrue(fields.startswith(subject))
        finally:
            conn.logout()

    def wav_part(self, conn, number):
        """Section number of the top-level part holding the playable WAV."""
        for section in ("1", "2", "3", "4"):
            typ, data = conn.fetch(number, f"(BODY.PEEK[{section}.MIME])")
            mime = data[0][1] if typ == "OK" and isinstance(data[0], tuple) else b""
            if b"audio/wav" in mime.lower() and b"base64" in mime.lower():
                return section
        self.fail("no base64 audio/wav part")

    def test_binary_decodes_base64_parts_and_binary_size_agrees(self):
        conn = self.login()
        try:
            typ, caps = conn.capability()
            self.assertIn(b"BINARY", caps[0].split())
            conn.select("INBOX")
            conn.store("1", "-FLAGS", "(\\Seen)")
            part = self.wav_part(conn, "1")
            encoded = conn.fetch("1", f"(BODY.PEEK[{part}])")[1][0][1]
            expected = base64.b64decode(encoded)
            self.assertTrue(expected.startswith(b"RIFF"))
            typ, data = conn.fetch("1", f"(BINARY.PEEK[{part}] BINARY.SIZE[{part}])")
            self.assertEqual(typ, "OK")
            self.assertEqual(data[0][1], expected)
            self.assertIn(b"~{%d}" % len(expected), data[0][0])  # WAV data holds NUL octets: literal8
            self.assertIn(b"BINARY.SIZE[%s] %d" % (part.encode(), len(expected)), data[0][0] + data[1])
            partial = conn.fetch("1", f"(BINARY.PEEK[{part}]<4.8>)")[1][0][1]
            self.assertEqual(partial, expected[4:12])
            self.assertNotIn(b"\\Seen", conn.fetch("1", "(FLAGS)")[1][0])  # PEEK
            conn.fetch("1", f"(BINARY[{part}])")
            self.assertIn(b"\\Seen", conn.fetch("1", "(FLAGS)")[1][0])
        finally:
            conn.logout()

    def test_quoted_printable_unknown_encoding_and_literal8_append(self):
        raw = self.raw_login()
        try:
            raw.command("s", "SELECT INBOX")
            qp = (b"Subject: qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 soft=\r\nbreak\r\n")
            odd = (b"Subject: odd\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\nend\r\n")
            binary = b"Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\r\n"
            for message, literal in ((qp, "{%d}"), (odd, "{%d}"), (binary, "~{%d}")):
                raw.send(("x APPEND INBOX " + literal % len(message)))
                self.assertTrue(raw.line().startswith("+"))
                raw.sock.sendall(message + b"\r\n")
                reply = untagged_until(raw, r"^x ", 10)
                self.assertTrue(reply.startswith("x OK"), reply)
        finally:
            raw.close()
        conn = self.login()
        try:
            count = int(conn.select("INBOX", readonly=True)[1][0])
            qp_n, odd_n, bin_n = str(count - 2), str(count - 1), str(count)
            typ, data = conn.fetch(qp_n, "(BINARY.PEEK[1] BINARY.SIZE[1])")
            self.assertEqual(data[0][1], "café soft" "break\r\n".encode())
            typ, data = conn.fetch(odd_n, "(BINARY.PEEK[1])")
            self.assertEqual(typ, "NO")
            self.assertIn(b"[UNKNOWN-CTE]", data[0])
            self.assertEqual(conn.fetch(bin_n, "(BINARY.PEEK[1])")[1][0][1], b"a\x00b\r\n")
            typ, data = conn.fetch(bin_n, "(BINARY.PEEK[9])")  # no such part
            self.assertEqual(typ, "OK")
            self.assertIn(b"BINARY[9] NIL", data[0])
            with self.assertRaises(imaplib.IMAP4.error):
                conn.fetch(bin_n, "(BINARY.PEEK[1.HEADER])")  # BINARY takes part numbers only
        finally:
            conn.logout()


if __name__ == "__main__":
    unittest.main()
