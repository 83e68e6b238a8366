"""Ingest decodes uploads in confined worker processes (umstore-decode,
[ingest] sandbox): through the real `umstore serve` and its HTTP API, a
voicemail and a fax come out the same as decoded in-process; a fax that
would cost minutes of CPU, one over the pixel budget and a recording whose
8 kHz samples alone pass the memory limit fail naming the limit and key,
keep their original files, and do not hold up a voicemail sent after them;
stopping the server kills a decode in progress and leaves its job queued
for the restart."""
import email
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SAMPLES, UMSTORE, Umstore, wait_for  # noqa: E402

BOB = "+15550100"
TOKEN = "gw-one-token-0123456789"
VOICE = SAMPLES / "voicemail.wav"
FAX = SAMPLES / "fax.tif"


def config(ingest=""):
    return f"[umstore]\ndomain = {DOMAIN}\n[gateways]\ngw1 = {TOKEN}\n[ingest]\n{ingest}\n"


def white_g4_tiff(pages, width=4864, length=20000):
    """All-white G4 pages at the default page-size limits: a few KiB each that
    cost the converter about a second of CPU each (issue #19, item 6). An
    all-white G4 row under an all-white one is the single bit 1."""
    strip = b"\xff" * (length // 8) + b"\x00\x10\x01\x00\x10\x01"
    out = bytearray(b"II*\x00" + (8).to_bytes(4, "little"))
    entries = 12
    for page in range(pages):
        ifd = len(out)
        resolution = ifd + 2 + entries * 12 + 4
        data = resolution + 16
        following = data + len(strip) if page + 1 < pages else 0
        tags = [(256, 4, width), (257, 4, length), (258, 3, 1), (259, 3, 4), (262, 3, 0), (273, 4, data),
                (277, 3, 1), (278, 4, length), (279, 4, len(strip)), (282, 5, resolution), (283, 5, resolution + 8),
                (296, 3, 2)]
        out += entries.to_bytes(2, "little")
        for tag, kind, value in tags:
            out += tag.to_bytes(2, "little") + kind.to_bytes(2, "little") + (1).to_bytes(4, "little")
            out += value.to_bytes(4, "little")
        out += following.to_bytes(4, "little")
        out += ((408).to_bytes(4, "little") + (1).to_bytes(4, "little")) * 2
        out += strip
    return bytes(out)


def post(server, endpoint, path, content_type):
    r = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {TOKEN}",
                        "-F", f"file=@{path};type={content_type}", "-F", f"to={BOB}", "-F", "from=+15550123",
                        f"http://127.0.0.1:{server.http_port}{endpoint}"], capture_output=True, text=True, timeout=60)
    body, _, code = r.stdout.rpartition("\n")
    assert code == "202", r.stdout + r.stderr
    return json.loads(body)["id"]


def status(server, job_id):
    r = subprocess.run(["curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}",
                        f"http://127.0.0.1:{server.http_port}/v1/messages/{job_id}"],
                       capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout)


