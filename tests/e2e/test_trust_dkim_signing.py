"""DKIM signing of what umstore relays, end to end: keys made by
`umstore dkim keygen`, their TXT records served by a private Knot
(tests/peers/dns_peer.py), umstore relaying to a private Postfix
(tests/peers/postfix_peer.py) as its smarthost, and every message Postfix
delivers checked by an independent verifier (Debian's python3-dkim, through
tests/mailauth/dkim_verify.py) against the key Knot publishes.

Checks: a relayed message From: our domain verifies (RSA); one From: a
subdomain with a key of its own is signed with that key (Ed25519); a DSN
umstore sends and a voicemail forwarded to a mailbox's email address verify;
a copy altered after delivery fails; mail From: a
domain without a key leaves unsigned; keygen writes the key owner-only and
never overwrites one.

Needs root, Postfix, Knot and python3-dkim (with python3-nacl): exit 77 (a
visible skip) without them."""
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import dns_peer  # noqa: E402
from postfix_peer import PostfixPeer, free_port  # noqa: E402
from umstore_harness import DOMAIN, SOURCE_DIR, Umstore, wait_for  # noqa: E402

VERIFIER = SOURCE_DIR / "tests" / "mailauth" / "dkim_verify.py"
SUBDOMAIN = f"fax.{DOMAIN}"
PEER = "peer.test"
USER = "+15550100"
FORWARDING = "+15550101"  # a mailbox with an email address: voicemails also go there as a copy
TOKEN = "trust-gateway-token-0123456789"


