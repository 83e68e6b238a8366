"""Voice and fax forms per mailbox and per destination, end to end:
- `umstore mailbox set` asks for MP3, fax PDFs and filing by kind; VPIM and
  an Internet fax sent over SMTP land in "Voicemail" and "Fax" (IMAP LIST)
  with the MP3 (decoded by ffmpeg) and the PDF (pdfinfo) next to the
  original parts;
- Asterisk-style voicemail emails ([gateway_email.NAME]) with PCM, mu-law
  and GSM WAV attachments become VPIM messages;
- relayed messages take the form of their destination ([relay] profiles):
  pure VPIM for a VPIM peer, audio/basic for an IVM peer.
Every stored or relayed message passes `umstore validate` without errors."""
import email
import json
import email.policy
import imaplib
import re
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from smtp_sink import SmtpSink  # noqa: E402
from umstore_harness import DOMAIN, SAMPLES, SOURCE_DIR, Umstore  # noqa: E402

FORMS = "+15550100"
PLAIN = "+15550101"
PASSWORD = "forms password"
TOKEN = "forms-gateway-token-0123456789"
FOREIGN = SOURCE_DIR / "tests" / "data" / "mime" / "foreign"


def crlf(path):
    return path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def types_of(message):
    return [p.get_content_type() for p in message.walk()]


def part(message, content_type):
    return next(p for p in message.walk() if p.get_content_type() == content_type)


class VpimFormsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = SmtpSink()
        config = f"""
[smtp]
smarthost = 127.0.0.1:{cls.sink.port}
trusted_networks = 127.0.0.1/32
retry_base = 1

[gateway_email.asterisk]
senders = @pbx.example.org
recipients = @{DOMAIN}, voicemail@{DOMAIN}
utc_offset = +0100   ; the PBX's zone (a comment after the value)

[gateways]
gw1 = {TOKEN}

[relay]
profiles = vpim.example.org=vpim, ivm.example.net=ivm, *=playable
"""
        cls.server = Umstore(config)
        cls.server.add_mailbox(FORMS, "Alice Example", PASSWORD)
        cls.server.add_mailbox(PLAIN, "Bob Example", PASSWORD)
        cls.server.run("mailbox", "set", FORMS, "--playable", "mp3", "--fax-pdf", "yes", "--file-by-kind", "yes")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.sink.listener.close()

    def send(self, raw, to, sender="7720@vm2.example.org"):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, timeout=60) as smtp:
            smtp.ehlo("client.example.org")
            smtp.sendmail(sender, [to], raw)

    def fetch_newest(self, number, folder):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(number, PASSWORD)
        typ, data = conn.select(f'"{folder}"', readonly=True)
        self.assertEqual(typ, "OK", f"{folder}: {data}")
        count = int(data[0])
        self.assertGreater(count, 0, f"{folder} is empty")
        typ, data = conn.fetch(str(count), "(BODY.PEEK[])")
        conn.logout()
        return data[0][1]

    def folders(self, number):
        conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        conn.login(number, PASSWORD)
        typ, data = conn.list()
        conn.logout()
        return [line.decode().rsplit(" ", 1)[-1].strip('"') for line in data]

    def assert_valid(self, raw):
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(raw)
            f.flush()
            result = self.server.run("validate", f.name, check=False)
        self.assertIn(result.returncode, (0, 1), result.stdout + result.stderr)

    def test_mailbox_settings_are_shown(self):
        shown = self.server.run("mailbox", "show", FORMS).stdout
        self.assertRegex(shown, r"playable:\s+mp3")
        self.assertRegex(shown, r"fax-pdf:\s+yes")
        self.assertRegex(shown, r"file-by-kind:\s+yes")
        listed = self.server.run("mailbox", "list").stdout
        self.assertRegex(listed, re.escape(FORMS) + r".*mp3\s+yes\s+yes")
        self.assertRegex(listed, re.escape(PLAIN) + r".*wav\s+no\s+no")
        bad = self.server.run("mailbox", "set", FORMS, "--playable", "ogg", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("wav, mp3 or none", bad.stderr)

    def test_voicemail_is_filed_with_an_mp3_and_fax_with_a_pdf(self):
        vpim = crlf(FOREIGN / "vpim_other_vendor.eml")
        fax = crlf(FOREIGN / "ifax_profile_s.eml")
        self.send(vpim, f"{FORMS}@{DOMAIN}")
        self.send(fax, f"{FORMS}@{DOMAIN}")
        folders = self.folders(FORMS)
        self.assertIn("Voicemail", folders)
        self.assertIn("Fax", folders)

        stored = self.fetch_newest(FORMS, "Voicemail")
        self.assert_valid(stored)
        message = email.message_from_bytes(stored, policy=email.policy.default)
        self.assertEqual(message.get_content_type(), "multipart/mixed")
        self.assertIn("multipart/voice-message", types_of(message))
        self.assertNotIn("audio/wav", types_of(message))
        original = email.message_from_bytes(vpim, policy=email.policy.default)
        self.assertEqual([p.get_content() for p in message.walk() if p.get_content_type() == "audio/32kadpcm"],
                         [p.get_content() for p in original.walk() if p.get_content_type() == "audio/32kadpcm"])
        with tempfile.TemporaryDirectory() as tmp:
            mp3 = Path(tmp) / "voicemail.mp3"
            mp3.write_bytes(part(message, "audio/mpeg").get_content())
            decoded = Path(tmp) / "decoded.wav"
            subprocess.run(["ffmpeg", "-v", "error", "-i", str(mp3), "-ar", "8000", "-ac", "1", str(decoded)],
                           check=True, capture_output=True)
            seconds = subprocess.run(["soxi", "-D", str(decoded)], capture_output=True, text=True, check=True)
            self.assertAlmostEqual(float(seconds.stdout), 3.0, delta=0.2)

        stored = self.fetch_newest(FORMS, "Fax")
        self.assert_valid(stored)
        message = email.message_from_bytes(stored, policy=email.policy.default)
        original = email.message_from_bytes(fax, policy=email.policy.default)
        self.assertEqual(part(message, "image/tiff").get_content(), part(original, "image/tiff").get_content())
        with tempfile.TemporaryDirectory() as tmp:
            pdf = Path(tmp) / "fax.pdf"
            pdf.write_bytes(part(message, "application/pdf").get_content())
            tif = Path(tmp) / "fax.tif"
            tif.write_bytes(part(message, "image/tiff").get_content())
            info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
            pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
            tiff_pages = subprocess.run(["tiffinfo", str(tif)], capture_output=True, text=True).stdout.count(
                "TIFF Directory")
            self.assertEqual(pages, tiff_pages)
            self.assertGreater(pages, 0)

        # A mailbox with the defaults keeps voice in INBOX with a WAV.
        self.send(vpim, f"{PLAIN}@{DOMAIN}")
        stored = email.message_from_bytes(self.fetch_newest(PLAIN, "INBOX"), policy=email.policy.default)
        self.assertIn("audio/wav", types_of(stored))
        self.assertNotIn("Voicemail", self.folders(PLAIN))

    def ingest_http(self, kind, args):
        base = f"http://127.0.0.1:{self.server.http_port}"
        posted = subprocess.run(["curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}", *args, f"{base}/v1/{kind}"],
                                capture_output=True, text=True, check=True)
        job = json.loads(posted.stdout)
        self.assertIn("id", job, posted.stdout)
        deadline = time.time() + 60
        while time.time() < deadline:
            status = json.loads(subprocess.run(
                ["curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}", f"{base}/v1/messages/{job['id']}"],
                capture_output=True, text=True, check=True).stdout)
            if status.get("status") != "queued":
                self.assertEqual(status.get("status"), "delivered", status)
                return
            time.sleep(0.2)
        self.fail(f"{kind} {job['id']} not delivered within 60 s")

    def ingested(self, kind, args, number, folder):
        """The message an HTTP submission became, checked by `umstore validate`."""
        self.ingest_http(kind, args)
        stored = self.fetch_newest(number, folder)
        self.assert_valid(stored)
        return email.message_from_bytes(stored, policy=email.policy.default)

    def test_gateway_recordings_take_the_mailbox_form(self):
        message = self.ingested("voicemail", ["-F", f"file=@{SAMPLES / 'voicemail.wav'}", "-F", f"to={FORMS}",
                                              "-F", "from=+15550123"], FORMS, "Voicemail")
        self.assertIn("X-Umstore-Ingest-Id", message)
        self.assertIn("audio/32kadpcm", types_of(message))
        self.assertIn("audio/mpeg", types_of(message))
        self.assertNotIn("audio/wav", types_of(message))
        # Issue 15 item 4: the MP3 form says who and when as the composed form does, and names the file it has.
        text = list(message.iter_parts())[0].get_content()
        self.assertRegex(text, r"^Voice message from \+1 5550123, 0:\d\d, received ")
        mp3_name = part(message, "audio/mpeg").get_filename()
        self.assertRegex(mp3_name, r"^voicemail-\+15550123-\d{4}-\d\d-\d\d-\d{4}\.mp3$")
        self.assertIn(f"attached as {mp3_name}.", text)
        self.assertNotIn("non-mail-user", text)
        # The ingest command submits in the mailbox's form too.
        self.server.ingest("voice", FORMS, "+15550124", SAMPLES / "voicemail.wav")
        message = email.message_from_bytes(self.fetch_newest(FORMS, "Voicemail"), policy=email.policy.default)
        self.assertTrue(str(message["Caller-ID"]).startswith("15550124"), message["Caller-ID"])
        self.assertIn("audio/mpeg", types_of(message))
        self.assertNotIn("audio/wav", types_of(message))
        message = self.ingested("fax", ["--data-binary", f"@{SAMPLES / 'fax.tif'}", "-H", f"X-Umstore-To: {FORMS}"],
                                FORMS, "Fax")
        self.assertIn("X-Umstore-Ingest-Id", message)
        self.assertTrue(part(message, "application/pdf").get_content().startswith(b"%PDF-"))
        self.assertIn("image/tiff", types_of(message))
        self.assert_peoples_fax(message, pdf=True)

    def assert_peoples_fax(self, message, pdf):
        """Issue 15 items 4 and 6: text first (who, pages), then the named attachments it lists, in order."""
        parts = list(message.iter_parts())
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        text = parts[0].get_content()
        self.assertRegex(text, r"^Fax from [^\n]*, 2 pages, received ")
        self.assertNotIn("non-mail-user", text)
        attachments = [p for p in parts if p.get_content_disposition() == "attachment"]
        self.assertEqual([p.get_content_type() for p in attachments],
                         ["image/tiff", "application/pdf"] if pdf else ["image/tiff"])
        names = [p.get_filename() for p in attachments]
        for name, extension in zip(names, (".tif", ".pdf")):
            self.assertRegex(name, r"^fax-[A-Za-z0-9+@._-]+-\d{4}-\d\d-\d\d-\d{4}" + re.escape(extension) + "$")
        self.assertIn("attached as " + " and ".join(names) + ".", text)

    def test_a_fax_in_a_default_mailbox_opens_with_a_text_and_attaches_the_tiff(self):
        message = self.ingested("fax", ["--data-binary", f"@{SAMPLES / 'fax.tif'}", "-H", f"X-Umstore-To: {PLAIN}",
                                        "-H", "X-Umstore-From: +4930123456"], PLAIN, "INBOX")
        self.assertEqual(message.get_content_type(), "multipart/mixed")
        self.assert_peoples_fax(message, pdf=False)
        self.assertIn("Fax from +49 30 123456, 2 pages", list(message.iter_parts())[0].get_content())
        self.assertEqual(str(message["Subject"]), "Fax from +49 30 123456 (2 pages)")

    def asterisk_email(self, wav_bytes, number, subject="[PBX]: New message 1 in mailbox 4401"):
        msg = EmailMessage()
        msg["From"] = '"Asterisk PBX" <asterisk@pbx.example.org>'
        msg["To"] = f"<{number}@{DOMAIN}>"
        msg["Subject"] = subject
        msg["Date"] = "Sat, 21 Nov 2026 20:40:01 +0100"
        msg["Message-ID"] = f"<Asterisk-1-{len(wav_bytes)}@pbx.example.org>"
        msg["X-Asterisk-VM-Caller-ID-Num"] = "15550123"
        msg["X-Asterisk-VM-Caller-ID-Name"] = "Carol Caller"
        msg.set_content("Dear Bob:\n\n\tjust wanted to let you know you were just left a message.\n")
        msg.add_attachment(wav_bytes, maintype="audio", subtype="x-wav", filename="msg0000.wav")
        return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def test_asterisk_voicemail_emails_become_vpim(self):
        sample = SAMPLES / "voicemail.wav"
        with tempfile.TemporaryDirectory() as tmp:
            encodings = {"pcm": sample}
            for name, args in (("ulaw", ["-e", "u-law"]), ("gsm", ["-e", "gsm-full-rate"])):
                out = Path(tmp) / f"{name}.wav"
                subprocess.run(["sox", str(sample), "-r", "8000", "-c", "1", *args, str(out)], check=True)
                encodings[name] = out
            for name, path in encodings.items():
                with self.subTest(encoding=name):
                    self.send(self.asterisk_email(path.read_bytes(), PLAIN), f"{PLAIN}@{DOMAIN}",
                              sender="asterisk@pbx.example.org")
                    stored = self.fetch_newest(PLAIN, "INBOX")
                    self.assert_valid(stored)
                    message = email.message_from_bytes(stored, policy=email.policy.default)
                    self.assertIn("multipart/voice-message", types_of(message))
                    self.assertIn("audio/32kadpcm", types_of(message))
                    self.assertIn("non-mail-user@", str(message["From"]))
                    self.assertEqual(str(message["Caller-ID"]), "15550123")
                    self.assertEqual(str(message["Caller-Name"]), "Carol Caller")
                    self.assertTrue(str(message["Date"]).endswith("+0100"), message["Date"])
                    adpcm = part(message, "audio/32kadpcm").get_content()
                    self.assertGreater(len(adpcm) / 4000.0, 1.0)

    def test_a_drop_address_delivers_to_the_mailbox_named_in_the_subject(self):
        wav = (SAMPLES / "voicemail.wav").read_bytes()
        drop = f"voicemail@{DOMAIN}"
        raw = self.asterisk_email(wav, "voicemail", subject=f"[PBX]: New message for {PLAIN} from 15550123")
        self.send(raw, drop, sender="asterisk@pbx.example.org")
        stored = self.fetch_newest(PLAIN, "INBOX")
        message = email.message_from_bytes(stored, policy=email.policy.default)
        self.assertIn("multipart/voice-message", types_of(message))
        self.assertIn(PLAIN, str(message["To"]))
        self.assert_valid(stored)
        # A subject naming no mailbox here, or none at all: refused at DATA, nothing stored.
        for subject in ("[PBX]: New message for +15559876543", "[PBX]: New message"):
            with self.subTest(subject=subject):
                with self.assertRaises(smtplib.SMTPDataError) as refused:
                    self.send(self.asterisk_email(wav, "voicemail", subject=subject), drop,
                              sender="asterisk@pbx.example.org")
                self.assertEqual(refused.exception.smtp_code, 550)
                self.assertIn(b"5.1.1", refused.exception.smtp_error)
        # Only gateway emails: the same address refuses mail from anyone else.
        stranger = raw.replace(b"asterisk@pbx.example.org", b"someone@elsewhere.example.com")
        with self.assertRaises(smtplib.SMTPDataError):
            self.send(stranger, drop, sender="someone@elsewhere.example.com")

    def test_relayed_voicemail_takes_its_destination_form(self):
        desktop = self.asterisk_email((SAMPLES / "voicemail.wav").read_bytes(), PLAIN)
        self.send(desktop, f"{PLAIN}@{DOMAIN}", sender="asterisk@pbx.example.org")
        stored = self.fetch_newest(PLAIN, "INBOX")  # the desktop form: text, VPIM, WAV
        self.assertIn("audio/wav", types_of(email.message_from_bytes(stored, policy=email.policy.default)))
        self.send(stored, "+4930123456@vpim.example.org", sender=f"{PLAIN}@{DOMAIN}")
        self.send(stored, "7720@ivm.example.net", sender=f"{PLAIN}@{DOMAIN}")

        relayed = self.sink.wait_for("+4930123456@vpim.example.org")
        self.assert_valid(relayed)
        message = email.message_from_bytes(relayed, policy=email.policy.default)
        self.assertEqual(message.get_content_type(), "multipart/voice-message")
        self.assertEqual(types_of(message).count("audio/32kadpcm"), 1)
        self.assertNotIn("audio/wav", types_of(message))
        self.assertNotIn("text/plain", types_of(message))

        relayed = self.sink.wait_for("7720@ivm.example.net")
        self.assert_valid(relayed)
        message = email.message_from_bytes(relayed, policy=email.policy.default)
        self.assertNotIn("audio/32kadpcm", types_of(message))
        basic = part(message, "audio/basic")
        self.assertEqual(basic.get_param("handling", header="content-disposition"), "required")
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "voicemail.ul"
            raw.write_bytes(basic.get_content())
            decoded = Path(tmp) / "decoded.wav"
            subprocess.run(["sox", "-t", "ul", "-r", "8000", "-c", "1", str(raw), str(decoded)], check=True)
            seconds = subprocess.run(["soxi", "-D", str(decoded)], capture_output=True, text=True, check=True)
            expected = subprocess.run(["soxi", "-D", str(SAMPLES / "voicemail.wav")], capture_output=True, text=True,
                                      check=True)
            self.assertAlmostEqual(float(seconds.stdout), float(expected.stdout), delta=0.2)

if __name__ == "__main__":
    unittest.main(verbosity=2)
