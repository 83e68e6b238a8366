"""Gateway ingest through the real `umstore serve`: the HTTP API driven with
curl (every endpoint, error cases, idempotent retries, status), the spool
directory (complete pairs, a half-written file, a file without metadata, a
corrupt file, a restart in the middle), routing rules and /metrics."""
import imaplib
import json
import os
import shutil
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SAMPLES, Umstore, gateway_api, job_outcome  # noqa: E402

ALICE = "+4930123150"
BOB = "+15550100"
CATCH_ALL = "+15550199"
PASSWORD = "secret one"
TOKEN = "gw-one-token-0123456789"
OTHER_TOKEN = "gw-two-token-0123456789"
VOICE = SAMPLES / "voicemail.wav"
FAX = SAMPLES / "fax.tif"

CONFIG = f"""
[umstore]
domain = {DOMAIN}

[gateways]
gw1 = {TOKEN}
gw2 = {OTHER_TOKEN}

[routing]
country_code = 49
national_prefix = 0
international_prefix = 00
extensions = 100-199=+4930123
"""


def curl(port, path, *args, token=TOKEN):
    return gateway_api(port, path, *args, token=token)


def inbox(server, number):
    conn = imaplib.IMAP4("127.0.0.1", server.imap_port)
    conn.login(number, PASSWORD)
    typ, data = conn.select("INBOX", readonly=True)
    count = int(data[0])
    messages = []
    if count:
        typ, data = conn.fetch("1:*", "(BODY.PEEK[HEADER])")
        messages = [part[1].decode() for part in data if isinstance(part, tuple)]
    conn.logout()
    return messages


