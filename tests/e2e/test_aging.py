"""Message aging end to end, on the store the harness chooses (Maildir, or
PostgreSQL through tests/peers/postgres_peer.py), with the aging job's test
clock (UMSTORE_TEST_CLOCK_OFFSET_DAYS) moved forward instead of waiting:
- `umstore aging run` moves voice and fax messages older than the mailbox's
  days from INBOX and Fax to Trash (the files or rows move: they are in
  Trash, not in INBOX), leaves plain mail, newer messages and mailboxes with
  longer or no aging untouched, and purges Trash for real later (no file, no
  row, no body left);
- a Maildir message a tool dropped in without a save date ages by its
  file's time;
- IMAP shows a moved message's save date restarting in Trash (SAVEDATE);
- every message moved or purged is logged with the number masked under
  [log] redact_numbers, and the runs are in the admin audit log;
- the admin API shows and sets a mailbox's aging (helpdesk may not), and
  the dashboard shows the last run;
- `umstore serve` runs aging on its schedule."""
import imaplib
import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from admin_client import AdminClient, add_admin  # noqa: E402
from umstore_harness import SAMPLES, UMSTORE, Umstore, psql, wait_for  # noqa: E402

ALICE, BOB, CAROL = "+15550100", "+15550101", "+15550102"
ALICE_CALLER, BOB_CALLER, CAROL_CALLER = "+15550123", "+15550124", "+15550125"
PASSWORD = "aging password"
CONFIG = """[log]
redact_numbers = true

[aging]
move_to_trash_days = 30
purge_trash_days = 60
interval_seconds = 1
"""
PLAIN = (b"From: colleague@example.com\r\nTo: alice@example.com\r\nSubject: plain mail\r\n"
         b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nnot a voice message\r\n")


class AgingTest(unittest.TestCase):
    cli_log = []  # what `aging run` logged, run after run

    @classmethod
    def setUpClass(cls):
        cls.server = Umstore(config_text=CONFIG)
        cls.addClassCleanup(cls.server.close)
        for number, name in [(ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")]:
            cls.server.add_mailbox(number, name, PASSWORD)
        cls.server.run("mailbox", "set", BOB, "--age-days", "90", "--trash-days", "0")
        cls.server.ingest("voice", ALICE, ALICE_CALLER, SAMPLES / "voicemail.wav")
        cls.server.ingest("voice", ALICE, ALICE_CALLER, SAMPLES / "voicemail.wav")
        cls.server.ingest("fax", ALICE, ALICE_CALLER, SAMPLES / "fax.tif")
        cls.server.ingest("voice", BOB, BOB_CALLER, SAMPLES / "voicemail.wav")
        cls.server.ingest("voice", CAROL, CAROL_CALLER, SAMPLES / "voicemail.wav")
        cls.server.start()
        client = cls.imap(cls, ALICE)
        client.append("INBOX", None, None, PLAIN)
        client.logout()
        client = cls.imap(cls, BOB)  # something Bob threw away himself: his Trash is never purged
        client.select("INBOX")
        client.uid("COPY", "1", "Trash")
        client.logout()

    def imap(self, number):
        client = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        client.login(number, PASSWORD)
        return client

    def aging_run(self, offset_days, *number):
        env = dict(os.environ, UMSTORE_TEST_CLOCK_OFFSET_DAYS=str(offset_days))
        result = subprocess.run([UMSTORE, "--data-dir", str(self.server.data_dir), "--config", str(self.server.config),
                                 "aging", "run", *number], capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        AgingTest.cli_log.append(result.stderr)
        return result

    def stored_in(self, number, folder):
        """The octets of the messages of one folder, read where the backend keeps them."""
        if self.server.store_dsn:
            rows = psql(self.server.store_dsn,
                        "SELECT encode(b.data, 'hex') FROM messages m JOIN folders f ON f.id = m.folder_id "
                        "JOIN mailboxes x ON x.id = f.mailbox_id JOIN bodies b ON b.sha256 = m.body_sha256 "
                        f"WHERE x.number = '{number}' AND f.name = '{folder}' ORDER BY m.uid")
            return [bytes.fromhex(row) for row in rows.split()]
        cur = self.server.data_dir / "mail" / number / folder / "cur"
        return [p.read_bytes() for p in sorted(cur.iterdir())] if cur.is_dir() else []

    def kinds_in(self, number, folder):
        return sorted("voice" if b"voice-message" in raw else "fax" if b"fax-message" in raw else "mail"
                      for raw in self.stored_in(number, folder))

    def imap_count(self, number, folder):
        client = self.imap(number)
        try:
            _, data = client.status(folder, "(MESSAGES)")
            return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
        finally:
            client.logout()

    def test_1_nothing_before_its_time(self):
        before = {(n, f): self.stored_in(n, f) for n in (ALICE, BOB, CAROL) for f in ("INBOX", "Trash")}
        out = self.aging_run(29).stdout
        self.assertIn("moved 0 to Trash, purged 0 from Trash", out)
        self.assertEqual({(n, f): self.stored_in(n, f) for n, f in before}, before)

    def test_2_voice_and_fax_move_to_trash(self):
        out = self.aging_run(40).stdout
        self.assertIn("moved 4 to Trash, purged 0 from Trash", out)  # Alice's three and Carol's one
        self.assertEqual(self.kinds_in(ALICE, "INBOX"), ["mail"])  # plain mail is never aged
        self.assertEqual(self.kinds_in(ALICE, "Trash"), ["fax", "voice", "voice"])
        self.assertEqual(self.kinds_in(CAROL, "INBOX"), [])
        self.assertEqual(self.kinds_in(BOB, "INBOX"), ["voice"])  # his own 90 days are not over
        self.assertEqual(self.imap_count(ALICE, "INBOX"), 1)
        self.assertEqual(self.imap_count(ALICE, "Trash"), 3)
        # the save date restarts in Trash: saved today, though received before
        client = self.imap(ALICE)
        client.select("Trash", readonly=True)
        _, found = client.search(None, "SAVEDBEFORE", "1-Jan-2000")
        self.assertEqual(found, [b""])
        _, data = client.fetch("1", "(SAVEDATE)")
        self.assertRegex(data[0], rb'SAVEDATE "[ 0-9]{2}-[A-Z][a-z]{2}-20\d\d ')
        client.logout()

    def test_3_trash_is_purged_for_real(self):
        out = self.aging_run(70).stdout
        # Alice's and Carol's Trash (saved at the move, 70 days before the
        # test clock); Bob's Trash is kept (0 days: never), his INBOX not due
        self.assertIn("purged 4 from Trash", out)
        self.assertEqual(self.stored_in(ALICE, "Trash"), [])
        self.assertEqual(self.stored_in(CAROL, "Trash"), [])
        self.assertEqual(self.kinds_in(ALICE, "INBOX"), ["mail"])
        self.assertEqual(self.kinds_in(BOB, "INBOX"), ["voice"])
        self.assertEqual(self.kinds_in(BOB, "Trash"), ["voice"])
        stored = self.server.stored_messages()
        for caller in (ALICE_CALLER, CAROL_CALLER):
            self.assertFalse([raw for raw in stored if caller[1:].encode() in raw], f"a message from {caller} is left")
        if self.server.store_dsn:  # no body left behind either: Bob's voicemail (shared by his two copies) and the mail
            self.assertEqual(psql(self.server.store_dsn, "SELECT count(*) FROM bodies").strip(), "2")

    def test_4_log_and_audit(self):
        self.aging_run(40, BOB)
        err = "".join(AgingTest.cli_log)
        self.assertRegex(err, r"aging: moved mailbox=\+15\*+00 folder=INBOX uid=\d+ to Trash uid=\d+")
        self.assertRegex(err, r"aging: purged mailbox=\+15\*+02 folder=Trash uid=\d+")
        for number in (ALICE, BOB, CAROL, ALICE_CALLER):
            self.assertNotIn(number, err)
        admin = self.admin_client()
        audit = admin.call("GET", "/api/audit?limit=100").json()
        runs = [e for e in audit if e["actor"] == "aging" and e["action"] == "aging.run"]
        self.assertIn(f"{ALICE}:moved 3 to Trash, purged 0 from Trash", [f"{e['target']}:{e['outcome']}" for e in runs])
        self.assertIn(f"{CAROL}:moved 0 to Trash, purged 1 from Trash", [f"{e['target']}:{e['outcome']}" for e in runs])

    _admin = None

    def admin_client(self):
        if AgingTest._admin is None:
            add_admin(self.server, "root", "admin", "root password")
            client = AdminClient(self.server.admin_port)
            client.enrol("root", "root password")
            AgingTest._admin = client
        return AgingTest._admin

    def test_5_admin_api_shows_and_sets_aging(self):
        admin = self.admin_client()
        bob = admin.call("GET", f"/api/mailboxes/{BOB}").json()
        self.assertEqual(bob["aging"], {"age_days": 90, "trash_days": 0, "effective": {"age_days": 90, "trash_days": 0}})
        carol = admin.call("GET", f"/api/mailboxes/{CAROL}").json()
        self.assertEqual(carol["aging"]["effective"], {"age_days": 30, "trash_days": 60})
        self.assertIsNone(carol["aging"]["age_days"])
        self.assertIn("purged 1 from Trash", carol["last_aging"]["outcome"])
        self.assertIsNotNone(admin.call("GET", "/api/dashboard").json()["last_aging"])

        r = admin.call("PUT", f"/api/mailboxes/{CAROL}/aging", {"age_days": 7, "trash_days": None})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["effective"], {"age_days": 7, "trash_days": 60})
        self.assertIn("age-days:     7 days", self.server.run("mailbox", "show", CAROL).stdout)
        self.assertEqual(admin.call("PUT", f"/api/mailboxes/{CAROL}/aging", {"age_days": -1}).status_code, 400)
        self.assertEqual(admin.call("PUT", f"/api/mailboxes/{CAROL}/aging", {"age_days": 1}, csrf=False).status_code, 403)

        add_admin(self.server, "desk", "helpdesk", "desk password")
        desk = AdminClient(self.server.admin_port)
        desk.enrol("desk", "desk password")
        self.assertEqual(desk.call("PUT", f"/api/mailboxes/{CAROL}/aging", {"age_days": 0}).status_code, 403)
        self.assertEqual(admin.call("GET", f"/api/mailboxes/{CAROL}").json()["aging"]["age_days"], 7)
        audit = admin.call("GET", "/api/audit?limit=50").json()
        self.assertTrue([e for e in audit if e["action"] == "mailbox.aging" and e["target"] == CAROL
                         and e["actor"] == "root" and e["outcome"].startswith("ok")])

    def test_6_serve_runs_aging_on_its_schedule(self):
        self.server.stop()
        self.server.ingest("voice", CAROL, CAROL_CALLER, SAMPLES / "voicemail.wav")
        self.assertEqual(self.kinds_in(CAROL, "INBOX"), ["voice"])
        os.environ["UMSTORE_TEST_CLOCK_OFFSET_DAYS"] = "8"  # Carol's 7 days are over, nobody else's
        try:
            self.server.start()
        finally:
            del os.environ["UMSTORE_TEST_CLOCK_OFFSET_DAYS"]
        # A move is a copy then an expunge: a look between the two sees both.
        wait_for(lambda: self.kinds_in(CAROL, "Trash") == ["voice"] and self.kinds_in(CAROL, "INBOX") == [],
                 "Carol's voicemail moved by the schedule", 30)
        self.assertEqual(self.kinds_in(BOB, "INBOX"), ["voice"])
        self.assertEqual(self.kinds_in(ALICE, "INBOX"), ["mail"])
        wait_for(lambda: "aging: moved mailbox=+15****02 folder=INBOX" in self.server.log_path.read_text(),
                 "the move logged by the server", 10)


@unittest.skipIf(os.environ.get("UMSTORE_TEST_PG_DSN"), "the Maildir backend's own files")
class MaildirFallbackTest(unittest.TestCase):
    """A message another tool put into the Maildir has no save date of its
    own: it ages by the file's time, which is its internal date."""

    def test_dropped_in_file_ages_by_its_time(self):
        with Umstore(config_text=CONFIG) as server:
            server.add_mailbox(ALICE, "Alice", PASSWORD)
            server.ingest("voice", ALICE, ALICE_CALLER, SAMPLES / "voicemail.wav")
            cur = server.data_dir / "mail" / ALICE / "INBOX" / "cur"
            delivered = next(cur.iterdir())
            dropped = cur / "1500000000.M1P1Q1.tool:2,"
            dropped.write_bytes(delivered.read_bytes().replace(b"15550123", b"15550129"))
            old = dropped.stat().st_mtime - 40 * 24 * 3600
            os.utime(dropped, (old, old))
            out = server.run("aging", "run").stdout
            self.assertIn("moved 1 to Trash", out)
            trash = [p.read_bytes() for p in (server.data_dir / "mail" / ALICE / "Trash" / "cur").iterdir()]
            self.assertEqual(len(trash), 1)
            self.assertIn(b"15550129", trash[0])
            self.assertEqual([p.read_bytes() for p in cur.iterdir()], [delivered.read_bytes()])


if __name__ == "__main__":
    unittest.main()
