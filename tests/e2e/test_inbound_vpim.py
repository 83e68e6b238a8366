"""VPIM written by another voice-mail system arrives over SMTP and is stored
with its original parts plus a playable WAV (delivery/ policy wired into
local delivery); the stored message still validates."""
import email
import email.policy
import imaplib
import smtplib
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, SOURCE_DIR, Umstore  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "inbound password"
FOREIGN = SOURCE_DIR / "tests" / "data" / "mime" / "foreign"


def crlf(path):
    return path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class InboundVpimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore()
        cls.server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def send(self, raw):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=30) as smtp:
            smtp.ehlo("vm2.example.org")
            return smtp.sendmail("7720@vm2.example.org", [f"{NUMBER}@{DOMAIN}"], raw)

    def newest(self):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(NUMBER, PASSWORD)
        typ, data = conn.select("INBOX", readonly=True)
        count = int(data[0])
        typ, data = conn.fetch(str(count), "(BODY.PEEK[])")
        conn.logout()
        return data[0][1]

    def test_foreign_vpim_gains_a_playable_wav_and_keeps_its_parts(self):
        original = crlf(FOREIGN / "vpim_other_vendor.eml")
        self.send(original)
        stored = self.newest()
        message = email.message_from_bytes(stored, policy=email.policy.default)
        self.assertEqual(message.get_content_type(), "multipart/mixed")
        types = [p.get_content_type() for p in message.walk()]
        self.assertIn("multipart/voice-message", types)
        self.assertIn("audio/32kadpcm", types)
        wav = next(p for p in message.walk() if p.get_content_type() == "audio/wav")
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            f.write(wav.get_content())
            f.flush()
            info = subprocess.run(["soxi", "-D", f.name], capture_output=True, text=True, check=True)
            self.assertGreater(float(info.stdout), 0.5)
        # Issue 15 item 4: the text a composed message would have, naming the file that is attached.
        text = next(message.iter_parts()).get_content().replace("\r\n", "\n").strip()
        self.assertEqual(wav.get_filename(), "voicemail-Lee_Example-2025-01-14-0912.wav")
        self.assertEqual(text, "Voice message from Lee Example, 0:03, received Tue 14 Jan 2025 09:12 +0100.\n\n"
                               "The recording is attached as voicemail-Lee_Example-2025-01-14-0912.wav.")
        # The original audio/32KADPCM bytes are kept exactly.
        original_msg = email.message_from_bytes(original, policy=email.policy.default)
        original_audio = [p.get_content() for p in original_msg.walk() if p.get_content_type() == "audio/32kadpcm"]
        stored_audio = [p.get_content() for p in message.walk() if p.get_content_type() == "audio/32kadpcm"]
        self.assertEqual(stored_audio, original_audio)

    def test_private_vpim_is_refused_with_554_5_6_0(self):
        original = crlf(FOREIGN / "vpim_other_vendor.eml")
        private = original.replace(b"\r\n\r\n", b"\r\nSensitivity: Private\r\n\r\n", 1)
        with self.assertRaises(smtplib.SMTPDataError) as ctx:
            self.send(private)
        self.assertEqual(ctx.exception.smtp_code, 554)
        self.assertIn(b"5.6.0", ctx.exception.smtp_error)


if __name__ == "__main__":
    unittest.main(verbosity=2)