def wait_for(predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class IngestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore(config_text=CONFIG)
        cls.server.add_mailbox(ALICE, "Alice Example", PASSWORD)
        cls.server.add_mailbox(BOB, "Bob Example", PASSWORD)
        cls.server.start()
        cls.spool = Path(cls.server.info["spool"])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def final_status(self, message_id, token=TOKEN):
        return job_outcome(self.server.http_port, message_id, token)

    # -- HTTP API ---------------------------------------------------------
    def test_multipart_voicemail_is_delivered_and_visible_over_imap(self):
        before = len(inbox(self.server, ALICE))
        code, body = curl(self.server.http_port, "/v1/voicemail", "-F", f"file=@{VOICE};type=audio/wav",
                          "-F", "to=150", "-F", "from=+15550123", "-F", "caller_name=Carol Caller",
                          "-F", "received_at=2024-05-01T10:00:00Z")
        self.assertEqual(code, 202, body)
        self.assertEqual(body["status"], "queued")
        final = self.final_status(body["id"])
        self.assertEqual(final["status"], "delivered", final)
        self.assertEqual(final["mailbox"], ALICE)
        headers = inbox(self.server, ALICE)
        self.assertEqual(len(headers), before + 1)
        self.assertIn(f"X-Umstore-Ingest-Id: {body['id']}", headers[-1])
        self.assertIn("Received: from http:gw1", headers[-1])
        self.assertIn("Carol Caller", headers[-1])

    def test_chunked_multipart_voicemail_is_delivered(self):
        # curl sends the form in chunks (RFC 9112 §7.1), with no Content-Length.
        trace = self.server.work / "chunked-upload.trace"
        code, body = curl(self.server.http_port, "/v1/voicemail", "--trace-ascii", str(trace),
                          "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
                          "-F", f"file=@{VOICE};type=audio/wav", "-F", f"to={BOB}", "-F", "from=+15550123")
        sent_head = trace.read_text().split("=> Send data")[0]
        self.assertIn("Transfer-Encoding: chunked", sent_head)
        self.assertNotIn("Content-Length", sent_head)
        self.assertEqual(code, 202, body)
        final = self.final_status(body["id"])
        self.assertEqual(final["status"], "delivered", final)
        self.assertEqual(final["mailbox"], BOB)

    def test_raw_fax_with_metadata_headers(self):
        code, body = curl(self.server.http_port, "/v1/fax", "--data-binary", f"@{FAX}",
                          "-H", "Content-Type: image/tiff", "-H", "X-Umstore-To: 0049 30 123 150",
                          "-H", "X-Umstore-From: +15550123")
        self.assertEqual(code, 202, body)
        final = self.final_status(body["id"])
        self.assertEqual(final["status"], "delivered", final)
        self.assertEqual(final["kind"], "fax")

    def test_retry_with_the_same_idempotency_key_makes_one_message(self):
        args = ["-F", f"file=@{VOICE}", "-F", f"to={BOB}", "-H", "Idempotency-Key: call-4711"]
        before = len(inbox(self.server, BOB))
        code1, first = curl(self.server.http_port, "/v1/voicemail", *args)
        code2, second = curl(self.server.http_port, "/v1/voicemail", *args)
        self.assertEqual((code1, code2), (202, 202))
        self.assertEqual(first["id"], second["id"])
        self.assertTrue(second.get("duplicate"))
        self.final_status(first["id"])
        # the same key from another gateway is another message
        code3, third = curl(self.server.http_port, "/v1/voicemail", *args, token=OTHER_TOKEN)
        self.assertEqual(code3, 202)
        self.assertNotEqual(third["id"], first["id"])
        self.final_status(third["id"], token=OTHER_TOKEN)
        self.assertEqual(len(inbox(self.server, BOB)), before + 2)

    def test_corrupt_wav_fails_with_a_reason(self):
        path = self.server.work / "corrupt.wav"
        path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk")
        code, body = curl(self.server.http_port, "/v1/voicemail", "-F", f"file=@{path}", "-F", f"to={BOB}")
        self.assertEqual(code, 202, body)
        final = self.final_status(body["id"])
        self.assertEqual(final["status"], "failed")
        self.assertTrue(final["reason"])

    def test_errors(self):
        port = self.server.http_port
        code, body = curl(port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}", token=None)
        self.assertEqual(code, 401)
        code, body = curl(port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}", token="wrong-token-xxxxxxxx")
        self.assertEqual(code, 401)
        self.assertIn("error", body)
        code, body = curl(port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", "to=+4930999999")
        self.assertEqual(code, 422)
        self.assertIn("+4930999999", body["error"])
        code, body = curl(port, "/v1/voicemail", "-F", f"file=@{FAX}", "-F", f"to={BOB}")
        self.assertEqual(code, 415, body)
        code, body = curl(port, "/v1/fax", "-F", f"file=@{VOICE}", "-F", f"to={BOB}")
        self.assertEqual(code, 415, body)
        code, body = curl(port, "/v1/voicemail", "-F", f"to={BOB}")
        self.assertEqual(code, 400, body)
        code, body = curl(port, "/v1/voicemail", "-F", f"file=@{VOICE}")
        self.assertEqual(code, 400, body)
        self.assertIn("to", body["error"])
        code, body = curl(port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}", "-F", "received_at=yesterday")
        self.assertEqual(code, 400, body)
        code, body = curl(port, "/v1/messages/doesnotexist")
        self.assertEqual(code, 404, body)
        code, body = curl(port, "/v1/voicemail", "-X", "GET")
        self.assertEqual(code, 405, body)
        big = self.server.work / "big.wav"
        with open(big, "wb") as f:
            f.write(b"RIFF")
            f.truncate(65 << 20)
        code, body = curl(port, "/v1/voicemail", "--data-binary", f"@{big}", "-H", f"X-Umstore-To: {BOB}")
        self.assertEqual(code, 413, body)

    def test_other_gateways_cannot_see_a_status(self):
        code, body = curl(self.server.http_port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}")
        self.assertEqual(code, 202)
        code, _ = curl(self.server.http_port, f"/v1/messages/{body['id']}", token=OTHER_TOKEN)
        self.assertEqual(code, 404)

    def test_healthz_and_metrics(self):
        code, body = curl(self.server.http_port, "/healthz", token=None)
        self.assertEqual((code, body), (200, {"status": "ok"}))
        code, body = curl(self.server.http_port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}")
        self.final_status(body["id"])
        code, text = curl(self.server.http_port, "/metrics", token=None)
        self.assertEqual(code, 200)
        for name in ("umstore_ingest_accepted_total", "umstore_ingest_delivered_total", "umstore_ingest_failed_total",
                     "umstore_ingest_queue_depth", "umstore_ingest_latency_seconds_count"):
            self.assertIn(name, text)
        delivered = [line for line in text.splitlines() if line.startswith("umstore_ingest_delivered_total ")]
        self.assertGreaterEqual(int(delivered[0].split()[1]), 1)

    # -- spool ------------------------------------------------------------
    def drop(self, name, source, metadata):
        """A gateway's protocol: write elsewhere, rename into incoming/."""
        staging = self.spool / "staging"
        staging.mkdir(exist_ok=True)
        shutil.copy(source, staging / name)
        os.rename(staging / name, self.spool / "incoming" / name)
        if metadata is not None:
            (staging / (name + ".json")).write_text(json.dumps(metadata))
            os.rename(staging / (name + ".json"), self.spool / "incoming" / (name + ".json"))

    def test_spool_pair_goes_to_done(self):
        before = len(inbox(self.server, BOB))
        self.drop("vm1.wav", VOICE, {"to": BOB, "from": "+15550123", "kind": "voice", "id": "vm1"})
        wait_for(lambda: (self.spool / "done" / "vm1.wav").exists() and (self.spool / "done" / "vm1.wav.json").exists())
        self.assertFalse((self.spool / "incoming" / "vm1.wav").exists())
        self.assertEqual(len(inbox(self.server, BOB)), before + 1)

    def test_spool_file_without_metadata_is_never_taken(self):
        self.drop("lonely.wav", VOICE, None)
        time.sleep(1.5)
        self.assertTrue((self.spool / "incoming" / "lonely.wav").exists())

    def test_spool_half_written_file_waits_until_closed(self):
        incoming = self.spool / "incoming"
        data = VOICE.read_bytes()
        before = len(inbox(self.server, BOB))
        with open(incoming / "half.wav", "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            (incoming / "half.wav.json").write_text(json.dumps({"to": BOB}))
            time.sleep(1.5)
            self.assertTrue((incoming / "half.wav").exists(), "taken while still being written")
            f.write(data[len(data) // 2:])
        wait_for(lambda: (self.spool / "done" / "half.wav").exists())
        self.assertEqual(len(inbox(self.server, BOB)), before + 1)

    def test_spool_corrupt_file_and_unknown_number_go_to_failed(self):
        bad = self.server.work / "bad.wav"
        bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk")
        self.drop("bad.wav", bad, {"to": BOB})
        self.drop("nobody.wav", VOICE, {"to": "+4930999999"})
        self.drop("notjson.wav", VOICE, None)
        (self.spool / "incoming" / "notjson.wav.json").write_text("{not json")
        for name in ("bad.wav", "nobody.wav", "notjson.wav"):
            wait_for(lambda n=name: (self.spool / "failed" / (n + ".error")).exists())
            self.assertTrue((self.spool / "failed" / name).exists())
        self.assertIn("+4930999999", (self.spool / "failed" / "nobody.wav.error").read_text())


class SpoolRestartTest(unittest.TestCase):
    def test_files_dropped_while_stopped_are_taken_at_start_once(self):
        with Umstore(config_text=CONFIG) as server:
            server.add_mailbox(BOB, "Bob Example", PASSWORD)
            server.start()
            spool = Path(server.info["spool"])
            server.stop()
            for i in range(5):
                shutil.copy(VOICE, spool / "incoming" / f"r{i}.wav")
                (spool / "incoming" / f"r{i}.wav.json").write_text(json.dumps({"to": BOB, "id": f"r{i}"}))
            server.start()
            wait_for(lambda: all((spool / "done" / f"r{i}.wav").exists() for i in range(5)))
            # dropping the same ids again (a gateway retrying) makes no new messages
            for i in range(5):
                shutil.copy(VOICE, spool / "incoming" / f"again{i}.wav")
                (spool / "incoming" / f"again{i}.wav.json").write_text(json.dumps({"to": BOB, "id": f"r{i}"}))
            wait_for(lambda: all((spool / "done" / f"again{i}.wav").exists() for i in range(5)))
            self.assertEqual(len(inbox(server, BOB)), 5)

    def test_sigkill_with_queued_jobs_loses_and_duplicates_nothing(self):
        with Umstore(config_text=CONFIG) as server:
            server.add_mailbox(BOB, "Bob Example", PASSWORD)
            server.start()
            ids = []
            for i in range(20):
                code, body = curl(server.http_port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}",
                                  "-H", f"Idempotency-Key: k{i}")
                self.assertEqual(code, 202)
                ids.append(body["id"])
            server.stop(sig=9)
            server.start()
            for i in range(20):  # the gateway retries everything it is unsure about
                code, body = curl(server.http_port, "/v1/voicemail", "-F", f"file=@{VOICE}", "-F", f"to={BOB}",
                                  "-H", f"Idempotency-Key: k{i}")
                self.assertEqual(body["id"], ids[i])
            for message_id in ids:
                wait_for(lambda m=message_id: curl(server.http_port, f"/v1/messages/{m}")[1]["status"] == "delivered")
            headers = inbox(server, BOB)
            self.assertEqual(len(headers), 20)
            found = sorted(h.split("X-Umstore-Ingest-Id: ")[1].split()[0] for h in headers)
            self.assertEqual(found, sorted(ids))


if __name__ == "__main__":
    unittest.main(verbosity=2)
