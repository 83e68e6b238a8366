"""Full-text search over real IMAP (Python imaplib): SEARCH TEXT and BODY
over a mailbox of a few thousand generated messages (tests/e2e/fts_corpus.py:
charsets, transfer encodings, words only in a base64 text part two
multiparts deep, RFC 2047 subjects) give exactly the UIDs an independent
reference finds (Python's email package decoding every message), with the
Maildir backend's index narrowing the search; after EXPUNGE the hits go;
after the index directory is deleted under the running server, and after
`umstore index rebuild`, the answers are still the same. On PostgreSQL
(e2e_pg_test_fts) the same answers come through the pg_trgm index (its
scans counted by the server's statistics), also for bodies stored without
text (as before migration 5), which a search fills."""
import imaplib
import os
import re
import shutil
import sys
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fts_corpus import corpus, reference_search, searchable  # noqa: E402
from umstore_harness import PG_DSN, Umstore, psql  # noqa: E402

USER = "+15550100"
PASSWORD = "full-text-secret"
COUNT = int(os.environ.get("FTS_MESSAGES", "3000"))
PG = bool(PG_DSN)
APPENDERS = 4
NEEDLES = ["zebracorn", "ZebraCorn", "ebraco", "brontosaurus", "xylophonist", "Transcript:", "café",
           "CAFÉ crème", "naïve façade", "smörgåsbord", "Übermorgen", "“quoted”", "Grüße", "grüße 4",
           "caller17@example.com", "Message 2999", "contract", "r mor", "see attachment", "voice.726", "ab", "q",
           "call back about", "nothing-like-this"]


class FullTextSearch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore().start()
        cls.server.add_mailbox(USER, "Full Text", PASSWORD)
        cls.messages = corpus(COUNT)
        cls.texts = [searchable(m) for m in cls.messages]
        cls.uids = [0] * COUNT

        def append(positions):  # one connection each: the appends wait for the disk side by side
            client = imaplib.IMAP4("127.0.0.1", cls.server.imap_port)
            client.login(USER, PASSWORD)
            for i in positions:
                typ, data = client.append("INBOX", None, None, cls.messages[i])
                assert typ == "OK", data
                cls.uids[i] = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
            client.logout()

        with ThreadPoolExecutor(APPENDERS) as pool:
            list(pool.map(append, [range(n, COUNT, APPENDERS) for n in range(APPENDERS)]))
        cls.imap = imaplib.IMAP4("127.0.0.1", cls.server.imap_port)
        cls.imap.login(USER, PASSWORD)
        cls.imap.select("INBOX")
        cls.present = set(cls.uids)
        cls.index_dir = cls.server.data_dir / "mail" / USER / "INBOX" / "umstore-fts"

    @classmethod
    def tearDownClass(cls):
        cls.imap.logout()
        cls.server.close()

    def search(self, key, needle):
        if needle.isascii():
            typ, data = self.imap.uid("SEARCH", key, '"' + needle + '"')
        else:
            self.imap.literal = needle.encode("utf-8")
            typ, data = self.imap.uid("SEARCH", "CHARSET", "UTF-8", key)
        self.assertEqual(typ, "OK", data)
        return sorted(int(n) for n in data[0].split())

    def expected(self, needle, with_header):
        return sorted(uid for uid in (self.uids[i - 1] for i in reference_search(self.texts, needle, with_header))
                      if uid in self.present)

    def sql(self, statement):
        return psql(self.server.store_dsn, statement).strip()

    def trigram_index_scans(self):
        return int(self.sql("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes "
                            "WHERE indexrelname = 'bodies_search_text'"))

    def assert_trigram_index_used(self, scans_before):
        # A server process reports its statistics within seconds of going idle.
        deadline = time.monotonic() + 30
        while self.trigram_index_scans() <= scans_before and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertGreater(self.trigram_index_scans(), scans_before, "the searches did not use the trigram index")

    def check_every_needle(self):
        hits = {}
        for needle in NEEDLES:
            for key, with_header in (("TEXT", True), ("BODY", False)):
                got = self.search(key, needle)
                self.assertEqual(got, self.expected(needle, with_header), f"SEARCH {key} {needle!r}")
                hits[key, needle] = len(got)
        return hits

    def test_1_search_gives_the_reference_uids(self):
        if PG:
            self.assertEqual(self.sql("SELECT to_regclass('bodies_search_text') IS NOT NULL"), "t")
            # The planner picks the trigram index once it has statistics of the
            # 3,000 new rows, which autovacuum gathers within a minute (its
            # naptime); the test does not wait that long.
            self.sql("ANALYZE bodies, messages")
            scans_before = self.trigram_index_scans()
        else:
            self.assertTrue(self.index_dir.is_dir(), "the Maildir backend keeps an index")
        hits = self.check_every_needle()
        if PG:
            self.assert_trigram_index_used(scans_before)
        # The corpus puts these where only decoding finds them: not a vacuous comparison.
        for key, needle in (("BODY", "zebracorn"), ("BODY", "café"), ("BODY", "“quoted”"), ("TEXT", "Grüße"),
                            ("BODY", "Transcript:"), ("TEXT", "caller17@example.com")):
            self.assertGreater(hits[key, needle], 0, f"{key} {needle}")
        self.assertEqual(hits["BODY", "Grüße"], 0)  # only in subjects
        self.assertEqual(hits["BODY", "nothing-like-this"], 0)

    def test_2_expunged_messages_are_no_longer_found(self):
        doomed = self.search("BODY", "zebracorn")[::2]
        self.assertTrue(doomed)
        self.imap.uid("STORE", ",".join(map(str, doomed)), "+FLAGS.SILENT", r"(\Deleted)")
        self.imap.expunge()
        self.present -= set(doomed)
        found = self.search("BODY", "zebracorn")
        self.assertFalse(set(found) & set(doomed))
        self.assertEqual(found, self.expected("zebracorn", False))
        self.check_every_needle()

    @unittest.skipIf(PG, "the PostgreSQL backend keeps no index directory")
    def test_3_a_deleted_index_changes_no_answer(self):
        shutil.rmtree(self.index_dir)
        self.check_every_needle()
        self.assertTrue(self.index_dir.is_dir(), "the search built the index again")

    @unittest.skipUnless(PG, "bodies.search_text is the PostgreSQL backend's")
    def test_3_bodies_without_text_are_filled_by_a_search(self):
        self.sql("UPDATE bodies SET search_text = NULL")  # as migration 5 leaves the bodies stored before it
        self.check_every_needle()
        self.assertEqual(self.sql("SELECT count(*) FROM bodies WHERE search_text IS NULL"), "0")

    def test_4_index_rebuild_while_serving(self):
        result = self.server.run("index", "rebuild", USER)
        self.assertIn(f"{USER} INBOX: {len(self.present)} messages indexed", result.stdout)
        self.check_every_needle()
        refused = self.server.run("index", "rebuild", "+15559999", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("no account", refused.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