def final_status(server, job_id, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        s = status(server, job_id)
        if s["status"] != "queued":
            return s
        time.sleep(0.1)
    raise AssertionError(f"{job_id} still queued after {seconds} s")


def decoders(server_pid):
    """The decoders running for a server: the children of its fork servers."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(text.split()[0])] = int(text.rsplit(")", 1)[1].split()[1])
    fork_servers = {pid for pid, parent in parents.items() if parent == server_pid}
    return [pid for pid, parent in parents.items() if parent in fork_servers]


def media_parts(message_bytes):
    """The decoded payloads of the audio/32KADPCM and image/tiff parts."""
    message = email.message_from_bytes(message_bytes)
    return {part.get_content_type(): part.get_payload(decode=True) for part in message.walk()
            if part.get_content_type() in ("audio/32kadpcm", "image/tiff")}


class IngestSandboxTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="umstore-sandbox-")
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def serve(self, ingest):
        server = Umstore(config(ingest)).start()
        self.addCleanup(server.close)
        server.add_mailbox(BOB, "Bob", "pw-bob-1")
        return server

    def delivered_media(self, server):
        ids = [post(server, "/v1/voicemail", VOICE, "audio/wav"), post(server, "/v1/fax", FAX, "image/tiff")]
        for job_id in ids:
            self.assertEqual(final_status(server, job_id)["status"], "delivered")
        parts = {}
        for message in server.stored_messages():
            parts.update(media_parts(message))
        return parts

    def test_voice_and_fax_come_out_as_decoded_in_process(self):
        confined = self.delivered_media(self.serve(""))
        in_process = self.delivered_media(self.serve("sandbox = false"))
        self.assertEqual(set(confined), {"audio/32kadpcm", "image/tiff"})
        self.assertEqual(confined, in_process)

    def test_a_fax_over_the_cpu_limit_fails_naming_it_keeps_its_file_and_holds_up_nothing(self):
        server = self.serve("decode_cpu_seconds = 1")
        white = self.dir / "white.tif"
        white.write_bytes(white_g4_tiff(8))
        # Both workers busy with a costly fax, then a voicemail behind them.
        faxes = [post(server, "/v1/fax", white, "image/tiff") for _ in range(2)]
        voice = post(server, "/v1/voicemail", VOICE, "audio/wav")
        self.assertEqual(final_status(server, voice, seconds=60)["status"], "delivered")
        for job_id in faxes:
            failed = final_status(server, job_id)
            self.assertEqual(failed["status"], "failed")
            self.assertEqual(failed["reason"],
                             "white.tif: decoding exceeded the CPU limit of 1 s ([ingest] decode_cpu_seconds)")
            self.assertEqual((server.data_dir / "ingest" / "failed" / job_id).read_bytes(), white.read_bytes())

    def test_a_recording_over_the_memory_limit_fails_naming_it_and_keeps_its_file(self):
        if not shutil.which("sox"):
            self.skipTest("sox is not installed")
        server = self.serve("decode_memory_mb = 32")
        # Half an hour of 48 kHz silence: a small FLAC whose 8 kHz samples alone take 29 MB.
        silence = self.dir / "silence.flac"
        subprocess.run(["sox", "-D", "-n", "-r", "48000", "-c", "1", "-b", "16", str(silence), "trim", "0", "1800"],
                       check=True, timeout=120)
        big = post(server, "/v1/voicemail", silence, "audio/flac")
        voice = post(server, "/v1/voicemail", VOICE, "audio/wav")
        failed = final_status(server, big)
        self.assertEqual(failed["status"], "failed")
        self.assertEqual(failed["reason"],
                         "silence.flac: decoding exceeded the memory limit of 32 MiB ([ingest] decode_memory_mb)")
        self.assertEqual((server.data_dir / "ingest" / "failed" / big).read_bytes(), silence.read_bytes())
        self.assertEqual(final_status(server, voice)["status"], "delivered")

    def test_a_fax_over_the_pixel_budget_fails_before_it_is_decoded(self):
        server = self.serve("")
        white = self.dir / "white.tif"
        white.write_bytes(white_g4_tiff(200))  # 35 KB, 19 billion pixels
        fax = post(server, "/v1/fax", white, "image/tiff")
        failed = final_status(server, fax, seconds=20)
        self.assertEqual(failed["status"], "failed")
        self.assertEqual(failed["reason"], "white.tif: TIFF: 11 pages of 1070080000 pixels exceed the limit of "
                                           "1000000000 pixels ([codecs] max_fax_pixels)")
        self.assertEqual((server.data_dir / "ingest" / "failed" / fax).read_bytes(), white.read_bytes())

    def test_stopping_the_server_kills_a_running_decode_and_the_job_stays_queued(self):
        # 40 white pages under a raised pixel budget: about 40 s of CPU to decode.
        server = self.serve("decode_cpu_seconds = 600\ndecode_wall_seconds = 600\n[codecs]\nmax_fax_pixels = 4000000000")
        white = self.dir / "white.tif"
        white.write_bytes(white_g4_tiff(40))
        fax = post(server, "/v1/fax", white, "image/tiff")
        wait_for(lambda: decoders(server.process.pid), "the fax's decoder to start")
        running = decoders(server.process.pid)
        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
        self.assertLess(time.monotonic() - stopping, 10, "the server waited for the decoder")
        self.assertEqual(server.process.returncode, 0, server.log_path.read_text())
        self.assertFalse([pid for pid in running if Path(f"/proc/{pid}").exists()], "the decoder was killed")
        self.assertIn("stays queued: the server stopped while it was decoded", server.log_path.read_text())
        server.log.close()
        server.start()
        self.assertEqual(status(server, fax)["status"], "queued")
        self.assertFalse((server.data_dir / "ingest" / "failed" / fax).exists())
        wait_for(lambda: decoders(server.process.pid), "the fax to be decoded again after the restart")

    def test_a_limit_of_zero_is_a_config_error(self):
        conf = self.dir / "bad.conf"
        conf.write_text(config("decode_cpu_seconds = 0"))
        r = subprocess.run([UMSTORE, "serve", "--config", str(conf), "--data-dir", str(self.dir / "data")],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("[ingest] decode_cpu_seconds", r.stderr)


if __name__ == "__main__":
    unittest.main()
