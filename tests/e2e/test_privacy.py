"""Data-protection requests end to end, on the store the harness chooses
(Maildir, or PostgreSQL through tests/peers/postgres_peer.py):
- `umstore mailbox export` writes every message octet for octet with a
  manifest (caller, kind, duration or pages, folder, flags), as tar.gz and
  as zip;
- `umstore privacy erase --caller` removes that caller's messages from every
  mailbox for real (IMAP sees them expunged, the store holds no copy; in
  the database no row and no body), and their recordings outside the
  mailboxes (a failed ingest job with its kept original, spool files in
  incoming/ and failed/); it leaves everyone else's, and --dry-run removes
  nothing;
- `umstore privacy erase --mailbox` removes a mailbox's messages, folders and
  account;
- with `[log] redact_numbers = true` the server's log holds no caller number."""
import imaplib
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SAMPLES, Umstore, gateway_api, job_outcome, psql, wait_for  # noqa: E402

ALICE, BOB = "+15550100", "+15550101"
CALLER, OTHER = "+15550123", "+15550199"
PASSWORD = "privacy password"
TOKEN = "privacy-gateway-token-0123456789"


class PrivacyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore(config_text=f"[gateways]\ngw1 = {TOKEN}\n\n[log]\nredact_numbers = true\n")
        cls.addClassCleanup(cls.server.close)
        cls.server.add_mailbox(ALICE, "Alice", PASSWORD)
        cls.server.add_mailbox(BOB, "Bob", PASSWORD)
        cls.server.start()
        for to, caller, kind in [(ALICE, CALLER, "voicemail"), (ALICE, CALLER, "voicemail"), (ALICE, OTHER, "voicemail"),
                                 (BOB, CALLER, "voicemail"), (BOB, CALLER, "fax")]:
            cls.post(kind, to, caller)
        wait_for(lambda: len(cls.server.stored_messages()) == 5, "five messages stored", 60)

    @classmethod
    def post(cls, kind, to, caller):
        sample = SAMPLES / ("voicemail.wav" if kind == "voicemail" else "fax.tif")
        done = subprocess.run(["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {TOKEN}",
                               "-F", f"file=@{sample}", "-F", f"to={to}", "-F", f"from={caller}",
                               f"http://127.0.0.1:{cls.server.http_port}/v1/{kind}"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    def imap(self, number):
        client = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        client.login(number, PASSWORD)
        self.addCleanup(client.logout)
        return client

    def inbox(self, number):
        """{uid: octets} of the mailbox's INBOX, over IMAP."""
        client = self.imap(number)
        client.select("INBOX")
        _, data = client.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        out = {}
        for item in data:
            if isinstance(item, tuple):
                uid = int(item[0].split(b"UID ")[1].split()[0])
                out[uid] = item[1]
        return out

    def export(self, number, name):
        target = Path(tempfile.mkdtemp(prefix="umstore-export-")) / name
        out = self.server.run("mailbox", "export", number, str(target)).stdout
        self.assertIn("exported", out)
        self.assertFalse(target.with_name(name + ".partial").exists())
        return target

    def test_1_export_is_every_message_with_a_manifest(self):
        client = self.imap(ALICE)
        client.select("INBOX")
        client.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
        inbox = self.inbox(ALICE)
        archive = self.export(ALICE, "alice.tar.gz")
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
            files = {m["file"]: tar.extractfile(m["file"]).read() for m in manifest["messages"]}
        self.assertEqual(manifest["mailbox"], ALICE)
        self.assertEqual(len(manifest["messages"]), 3)
        for m in manifest["messages"]:
            self.assertEqual(m["folder"], "INBOX")
            self.assertEqual(m["kind"], "voice")
            self.assertGreater(m["duration_seconds"], 0)
            self.assertEqual(files[m["file"]], inbox[m["uid"]], "exported octets differ from BODY[]")
        self.assertEqual(sorted(m["caller"] for m in manifest["messages"]), [CALLER, CALLER, OTHER])
        self.assertIn("\\Flagged", next(m for m in manifest["messages"] if m["uid"] == 1)["flags"])

        with zipfile.ZipFile(self.export(BOB, "bob.zip")) as z:
            manifest = json.loads(z.read("manifest.json"))
            self.assertEqual(sorted(m["kind"] for m in manifest["messages"]), ["fax", "voice"])
            fax = next(m for m in manifest["messages"] if m["kind"] == "fax")
            self.assertGreaterEqual(fax["pages"], 1)
            self.assertEqual(len(z.read(fax["file"])), fax["size"])

    def undecodable_recordings(self):
        """A failed ingest job of CALLER's, and spool pairs of CALLER's and OTHER's: what only the
        queue and the spool hold of them. Returns (job id, the job's kept original or None, the
        spool files of CALLER's, the spool files of OTHER's)."""
        bad = Path(tempfile.mkdtemp(prefix="umstore-bad-")) / "bad.wav"
        bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
        code, body = gateway_api(self.server.http_port, "/v1/voicemail", "-F", f"file=@{bad}", "-F", f"to={ALICE}",
                                 "-F", f"from={CALLER}", token=TOKEN)
        self.assertEqual(code, 202, body)
        job = body["id"]
        self.assertEqual(job_outcome(self.server.http_port, job, TOKEN)["status"], "failed")
        original = None if self.server.store_dsn else self.server.data_dir / "ingest" / "failed" / job
        spool = Path(self.server.info["spool"])
        for name, caller in (("theirs.wav", CALLER), ("other.wav", OTHER)):
            (spool / "incoming" / name).write_bytes(bad.read_bytes())
            (spool / "incoming" / f"{name}.json").write_text(json.dumps({"to": ALICE, "from": caller}))
        wait_for(lambda: (spool / "failed" / "theirs.wav.error").exists() and (spool / "failed" / "other.wav.error").exists(),
                 "the spool's failed pairs", 60)
        # A pair the gateway is still writing: its metadata arrived, its recording not yet.
        (spool / "incoming" / "pending.wav.json").write_text(json.dumps({"to": BOB, "from": CALLER}))
        theirs = [spool / "failed" / "theirs.wav", spool / "failed" / "theirs.wav.json",
                  spool / "failed" / "theirs.wav.error", spool / "incoming" / "pending.wav.json"]
        others = [spool / "failed" / "other.wav", spool / "failed" / "other.wav.json", spool / "failed" / "other.wav.error"]
        return job, original, theirs, others

    def test_2_erase_caller_removes_theirs_everywhere_and_nothing_else(self):
        job, original, theirs, others = self.undecodable_recordings()
        everything = theirs + others + ([original] if original else [])
        dry = self.server.run("privacy", "erase", "--caller", CALLER, "--dry-run").stdout
        self.assertIn("4 message(s) would be erased", dry)
        self.assertIn(f"would erase ingest job {job} (voice, failed)", dry)
        self.assertEqual(dry.count("would erase spool file"), 2)
        self.assertEqual(len(self.server.stored_messages()), 5)
        self.assertEqual([p for p in everything if not p.exists()], [])

        kept = [raw for raw in self.inbox(ALICE).values() if b"5550199" in raw]
        out = self.server.run("privacy", "erase", "--caller", CALLER).stdout
        self.assertIn("4 message(s) erased", out)
        self.assertIn(f"erased ingest job {job}", out)
        self.assertEqual(gateway_api(self.server.http_port, f"/v1/messages/{job}", token=TOKEN)[0], 404)
        self.assertEqual([p for p in theirs + ([original] if original else []) if p.exists()], [])
        self.assertEqual([p for p in others if not p.exists()], [])
        self.assertEqual(out.count(f"erased {ALICE} INBOX"), 2)
        self.assertEqual(out.count(f"erased {BOB} INBOX"), 2)
        self.assertEqual(list(self.inbox(ALICE).values()), kept)
        self.assertEqual(self.inbox(BOB), {})
        stored = self.server.stored_messages()
        self.assertEqual(len(stored), 1)
        self.assertFalse([raw for raw in stored if b"Caller-ID: 15550123" in raw])
        if self.server.store_dsn:  # no row and no body left behind
            self.assertEqual(psql(self.server.store_dsn, "SELECT count(*) FROM bodies").strip(), "1")
        else:
            self.assertFalse([p for p in (self.server.data_dir / "mail").rglob("*")
                              if p.is_file() and b"15550123" in p.read_bytes() and p.parent.name in ("new", "cur", "tmp")])

    def test_3_erase_mailbox_removes_messages_folders_and_account(self):
        client = self.imap(ALICE)
        client.create("Saved")
        client.select("INBOX")
        client.uid("COPY", "1:*", "Saved")
        out = self.server.run("privacy", "erase", "--mailbox", ALICE).stdout
        self.assertIn("erased folder Saved", out)
        self.assertIn("erased the account", out)
        self.assertEqual(self.server.run("mailbox", "show", ALICE, check=False).returncode, 1)
        self.assertEqual(self.server.stored_messages(), [])
        with self.assertRaises(imaplib.IMAP4.error):
            imaplib.IMAP4("127.0.0.1", self.server.imap_port).login(ALICE, PASSWORD)

    def test_4_log_holds_no_caller_numbers(self):
        time.sleep(0.2)
        log = self.server.log_path.read_text()
        self.assertIn("+15****23", log)
        for number in (CALLER, OTHER, ALICE, BOB):
            self.assertNotIn(number, log)


if __name__ == "__main__":
    unittest.main()
