"""IMAP NOTIFY (RFC 5465) as a desktop client uses it: it says once which
mailboxes it cares about and then hears, without polling and without IDLE,
of a voicemail the gateway delivers (EXISTS with the envelope it asked for),
of a message another client files into another folder (STATUS), of folders
created and renamed (LIST), and the same inside IDLE. Runs on both backends."""
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
PASSWORD = "notify-desktop-secret"


class RawImap:
    """A line client that sees what the server sends unasked."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""
        self.seen = []  # every line read, for failure messages
        self.line()  # greeting

    def line(self, deadline=None):
        while b"\r\n" not in self.buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise AssertionError("the server closed the connection; read:\n" + "\n".join(self.seen))
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        text = line.decode("utf-8", "replace")
        self.seen.append(text)
        return text

    def command(self, tag, text):
        """Sends a command; returns (untagged lines, tagged line)."""
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            line = self.line(time.monotonic() + 30)
            if line is None:
                raise AssertionError(f"no reply to {tag} {text}; read:\n" + "\n".join(self.seen))
            if line.startswith(tag + " "):
                return lines, line
            lines.append(line)

    def expect(self, pattern, seconds=20):
        """Waits for a line the server sends unasked; returns the match."""
        deadline = time.monotonic() + seconds
        while True:
            line = self.line(deadline)
            if line is None:
                raise AssertionError(f"waited {seconds} s in vain for {pattern!r}; read:\n" + "\n".join(self.seen))
            found = re.search(pattern, line)
            if found:
                return found

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def close(self):
        self.sock.close()


class ImapNotifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore()
        cls.server.add_mailbox(USER, "Desk User", PASSWORD)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def desktop(self):
        conn = RawImap(self.server.imap_port)
        self.addCleanup(conn.close)
        _, ok = conn.command("l", f'LOGIN {USER} "{PASSWORD}"')
        self.assertIn("OK", ok)
        caps, _ = conn.command("c", "CAPABILITY")
        self.assertIn(" NOTIFY", caps[0])
        return conn

    def other_client(self):
        other = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        other.login(USER, PASSWORD)
        return other

    def test_told_between_commands(self):
        desk = self.desktop()
        self.assertIn("OK", desk.command("s", "SELECT INBOX")[1])
        _, ok = desk.command("n", "NOTIFY SET (selected (MessageNew (UID ENVELOPE) MessageExpunge FlagChange)) "
                                  "(personal (MessageNew MessageExpunge MailboxName SubscriptionChange))")
        self.assertIn("n OK", ok)

        # A voicemail the gateway hands over (another process, then SMTP into the server).
        self.server.ingest("voice", USER, "+15550123", SAMPLES / "voicemail.wav")
        exists = int(desk.expect(r"^\* (\d+) EXISTS$").group(1))
        fetched = desk.expect(rf"^\* {exists} FETCH \(UID (\d+) ENVELOPE \((.*)\)\)$")
        self.assertIn('"Voice message from +1 5550123', fetched.group(2))  # the subject names the caller

        # Another client files a message into a folder of its own making.
        other = self.other_client()
        self.assertEqual(other.create("Saved")[0], "OK")
        desk.expect(r'^\* LIST \(\\HasNoChildren\) "/" Saved$')
        self.assertEqual(other.append("Saved", None, None, b"Subject: keep\r\n\r\nbody\r\n")[0], "OK")
        status = desk.expect(r"^\* STATUS Saved \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY (\d+) UNSEEN 1\)$")
        self.assertEqual(other.rename("Saved", "Kept")[0], "OK")
        desk.expect(r'^\* LIST \(\\HasNoChildren\) "/" Kept \("OLDNAME" \(Saved\)\)$')
        kept_validity = other.status("Kept", "(UIDVALIDITY)")[1][0].decode()
        self.assertIn(f"UIDVALIDITY {status.group(1)}", kept_validity)

        # The voicemail is read and deleted elsewhere: flags, then the expunge, at once.
        other.select("INBOX")
        self.assertEqual(other.uid("STORE", fetched.group(1), "+FLAGS", r"(\Seen \Deleted)")[0], "OK")
        desk.expect(rf"^\* {exists} FETCH \(UID {fetched.group(1)} FLAGS \(\\Seen \\Deleted.*\)\)$")
        self.assertEqual(other.expunge()[0], "OK")
        desk.expect(rf"^\* {exists} EXPUNGE$")
        other.logout()
        self.assertIn("OK", desk.command("z", "LOGOUT")[1])

    def test_told_in_idle(self):
        desk = self.desktop()
        self.assertIn("OK", desk.command("s", "SELECT INBOX")[1])
        self.assertIn("OK", desk.command("n", "NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")[1])
        desk.send("i IDLE")
        desk.expect(r"^\+ ")
        other = self.other_client()
        self.assertEqual(other.create("Voice/Archive")[0], "OK")
        desk.expect(r'^\* LIST \(.*\) "/" Voice/Archive$')
        self.assertEqual(other.append("Voice/Archive", None, None, b"Subject: old\r\n\r\nbody\r\n")[0], "OK")
        desk.expect(r"^\* STATUS Voice/Archive \(MESSAGES 1 UIDNEXT 2 ")
        self.assertEqual(other.append("INBOX", None, None, b"Subject: new\r\n\r\nbody\r\n")[0], "OK")
        desk.expect(r"^\* \d+ EXISTS$")  # IDLE tells of the selected mailbox as ever
        self.assertEqual(other.delete("Voice/Archive")[0], "OK")
        desk.expect(r'^\* LIST \(\\NonExistent\) "/" Voice/Archive$')
        other.logout()
        desk.send("DONE")
        desk.expect(r"^i OK ")
        _, ok = desk.command("n2", "NOTIFY NONE")
        self.assertIn("n2 OK", ok)


if __name__ == "__main__":
    unittest.main()
