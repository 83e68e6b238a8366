"""IMAP as a phone client uses it (RFC 7162 QRESYNC, RFC 4978 COMPRESS),
with Python's imaplib issuing the same commands: the phone remembers
UIDVALIDITY and HIGHESTMODSEQ, goes offline while another session changes
flags, expunges and delivers, then resynchronizes in one SELECT (VANISHED
(EARLIER) and FETCH of what changed only), turns on DEFLATE and fetches the
new message through it."""
import imaplib
import re
import sys
import unittest
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from umstore_harness import Umstore  # noqa: E402

USER = "+15550100"
PASSWORD = "qresync-phone-secret"
# Text compresses well, so a DEFLATE stream that really compresses is seen on the wire.
TRANSCRIPT = b"".join(b"Line %d of the transcript: please call me back about the order.\r\n" % i
                      for i in range(400))
NEW_MESSAGE = b"Subject: while you were away\r\nFrom: <desk@vm.example.net>\r\n\r\n" + TRANSCRIPT

imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))  # imaplib does not know RFC 4978


class PhoneImap(imaplib.IMAP4):
    """imaplib with COMPRESS=DEFLATE: raw DEFLATE (zlib, no header) both ways
    once the server has said OK, as RFC 4978 §3 says."""

    def __init__(self, port):
        self.deflate = self.inflate = None
        self.plain = b""
        self.wire_received = 0  # compressed octets read from the socket
        self.plain_received = 0
        super().__init__("127.0.0.1", port)

    def start_compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        if typ != "OK":
            raise AssertionError(f"COMPRESS DEFLATE refused: {data}")
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflate = zlib.decompressobj(-15)

    def send(self, data):
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        super().send(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise self.abort("server closed the compressed connection")
        self.wire_received += len(chunk)
        plain = self.inflate.decompress(chunk)
        self.plain_received += len(plain)
        self.plain += plain

    def read(self, size):
        if not self.inflate:
            return super().read(size)
        while len(self.plain) < size:
            self._fill()
        out, self.plain = self.plain[:size], self.plain[size:]
        return out

    def readline(self):
        if not self.inflate:
            return super().readline()
        while b"\n" not in self.plain:
            self._fill()
        end = self.plain.index(b"\n") + 1
        out, self.plain = self.plain[:end], self.plain[end:]
        return out


def response_code(conn, name):
    """The number an untagged `* OK [NAME n]` carried."""
    return int(conn.response(name)[1][-1])


def fetch_lines(conn):
    """The untagged FETCH responses imaplib collected, as {UID: text}."""
    lines = {}
    for item in conn.response("FETCH")[1] or []:
        text = (item[0] if isinstance(item, tuple) else item).decode()
        lines[int(re.search(r"UID (\d+)", text).group(1))] = text
    return lines


class ImapQresyncPhoneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore()
        cls.server.add_mailbox(USER, "Phone User", PASSWORD)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def phone(self):
        conn = PhoneImap(self.server.imap_port)
        conn.login(USER, PASSWORD)
        self.assertEqual(conn.enable("QRESYNC")[0], "OK")
        self.assertIn(b"QRESYNC", conn.response("ENABLED")[1][-1] or b"")
        return conn

    def test_resync_after_offline_changes_then_compressed_fetch(self):
        desk = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        desk.login(USER, PASSWORD)
        for n in range(1, 6):
            self.assertEqual(desk.append("INBOX", None, None, b"Subject: message %d\r\n\r\nbody\r\n" % n)[0], "OK")

        # The phone syncs the mailbox and keeps its state.
        phone = self.phone()
        self.assertIn("QRESYNC", phone.capabilities)
        self.assertIn("COMPRESS=DEFLATE", phone.capabilities)
        typ, data = phone.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"5"]))
        uid_validity = response_code(phone, "UIDVALIDITY")
        modseq = response_code(phone, "HIGHESTMODSEQ")
        uids = [int(u) for u in phone.uid("SEARCH", None, "ALL")[1][0].split()]
        self.assertEqual(len(uids), 5)
        phone.logout()

        # While it is offline the desktop reads one, deletes another and a message arrives.
        desk.select("INBOX")
        self.assertEqual(desk.uid("STORE", str(uids[1]), "+FLAGS", r"(\Seen)")[0], "OK")
        self.assertEqual(desk.uid("STORE", str(uids[2]), "+FLAGS", r"(\Deleted)")[0], "OK")
        self.assertEqual(desk.expunge()[0], "OK")
        self.assertEqual(desk.append("INBOX", None, None, NEW_MESSAGE)[0], "OK")
        new_uid = int(desk.uid("SEARCH", None, "SUBJECT", '"while you were away"')[1][0])
        desk.logout()

        # One SELECT tells the phone all of it (RFC 7162 §3.2.5).
        phone = self.phone()
        typ, data = phone._simple_command("SELECT", "INBOX", f"(QRESYNC ({uid_validity} {modseq}))")
        self.assertEqual(typ, "OK", data)
        phone.state = "SELECTED"  # imaplib's select() cannot send the parameter
        self.assertEqual(phone.response("EXISTS")[1][-1], b"5")
        self.assertEqual(phone.response("VANISHED")[1], [b"(EARLIER) %d" % uids[2]])
        fetched = fetch_lines(phone)
        self.assertEqual(sorted(fetched), [uids[1], new_uid], fetched)  # only what changed
        self.assertRegex(fetched[uids[1]], r"FLAGS \([^)]*\\Seen")
        self.assertRegex(fetched[uids[1]], r"MODSEQ \(\d+\)")
        self.assertGreater(response_code(phone, "HIGHESTMODSEQ"), modseq)

        # Then DEFLATE, and the new message through it.
        phone.start_compress()
        typ, data = phone.uid("FETCH", str(new_uid), "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], NEW_MESSAGE)
        self.assertLess(phone.wire_received * 4, phone.plain_received,
                        "the server's answers were not compressed")
        self.assertEqual(phone.noop()[0], "OK")
        self.assertEqual(phone.logout()[0], "BYE")


if __name__ == "__main__":
    unittest.main()
