"""The first real path end to end: a voicemail WAV and a fax TIFF go through
`umstore ingest` into the running server over SMTP, and come out over IMAP
as a VPIM v2 voice message and an Internet fax message."""
import email
import email.policy
import imaplib
import subprocess
import sys
import tempfile
import unittest
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SAMPLES, Umstore, read_wav_mono16, snr_db  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "correct horse battery staple"
CALLER = "+15550123"


def wav_seconds(path):
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


class FoundationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore()
        cls.server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
        cls.server.add_mailbox("+15550101", "Bob Example", "bob password")
        cls.server.start()
        out = cls.server.ingest("voice", NUMBER, CALLER, SAMPLES / "voicemail.wav", caller_name="Carol Caller")
        assert "via SMTP" in out.stdout, out.stdout
        out = cls.server.ingest("fax", NUMBER, "+15550199", SAMPLES / "fax.tif")
        assert "via SMTP" in out.stdout, out.stdout
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.tmp.cleanup()

    def imap(self):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(NUMBER, PASSWORD)
        return conn

    def fetch_messages(self):
        conn = self.imap()
        try:
            typ, data = conn.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
            self.assertEqual(int(data[0]), 2)
            messages = []
            for seq in (b"1", b"2"):
                typ, data = conn.fetch(seq, "(BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                messages.append(email.message_from_bytes(data[0][1], policy=email.policy.default))
            return messages
        finally:
            conn.logout()

    def voice_and_fax(self):
        messages = self.fetch_messages()
        voice = [m for m in messages if m["Message-Context"] == "voice-message"]
        fax = [m for m in messages if m["Message-Context"] == "fax-message"]
        self.assertEqual(len(voice), 1, "one voice message")
        self.assertEqual(len(fax), 1, "one fax message")
        return voice[0], fax[0]

    def test_voice_message_is_vpim_v2_with_caller(self):
        voice, _ = self.voice_and_fax()
        self.assertEqual(voice.get_content_type(), "multipart/mixed")
        self.assertIn("non-mail-user@" + DOMAIN, voice["From"])
        self.assertEqual(str(voice["Caller-ID"]).split(",")[0], CALLER.lstrip("+"))
        self.assertIn("Carol Caller", str(voice["From"]))
        self.assertTrue(voice["Message-ID"] and voice["Date"] and voice["To"])
        self.assertIn(NUMBER + "@" + DOMAIN, str(voice["To"]))
        self.assertTrue(voice["Received"], "the SMTP server adds Received")
        parts = list(voice.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "multipart/voice-message", "audio/wav"])
        self.assertIn("Carol Caller", parts[0].get_content())
        vpim = parts[1]
        self.assertEqual(vpim.get_param("version"), "2.0")
        adpcm_parts = list(vpim.iter_parts())
        self.assertEqual([p.get_content_type() for p in adpcm_parts], ["audio/32kadpcm"])
        adpcm = adpcm_parts[0]
        self.assertEqual(adpcm.get_content_disposition(), "inline")
        self.assertEqual(adpcm.get_param("voice", header="content-disposition").lower(), "voice-message")
        seconds = wav_seconds(SAMPLES / "voicemail.wav")
        self.assertLessEqual(abs(int(adpcm["Content-Duration"]) - seconds), 1.0)
        # 4000 octets a second of G.726-32.
        self.assertLessEqual(abs(len(adpcm.get_content()) / 4000 - seconds), 0.01)

    def test_adpcm_decodes_with_our_decoder_and_ffmpeg_above_15_db(self):
        voice, _ = self.voice_and_fax()
        adpcm = next(p for p in voice.walk() if p.get_content_type() == "audio/32kadpcm").get_content()
        work = Path(self.tmp.name)
        (work / "msg.726").write_bytes(adpcm)
        reference, rate = read_wav_mono16(SAMPLES / "voicemail.wav")
        if rate != 8000:
            subprocess.run(["sox", str(SAMPLES / "voicemail.wav"), "-r", "8000", str(work / "ref8k.wav")], check=True)
            reference, rate = read_wav_mono16(work / "ref8k.wav")

        self.server.run("convert", str(work / "msg.726"), str(work / "ours.wav"))
        ours, ours_rate = read_wav_mono16(work / "ours.wav")
        self.assertEqual(ours_rate, 8000)
        self.assertGreater(snr_db(reference, ours), 15.0)

        # ffmpeg's g726le demuxer reads the little-endian (RFC 3802) packing.
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "g726le", "-code_size", "4", "-sample_rate",
                        "8000", "-i", str(work / "msg.726"), "-ac", "1", "-c:a", "pcm_s16le",
                        str(work / "ffmpeg.wav")], check=True)
        theirs, _ = read_wav_mono16(work / "ffmpeg.wav")
        self.assertGreater(snr_db(reference, theirs), 15.0)

    def test_playable_wav_plays_in_sox(self):
        voice, _ = self.voice_and_fax()
        wav = next(p for p in voice.walk() if p.get_content_type() == "audio/wav")
        self.assertEqual(wav.get_content_disposition(), "attachment")
        path = Path(self.tmp.name) / "playable.wav"
        path.write_bytes(wav.get_content())
        info = subprocess.run(["soxi", str(path)], capture_output=True, text=True, check=True).stdout
        self.assertIn("16-bit Signed Integer PCM", info)
        self.assertLessEqual(abs(wav_seconds(path) - wav_seconds(SAMPLES / "voicemail.wav")), 0.05)

    def test_fax_message_is_ifax_with_a_valid_tiff(self):
        _, fax = self.voice_and_fax()
        tiff_parts = [p for p in fax.walk() if p.get_content_type() == "image/tiff"]
        self.assertEqual(len(tiff_parts), 1)
        self.assertEqual(tiff_parts[0].get_param("application"), "faxbw")
        path = Path(self.tmp.name) / "fax.tif"
        path.write_bytes(tiff_parts[0].get_content())
        info = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True)
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertEqual(info.stdout.count("Image Width: 1728"), 2, "two pages, 1728 wide")
        self.assertIn("CCITT Group 3", info.stdout)
        self.assertIn("2 pages", str(fax["Subject"]))

    def test_imap_bodystructure_flags_and_expunge(self):
        conn = self.imap()
        try:
            conn.select("INBOX")
            typ, data = conn.fetch("1:*", "(BODYSTRUCTURE)")
            self.assertEqual(typ, "OK")
            text = b" ".join(d if isinstance(d, bytes) else d[0] for d in data).upper()
            self.assertIn(b'"AUDIO" "32KADPCM"', text)
            self.assertIn(b'"VOICE-MESSAGE"', text)
            self.assertIn(b'"IMAGE" "TIFF"', text)
            # Other tests may have read messages (which sets \Seen): start clean.
            conn.store("1:*", "-FLAGS", "(\\Seen)")
            typ, data = conn.search(None, "UNSEEN")
            self.assertEqual(data[0].split(), [b"1", b"2"])
            conn.store("1", "+FLAGS", "(\\Seen)")
            typ, data = conn.search(None, "UNSEEN")
            self.assertEqual(data[0].split(), [b"2"])
            # A third message, appended then deleted and expunged; the two stay.
            typ, data = conn.append("INBOX", None, None, b"Subject: scratch\r\n\r\nbody\r\n")
            self.assertEqual(typ, "OK")
            conn.store("3", "+FLAGS", "(\\Deleted)")
            typ, data = conn.expunge()
            self.assertEqual(data, [b"3"])
            typ, data = conn.search(None, "ALL")
            self.assertEqual(data[0].split(), [b"1", b"2"])
            # Another mailbox is invisible from this login.
            typ, data = conn.list()
            self.assertFalse(any(b"+15550101" in line for line in data))
        finally:
            conn.logout()

    def test_curl_lists_and_fetches_the_voicemail(self):
        base = f"imap://127.0.0.1:{self.server.imap_port}"
        auth = ["--user", f"{NUMBER}:{PASSWORD}"]
        listing = subprocess.run(["curl", "-s", *auth, base + "/"], capture_output=True, text=True, timeout=60)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertIn("INBOX", listing.stdout)
        structure = subprocess.run(["curl", "-s", *auth, base + "/INBOX", "-X", "FETCH 1:* BODYSTRUCTURE"],
                                   capture_output=True, text=True, timeout=60)
        self.assertEqual(structure.returncode, 0, structure.stderr)
        self.assertIn("32KADPCM", structure.stdout.upper())
        self.assertIn("TIFF", structure.stdout.upper())
        message = subprocess.run(["curl", "-s", *auth, base + "/INBOX;UID=1"], capture_output=True, timeout=60)
        self.assertEqual(message.returncode, 0)
        self.assertIn(b"Message-Context: voice-message", message.stdout)

    def test_wrong_password_and_other_users_mailbox_are_refused(self):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        with self.assertRaises(imaplib.IMAP4.error):
            conn.login(NUMBER, "wrong")
        conn.logout()
        bob = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        bob.login("+15550101", "bob password")
        typ, data = bob.select("INBOX")
        self.assertEqual(int(data[0]), 0, "Bob sees none of Alice's messages")
        typ, _ = bob.select("../+15550100/INBOX")
        self.assertEqual(typ, "NO")
        bob.logout()


if __name__ == "__main__":
    unittest.main(verbosity=2)
