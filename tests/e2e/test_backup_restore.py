"""Backup of a live server under load, restored into an empty data
directory (and, on the PostgreSQL backend, a new database): every account,
and every message, UID, UIDVALIDITY and flag that existed when the backup
started, is there; messages delivered during the backup are there whole with
their UIDs, or not at all."""
import email
import imaplib
import smtplib
import subprocess
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, PG_DSN, Umstore  # noqa: E402

ACCOUNTS = {"+15550100": "alice password", "+15550101": "bob password", "+15550102": "carol password"}


def send(port, number, subject, size=2000):
    body = f"Subject: {subject}\r\nMessage-ID: <{subject}@test>\r\n\r\n" + ("x" * 70 + "\r\n") * (size // 72)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail("gw@example.org", [f"{number}@{DOMAIN}"], body)


def mailbox_state(port, number):
    """UIDVALIDITY and {uid: (message-id, flags)} of every folder of the mailbox."""
    conn = imaplib.IMAP4("127.0.0.1", port)
    conn.login(number, ACCOUNTS[number])
    state = {}
    try:
        typ, folders = conn.list()
        for line in folders:
            name = line.decode().rsplit(' "', 1)[-1].rstrip('"') if line.decode().endswith('"') else line.decode().split()[-1]
            typ, data = conn.select(f'"{name}"', readonly=True)
            typ, validity = conn.response("UIDVALIDITY")
            messages = {}
            if int(data[0]):
                typ, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                for item in data:
                    if isinstance(item, tuple):
                        head = item[0].decode()
                        uid = int(head.split("UID ")[1].split()[0])
                        flags = head.split("FLAGS (")[1].split(")")[0]
                        flags = " ".join(sorted(f for f in flags.split() if f != "\\Recent"))
                        messages[uid] = (email.message_from_bytes(item[1])["Message-ID"], flags)
            state[name] = (validity[0], messages)
    finally:
        conn.logout()
    return state


class BackupRestoreTest(unittest.TestCase):
    def test_backup_under_load_restores_every_message_flag_uid_and_account(self):
        with Umstore() as live, Umstore(migrate=False) as restored:
            for number, password in ACCOUNTS.items():
                live.add_mailbox(number, number, password)
            live.start()
            for i in range(30):
                send(live.smtp_port, list(ACCOUNTS)[i % 3], f"before-{i}")
            # Flags and an expunge, so UIDs have a gap and flags vary.
            conn = imaplib.IMAP4("127.0.0.1", live.imap_port)
            conn.login("+15550100", ACCOUNTS["+15550100"])
            conn.select("INBOX")
            conn.uid("STORE", "1:3", "+FLAGS", "(\\Seen \\Flagged)")
            conn.uid("STORE", "4", "+FLAGS", "(\\Deleted)")
            conn.expunge()
            conn.create("Archive")
            conn.uid("COPY", "5:6", "Archive")
            conn.logout()
            before = {number: mailbox_state(live.imap_port, number) for number in ACCOUNTS}
            alice = before["+15550100"]
            self.assertEqual(sorted(alice["Archive"][1]), [1, 2])
            self.assertEqual(len(alice["INBOX"][1]), 9)
            self.assertEqual(alice["INBOX"][1][1][1], "\\Flagged \\Seen")
            self.assertNotIn(4, alice["INBOX"][1])

            # Load while the backup runs: deliveries to every mailbox.
            stop = threading.Event()
            sent_during = []

            def load():
                i = 0
                while not stop.is_set():
                    send(live.smtp_port, list(ACCOUNTS)[i % 3], f"during-{i}", size=40000)
                    sent_during.append(i)
                    i += 1

            loader = threading.Thread(target=load)
            loader.start()
            try:
                while len(sent_during) < 5:
                    threading.Event().wait(0.05)
                target = live.work / "backup"
                out = live.run("backup", str(target))
                self.assertIn("backed up", out.stdout)
                self.assertEqual((target / "database.pgdump").exists(), bool(PG_DSN))
            finally:
                stop.set()
                loader.join()
            self.assertGreater(len(sent_during), 5, "no load ran during the backup")

            # A backup refuses a non-empty target; restore refuses a non-empty data dir.
            self.assertNotEqual(live.run("backup", str(target), check=False).returncode, 0)
            self.assertNotEqual(live.run("restore", str(target), check=False).returncode, 0)
            if PG_DSN:  # nor into a database that holds a store already
                refused = Umstore()
                with refused:
                    result = refused.run("restore", str(target), check=False)
                    self.assertNotEqual(result.returncode, 0)
                    self.assertIn("already holds tables", result.stderr)

            out = restored.run("restore", str(target))
            self.assertIn("restored", out.stdout)
            listed = restored.run("mailbox", "list").stdout
            for number in ACCOUNTS:
                self.assertIn(number, listed)
            restored.start()
            for number in ACCOUNTS:
                after = mailbox_state(restored.imap_port, number)  # the restored passwords work too
                for folder, (validity, messages) in before[number].items():
                    self.assertIn(folder, after, f"{number}: folder {folder} lost")
                    self.assertEqual(after[folder][0], validity, f"{number} {folder}: UIDVALIDITY changed")
                    for uid, (message_id, flags) in messages.items():
                        self.assertEqual(after[folder][1].get(uid), (message_id, flags),
                                         f"{number} {folder} UID {uid}")
                # Messages from during the backup: whole, under a UID above the earlier ones.
                for folder, (_, messages) in after.items():
                    extra = {uid: m for uid, m in messages.items() if uid not in before[number].get(folder, ("", {}))[1]}
                    for uid, (message_id, _) in extra.items():
                        self.assertTrue(message_id.startswith("<during-"), f"{number} {folder} UID {uid}: {message_id}")
            fetched = subprocess.run(["curl", "-s", "--user", f"+15550101:{ACCOUNTS['+15550101']}",
                                      f"imap://127.0.0.1:{restored.imap_port}/INBOX;UID=1"],
                                     capture_output=True, text=True, timeout=30)
            self.assertIn("Message-ID: <before-1@test>", fetched.stdout)
            restored_during = sum(1 for number in ACCOUNTS for _, messages in mailbox_state(restored.imap_port, number).values()
                                  for message_id, _ in messages.values() if message_id.startswith("<during-"))
            print(f"{len(sent_during)} messages sent during the backup, {restored_during} of them in it")


if __name__ == "__main__":
    unittest.main()
