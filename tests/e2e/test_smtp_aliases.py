"""[aliases] from the config file: a name for one mailbox, a list of
mailboxes, names with and without the domain, case-insensitive local parts;
unknown names are still 550 5.1.1 (smtplib against the real server)."""
import imaplib
import smtplib
import sys
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from umstore_harness import DOMAIN, Umstore  # noqa: E402

ALICE, BOB = "+15550100", "+15550101"
PASSWORD = "alias-test-password"
CONFIG = f"""
[aliases]
voicemail@{DOMAIN} = {ALICE}
team = {ALICE}, {BOB}
ghost = +15550199
"""


class SmtpAliases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore(config_text=CONFIG)
        cls.server.add_mailbox(ALICE, "Alice", PASSWORD)
        cls.server.add_mailbox(BOB, "Bob", PASSWORD)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def subjects(self, number):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(number, PASSWORD)
        conn.select("INBOX", readonly=True)
        _, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        conn.logout()
        return [part[1].decode().strip() for part in data if isinstance(part, tuple)]

    def send(self, rcpt):
        token = uuid.uuid4().hex[:12]
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            refused = s.sendmail("caller@example.org", [rcpt], f"Subject: {token}\r\n\r\nhello\r\n".encode())
        self.assertEqual(refused, {})
        return f"Subject: {token}"

    def test_alias_with_domain_delivers_to_its_mailbox(self):
        subject = self.send(f"VoiceMail@{DOMAIN}")
        self.assertIn(subject, self.subjects(ALICE))
        self.assertNotIn(subject, self.subjects(BOB))

    def test_list_alias_delivers_one_copy_to_each_member(self):
        subject = self.send(f"team@{DOMAIN}")
        self.assertEqual(self.subjects(ALICE).count(subject), 1)
        self.assertEqual(self.subjects(BOB).count(subject), 1)

    def test_alias_and_member_in_one_transaction_give_one_copy(self):
        token = uuid.uuid4().hex[:12]
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
            s.sendmail("caller@example.org", [f"team@{DOMAIN}", f"{BOB}@{DOMAIN}"],
                       f"Subject: {token}\r\n\r\nhello\r\n".encode())
        self.assertEqual(self.subjects(BOB).count(f"Subject: {token}"), 1)

    def test_unknown_name_and_alias_without_mailbox_are_550_5_1_1(self):
        for rcpt in (f"nobody@{DOMAIN}", f"ghost@{DOMAIN}"):
            with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as s:
                s.ehlo("client.test")
                s.mail("caller@example.org")
                code, text = s.rcpt(rcpt)
            self.assertEqual(code, 550, rcpt)
            self.assertTrue(text.startswith(b"5.1.1"), text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
