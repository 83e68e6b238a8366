"""Quotas in bytes, messages and minutes of voice, end to end, on the store
the harness chooses (Maildir, or PostgreSQL through tests/peers/postgres_peer.py):
- `umstore mailbox set --quota-messages/--quota-minutes` set them and
  `mailbox show` and IMAP GETQUOTAROOT (MESSAGE) report them;
- SMTP: 452 4.2.2 at RCPT once the message count is reached, after DATA for
  a voice message past the minutes;
- the mailbox gets one warning at 80% and one at 95% (read over IMAP), not
  one per delivery;
- the gateway API answers 507 with a JSON reason when the mailbox is full."""
import imaplib
import json
import shutil
import smtplib
import subprocess
import sys
import unittest
from email import message_from_bytes
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SAMPLES, Umstore, wait_for  # noqa: E402

ALICE, BOB, CAROL = "+15550100", "+15550101", "+15550102"
PASSWORD = "quota password"
TOKEN = "quota-gateway-token-0123456789"


def voice_message(seconds):
    return ("From: <+15550123@example.org>\r\nTo: <{}@{}>\r\nSubject: voice\r\nMessage-Context: voice-message\r\n"
            "MIME-Version: 1.0\r\nContent-Type: audio/32KADPCM\r\nContent-Duration: {}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n").format(BOB, DOMAIN, seconds)


class QuotaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore(config_text=f"[gateways]\ngw1 = {TOKEN}\n")
        cls.addClassCleanup(cls.server.close)
        for number, name in [(ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")]:
            cls.server.add_mailbox(number, name, PASSWORD)
        cls.server.run("mailbox", "set", ALICE, "--quota-messages", "10")
        cls.server.run("mailbox", "set", BOB, "--quota-minutes", "1")
        cls.server.run("mailbox", "set", CAROL, "--quota-messages", "1")
        cls.server.start()

    def imap(self, number):
        client = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        client.login(number, PASSWORD)
        self.addCleanup(client.logout)
        return client

    def warning_messages(self, number):
        """The quota warnings in INBOX, over IMAP."""
        client = self.imap(number)
        client.select("INBOX", readonly=True)
        _, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
        messages = [message_from_bytes(item[1]) for item in data if isinstance(item, tuple)]
        return [m for m in messages if m["X-Umstore-Quota-Warning"]]

    def warnings(self, number):
        return [m["Subject"] for m in self.warning_messages(number)]

    def send(self, number, body="Subject: hello\r\n\r\nhello\r\n", sender="a@example.org"):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=30) as smtp:
            smtp.sendmail(sender, [f"{number}@{DOMAIN}"], body)

    def test_1_message_count_warns_at_80_and_95_then_452_at_rcpt(self):
        for _ in range(7):
            self.send(ALICE)
        self.assertEqual(self.warnings(ALICE), [])
        self.send(ALICE)  # 8 of 10
        self.assertEqual(self.warnings(ALICE), ["Your mailbox is 80% full (messages)"])
        self.send(ALICE)  # 9 + the warning: 10 of 10
        self.assertEqual(self.warnings(ALICE), ["Your mailbox is 80% full (messages)",
                                                "Your mailbox is 100% full (messages)"])
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as refused:
            self.send(ALICE)
        code, text = refused.exception.recipients[f"{ALICE}@{DOMAIN}"]
        self.assertEqual(code, 452)
        self.assertIn(b"4.2.2", text)
        self.assertEqual(len(self.warnings(ALICE)), 2)  # none per refused delivery
        client = self.imap(ALICE)
        _, data = client.getquotaroot("INBOX")
        self.assertIn(b"MESSAGE 11 10", b" ".join(d for part in data for d in part))
        shown = self.server.run("mailbox", "show", ALICE).stdout
        self.assertIn("11 of 10 messages", shown)

    def test_2_minutes_of_voice_452_after_data(self):
        self.send(BOB, voice_message(50), sender="+15550123@example.org")  # 50 of 60 s: past 80%
        self.assertEqual(self.warnings(BOB), ["Your mailbox is 83% full (minutes of voice)"])
        # A voice user also hears it, when a TTS program is installed.
        parts = [p.get_content_type() for p in self.warning_messages(BOB)[0].walk()]
        if shutil.which("espeak-ng"):
            self.assertIn("audio/wav", parts)
            self.assertIn("text/plain", parts)
        else:
            print("espeak-ng not installed: the spoken warning is not checked", file=sys.stderr)
        # A mailbox without voice gets text only.
        self.assertEqual([p.get_content_type() for p in self.warning_messages(ALICE)[0].walk()], ["text/plain"])
        with self.assertRaises(smtplib.SMTPDataError) as refused:
            self.send(BOB, voice_message(11), sender="+15550123@example.org")
        self.assertEqual(refused.exception.smtp_code, 452)
        self.assertIn(b"4.2.2", refused.exception.smtp_error)
        self.send(BOB)  # mail without voice still fits
        self.assertIn("0.8 of 1.0 minutes of voice", self.server.run("mailbox", "show", BOB).stdout)
        listed = self.server.run("mailbox", "list").stdout
        self.assertIn("QUOTA MIN", listed)

    def post_voicemail(self, to):
        done = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {TOKEN}",
                               "-F", f"file=@{SAMPLES / 'voicemail.wav'}", "-F", f"to={to}", "-F", "from=+15550123",
                               f"http://127.0.0.1:{self.server.http_port}/v1/voicemail"],
                              capture_output=True, text=True, timeout=60)
        body, _, status = done.stdout.rpartition("\n")
        return int(status), json.loads(body)

    def test_3_gateway_gets_507_with_a_reason_when_the_mailbox_is_full(self):
        status, body = self.post_voicemail(CAROL)
        self.assertEqual(status, 202, body)
        wait_for(lambda: len(self.warnings(CAROL)) == 1, "the voicemail and its warning stored", 60)
        status, body = self.post_voicemail(CAROL)
        self.assertEqual(status, 507, body)
        self.assertEqual(body["reason"], "over_quota")
        self.assertEqual(body["mailbox"], CAROL)
        self.assertIn("full", body["error"])


if __name__ == "__main__":
    unittest.main()