class DkimSigning(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = dns_peer.DnsPeer().start()
        cls.addClassCleanup(cls.dns.cleanup)
        cls.postfix_port = free_port()
        keys = Path(tempfile.mkdtemp(prefix="umstore-dkim-"))
        cls.addClassCleanup(shutil.rmtree, keys, True)
        cls.rsa_key, cls.ed_key = keys / "rsa.pem", keys / "ed.pem"
        cls.server = Umstore(config_text=f"""
[smtp]
smarthost = 127.0.0.1:{cls.postfix_port}
trusted_networks = 127.0.0.0/8
retry_base = 1
retry_max = 2

[gateways]
gw1 = {TOKEN}

[dkim]
selector = s2026
key = {cls.rsa_key}

[dkim.fax]
domain = {SUBDOMAIN}
selector = ed1
key = {cls.ed_key}
""")
        cls.addClassCleanup(cls.server.close)
        records = [cls.server.run("dkim", "keygen", DOMAIN, "s2026", "--key", str(cls.rsa_key)).stdout,
                   cls.server.run("dkim", "keygen", SUBDOMAIN, "ed1", "--algorithm", "ed25519",
                                  "--key", str(cls.ed_key)).stdout]
        cls.dns.publish(DOMAIN, "\n".join(records))
        cls.server.add_mailbox(USER, "Signing User", "signing-password")
        cls.server.run("mailbox", "add", FORWARDING, "--name", "Forwarding User", "--email", f"alice@{PEER}",
                       "--password-stdin", stdin="forwarding-password\n")
        cls.server.start()
        cls.postfix = PostfixPeer(port=cls.postfix_port, domain=PEER, mailboxes=["alice"])
        cls.postfix.start()
        cls.addClassCleanup(cls.postfix.stop)

    def relay(self, sender, rcpt, subject):
        message = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
                   f"Date: Sat, 05 Dec 2026 12:00:00 +0000\r\nMessage-ID: <{uuid.uuid4().hex}@test>\r\n\r\n"
                   "A voice message for you.\r\n")
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as smtp:
            self.assertEqual(smtp.sendmail(sender, [rcpt], message.encode()), {})

    def at_postfix(self, marker, timeout=30):
        """The one message at alice@peer.test that carries marker."""
        arrived = lambda: [m for m in self.postfix.messages("alice") if marker.encode() in m]  # noqa: E731
        wait_for(arrived, f"{marker} at alice@{PEER}; umstore log:\n{self.server.log_path.read_text()[-3000:]}",
                 timeout)
        [raw] = arrived()
        return raw

    def verify(self, raw):
        """python3-dkim's verdict: True when every signature verifies."""
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(raw)
            f.flush()
            done = subprocess.run(["/usr/bin/python3", str(VERIFIER), str(self.dns.port), f.name],
                                  capture_output=True, text=True, timeout=60)
        self.assertIn(done.returncode, (0, 1), done.stderr)
        return done.returncode == 0

    def signature(self, raw):
        head = raw.split(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n", 1)[0].decode()
        found = re.findall(r"^DKIM-Signature:((?:.|\n[ \t])*)", head.replace("\r\n", "\n"), re.M | re.I)
        self.assertEqual(len(found), 1, head)
        return {k.strip(): v.strip() for k, v in (t.split("=", 1) for t in " ".join(found[0].split()).split(";") if "=" in t)}

    def test_relayed_message_verifies_and_an_altered_copy_fails(self):
        subject = "signed " + uuid.uuid4().hex
        self.relay(f"{USER}@{DOMAIN}", f"alice@{PEER}", subject)
        raw = self.at_postfix(subject)
        tags = self.signature(raw)
        self.assertEqual((tags["d"], tags["s"], tags["a"]), (DOMAIN, "s2026", "rsa-sha256"))
        self.assertTrue(self.verify(raw), "the relayed message does not verify")
        self.assertFalse(self.verify(raw.replace(b"A voice message", b"A forged message")),
                         "an altered copy verifies")

    def test_subdomain_key_signs_its_mail(self):
        subject = "fax " + uuid.uuid4().hex
        self.relay(f"fax-gateway@{SUBDOMAIN}", f"alice@{PEER}", subject)
        raw = self.at_postfix(subject)
        tags = self.signature(raw)
        self.assertEqual((tags["d"], tags["s"], tags["a"]), (SUBDOMAIN, "ed1", "ed25519-sha256"))
        self.assertTrue(self.verify(raw))

    def test_dsn_is_signed(self):
        subject = "bounce " + uuid.uuid4().hex
        self.relay(f"alice@{PEER}", f"nobody@{PEER}", subject)  # Postfix: 550 5.1.1, umstore reports it
        raw = self.at_postfix(subject)
        self.assertIn(b"report-type=delivery-status", raw)
        self.assertEqual(self.signature(raw)["d"], DOMAIN)
        self.assertTrue(self.verify(raw), "the DSN does not verify")

    def test_forwarded_voicemail_is_signed(self):
        posted = subprocess.run(["curl", "-sS", "--fail-with-body", "-H", f"Authorization: Bearer {TOKEN}",
                                 "-F", f"file=@{SOURCE_DIR / 'samples' / 'voicemail.wav'}", "-F", f"to={FORWARDING}",
                                 "-F", "from=+15550123", f"http://127.0.0.1:{self.server.http_port}/v1/voicemail"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(posted.returncode, 0, posted.stdout + posted.stderr)
        message_id = json.loads(posted.stdout)["id"]
        raw = self.at_postfix(message_id, timeout=60)  # the copy carries the ingest id (X-Umstore-Ingest-Id)
        self.assertIn(b"audio/", raw)
        self.assertEqual(self.signature(raw)["d"], DOMAIN)
        self.assertTrue(self.verify(raw), "the forwarded copy does not verify")

    def test_other_domains_leave_unsigned(self):
        subject = "unsigned " + uuid.uuid4().hex
        self.relay("someone@elsewhere.test", f"alice@{PEER}", subject)
        self.assertNotIn(b"DKIM-Signature", self.at_postfix(subject))

    def test_keygen_keeps_keys_private_and_never_overwrites(self):
        self.assertEqual(os.stat(self.rsa_key).st_mode & 0o777, 0o600)
        again = self.server.run("dkim", "keygen", DOMAIN, "s2026", "--key", str(self.rsa_key), check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("exists already", again.stderr)
        self.assertIn("BEGIN PRIVATE KEY", self.rsa_key.read_text())


if __name__ == "__main__":
    missing = [what for what, ok in [("Knot DNS (knot)", dns_peer.available()),
                                     ("postfix", shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")),
                                     ("root", os.geteuid() == 0)] if not ok]
    probe = subprocess.run(["/usr/bin/python3", "-c", "import dkim, dns.resolver, nacl"], capture_output=True)
    if probe.returncode != 0:
        missing.append("python3-dkim, python3-dnspython, python3-nacl")
    if missing:
        print("SKIP: needs " + ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    unittest.main()
