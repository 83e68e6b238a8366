"""neomutt, a real terminal mail client, reads a mailbox holding a voicemail
and a fax over IMAP, driven by keystrokes in a detached tmux session; the
flag and the deletion it makes must be in the store afterwards (checked
over imaplib). Exits 77 (skipped) only when neomutt or tmux is missing."""
import email
import email.header
import imaplib
import os
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SAMPLES, Umstore  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "neomutt test password"
SESSION = f"umstore-neomutt-{os.getpid()}"


def decoded_subject(raw_header):
    message = email.message_from_bytes(raw_header)
    return str(email.header.make_header(email.header.decode_header(message["Subject"])))


class NeomuttTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore()
        cls.server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
        cls.server.start()
        cls.server.ingest("voice", NUMBER, "+15550123", SAMPLES / "voicemail.wav", caller_name="Carol Caller")
        cls.server.ingest("fax", NUMBER, "+15550199", SAMPLES / "fax.tif")
        cls.home = cls.server.work / "home"
        cls.home.mkdir()

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        cls.server.close()

    def imap(self):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(NUMBER, PASSWORD)
        return conn

    def messages(self):
        """(subject, flags) per message in INBOX, in sequence order."""
        conn = self.imap()
        try:
            typ, data = conn.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
            if int(data[0]) == 0:
                return []
            typ, data = conn.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertEqual(typ, "OK")
            out = []
            for item in data:
                if isinstance(item, tuple):
                    flags = imaplib.ParseFlags(item[0])
                    out.append((decoded_subject(item[1]), {f.decode() for f in flags}))
            return out
        finally:
            conn.logout()

    def write_muttrc(self):
        muttrc = self.home / "muttrc"
        muttrc.write_text(f"""
set folder = "imap://127.0.0.1:{self.server.imap_port}/"
set spoolfile = "+INBOX"
set imap_user = "{NUMBER}"
set imap_pass = "{PASSWORD}"
set ssl_starttls = no
set ssl_force_tls = no
set imap_check_subscribed = no
set imap_passive = no
set header_cache = ""
set message_cachedir = ""
set sort = mailbox-order
set index_format = "%4C %Z | %s"
set delete = yes
set quit = yes
set move = no
set record = ""
set trash = ""
set wait_key = no
set mail_check = 2
set timeout = 2
""")
        return muttrc

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION], capture_output=True, text=True).stdout

    def wait_for_screen(self, predicate, what, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.3)
        self.fail(f"neomutt never showed {what}; screen:\n{self.screen()}\nserver log:\n"
                  f"{self.server.log_path.read_text()[-3000:]}")

    def keys(self, *keys):
        subprocess.run(["tmux", "send-keys", "-t", SESSION, *keys], check=True)
        time.sleep(0.5)

    def test_reads_flags_and_deletes_voicemail_and_fax(self):
        before = self.messages()
        self.assertEqual(len(before), 2, before)
        voice_subject, fax_subject = before[0][0], before[1][0]
        muttrc = self.write_muttrc()
        env = dict(os.environ, HOME=str(self.home), TERM="xterm-256color", LC_ALL="C.UTF-8")
        subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "220", "-y", "40",
                        f"neomutt -n -F {muttrc}"], check=True, env=env)
        # The index lists both messages (subjects as the store has them, cut to the screen width).
        screen = self.wait_for_screen(lambda s: voice_subject[:60] in s and fax_subject[:60] in s,
                                      "both subjects")
        self.assertIn("   1 ", screen)
        self.assertIn("   2 ", screen)

        # Flag the voicemail (message 1), delete the fax (message 2), sync.
        self.keys("1", "Enter")
        self.keys("F")
        self.keys("2", "Enter")
        self.keys("d")
        self.keys("$")
        deadline = time.time() + 30
        after = self.messages()
        while len(after) != 1 and time.time() < deadline:
            time.sleep(0.5)
            after = self.messages()
        self.assertEqual(len(after), 1, f"{after}; screen:\n{self.screen()}")
        self.assertEqual(after[0][0], voice_subject)
        self.assertIn("\\Flagged", after[0][1])
        self.assertNotIn("\\Deleted", after[0][1])
        self.keys("q")


if __name__ == "__main__":
    if shutil.which("neomutt") is None or shutil.which("tmux") is None:
        print("SKIP: neomutt or tmux is not installed (scripts/install-deps.sh installs both)")
        sys.exit(77)
    unittest.main()
