"""Sender authentication of inbound SMTP, end to end: the real umstore with
[mailauth] on, asking a private Knot server (tests/peers/dns_peer.py) that
publishes SPF, DKIM and DMARC records for test domains; messages sent over
real SMTP connections from 127.0.0.1 (not a trusted network), signed by an
independent signer (Debian's python3-dkim) where they should pass, and read
back from the store and over IMAP.

Checks: Authentication-Results for pass, fail, none and temperror (a DKIM
key lookup failing while SPF passes aligned: stored, dkim=temperror; the DNS
server stopped: 451 4.7.0, accepted once it is back); DMARC p=reject refused
with 550 5.7.1 and the reason; p=quarantine filed into the \\Junk folder;
a forged Authentication-Results with our authserv-id removed; a gateway in
trusted_networks and an authenticated submission user exempt.

Needs Knot (knot) and python3-dkim: exit 77 (a visible skip) without them."""
import imaplib
import os
import re
import smtplib
import subprocess
import sys
import unittest
import uuid
from pathlib import Path

try:
    import dkim
except ImportError:
    # Debian's python3 has python3-dkim; another python3 first on PATH may not.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    print("SKIP: python3-dkim is not installed", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import dns_peer  # noqa: E402
from umstore_harness import DOMAIN, Umstore  # noqa: E402

USER = "+15550100"
PASSWORD = "trust-inbound-password"
RCPT = f"{USER}@{DOMAIN}"
GATEWAY_IP = "127.0.0.2"  # in trusted_networks


def outside_address():
    """A local IPv4 address off the loopback network, for the checked
    clients to connect from (to the server on 127.0.0.1): libspf2 gives
    every client on 127.0.0.0/8 a free SPF pass."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                             text=True).stdout
    except FileNotFoundError:
        return None
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    return found.group(1) if found else None


CLIENT_IP = outside_address()


def message(sender, subject, body="A voice message follows.\r\n", extra=""):
    return (f"From: Sender <{sender}>\r\nTo: <{RCPT}>\r\nSubject: {subject}\r\n"
            f"Date: Sat, 05 Dec 2026 12:00:00 +0000\r\nMessage-ID: <{uuid.uuid4().hex}@test>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n{extra}\r\n{body}").encode()


class TrustInbound(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = dns_peer.DnsPeer().start()
        cls.addClassCleanup(cls.dns.cleanup)
        cls.server = Umstore(config_text=f"""
[mailauth]
enabled = true
authserv_id = mx.{DOMAIN}
resolver = 127.0.0.1:{cls.dns.port}
dns_timeout = 2

[smtp]
trusted_networks = {GATEWAY_IP}/32
auth_requires_tls = false

[listen]
submission = 127.0.0.1:0
""")
        cls.addClassCleanup(cls.server.close)
        cls.server.add_mailbox(USER, "Trust User", PASSWORD)
        # The sender's key, made by umstore's keygen, published by Knot; the
        # test signs with it through python3-dkim.
        key_file = cls.server.work / "pass.test.pem"
        made = cls.server.run("dkim", "keygen", "pass.test", "sel", "--key", str(key_file))
        cls.key = key_file.read_bytes()
        zone_line = made.stdout.strip()
        cls.dns.publish("pass.test", f"""
            @ TXT "v=spf1 ip4:{CLIENT_IP} -all"
            _dmarc TXT "v=DMARC1; p=reject"
            {zone_line}
            """)
        cls.dns.publish("reject.test", """
            @ TXT "v=spf1 -all"
            _dmarc TXT "v=DMARC1; p=reject"
            """)
        cls.dns.publish("quarantine.test", """
            @ TXT "v=spf1 -all"
            _dmarc TXT "v=DMARC1; p=quarantine"
            """)
        cls.dns.publish("none.test", "www A 192.0.2.1\n")
        cls.dns.publish("later.test", "www A 192.0.2.1\n")  # asked first while the server is down
        cls.server.start()
        cls.submission_port = int(cls.server.info["submission"].rsplit(":", 1)[1])

    def send(self, sender, raw, port=None, source=None, login=False, rcpt_options=()):
        """The reply to the end of DATA: (code, text); 250 when accepted."""
        with smtplib.SMTP("127.0.0.1", port or self.server.smtp_port, local_hostname="client.test",
                          source_address=(source or CLIENT_IP, 0), timeout=30) as smtp:
            if login:
                smtp.login(USER, PASSWORD)
            try:
                smtp.sendmail(sender, [RCPT], raw, rcpt_options=list(rcpt_options))
            except smtplib.SMTPDataError as e:
                return e.smtp_code, e.smtp_error.decode()
            return 250, ""

    def signed(self, raw):
        return dkim.sign(raw, b"sel", b"pass.test", self.key,
                         include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + raw

    def stored(self, subject):
        found = [m for m in self.server.stored_messages() if f"Subject: {subject}\r\n".encode() in m]
        self.assertEqual(len(found), 1, f"expected one stored copy of {subject!r}, found {len(found)}")
        return found[0].decode()

    def our_results(self, stored):
        """The unfolded Authentication-Results fields naming our authserv-id."""
        head = stored.split("\r\n\r\n", 1)[0]
        fields = re.findall(r"^Authentication-Results:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M | re.I)
        return [" ".join(f.split()) for f in fields if f.split()[0].rstrip(";") == f"mx.{DOMAIN}"]

    def test_pass(self):
        subject = "pass " + uuid.uuid4().hex
        self.assertEqual(self.send("alice@pass.test", self.signed(message("alice@pass.test", subject)))[0], 250)
        [results] = self.our_results(self.stored(subject))
        self.assertIn("spf=pass smtp.mailfrom=pass.test", results)
        self.assertRegex(results, r"dkim=pass header.d=pass.test header.s=sel header.a=rsa-sha256")
        self.assertIn("dmarc=pass", results)
        self.assertIn("header.from=pass.test", results)

    def test_dkim_fail_altered_body(self):
        subject = "altered " + uuid.uuid4().hex
        raw = self.signed(message("alice@pass.test", subject)).replace(b"A voice message", b"A forged message")
        self.assertEqual(self.send("alice@pass.test", raw)[0], 250)  # SPF passes aligned: DMARC passes
        [results] = self.our_results(self.stored(subject))
        self.assertIn("spf=pass", results)
        self.assertRegex(results, r"dkim=fail \([^)]*\) header.d=pass.test")
        self.assertIn("dmarc=pass", results)

    def test_reject_policy_refuses(self):
        subject = "spoof " + uuid.uuid4().hex
        code, text = self.send("ceo@reject.test", message("ceo@reject.test", subject))
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith("5.7.1"), text)
        self.assertIn("DMARC", text)
        self.assertIn("reject.test", text)
        self.assertFalse([m for m in self.server.stored_messages() if subject.encode() in m])
        self.assertRegex(self.server.log_path.read_text(),
                         r"sender check id=\S+ from=<ceo@reject.test> spf=fail dkim=none dmarc=fail p=reject")

    def test_quarantine_policy_files_into_junk(self):
        # Asking for a success DSN changes nothing: no report goes to a forged sender.
        subjects = ["quarantined " + uuid.uuid4().hex, "quarantined notify " + uuid.uuid4().hex]
        self.assertEqual(self.send("ceo@quarantine.test", message("ceo@quarantine.test", subjects[0]))[0], 250)
        self.assertEqual(self.send("ceo@quarantine.test", message("ceo@quarantine.test", subjects[1]),
                                   rcpt_options=["NOTIFY=SUCCESS"])[0], 250)
        for subject in subjects:
            [results] = self.our_results(self.stored(subject))
            self.assertIn("spf=fail", results)
            self.assertIn("dmarc=fail (p=quarantine) header.from=quarantine.test", results)
        imap = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        try:
            imap.login(USER, PASSWORD)
            _, listing = imap.list()
            junk = [line.decode() for line in listing if b"\\Junk" in line]
            self.assertEqual(len(junk), 1, listing)
            name = junk[0].rsplit(" ", 1)[1].strip('"')
            for subject in subjects:
                imap.select(name, readonly=True)
                _, found = imap.search(None, "SUBJECT", f'"{subject}"')
                self.assertEqual(len(found[0].split()), 1, f"{subject} is not in the \\Junk folder")
                imap.select("INBOX", readonly=True)
                _, found = imap.search(None, "SUBJECT", f'"{subject}"')
                self.assertEqual(found[0].split(), [], f"{subject} is in INBOX too")
        finally:
            imap.logout()

    def test_none_and_forged_results_removed(self):
        subject = "none " + uuid.uuid4().hex
        forged = f"Authentication-Results: mx.{DOMAIN};\r\n\tdkim=pass header.d=bank.test\r\n" \
                 "Authentication-Results: other.example; spf=pass\r\n"
        self.assertEqual(self.send("bob@none.test", message("bob@none.test", subject, extra=forged))[0], 250)
        stored = self.stored(subject)
        [results] = self.our_results(stored)  # ours only: the forged one is gone
        self.assertIn("spf=none", results)
        self.assertIn("dkim=none", results)
        self.assertIn("dmarc=none", results)
        self.assertNotIn("bank.test", stored)
        self.assertIn("Authentication-Results: other.example; spf=pass", stored)  # another server's stays

    def test_trusted_gateway_exempt(self):
        subject = "gateway " + uuid.uuid4().hex
        self.assertEqual(self.send("ceo@reject.test", message("ceo@reject.test", subject), source=GATEWAY_IP)[0], 250)
        self.assertEqual(self.our_results(self.stored(subject)), [f"mx.{DOMAIN}; none (trusted network)"])

    def test_authenticated_user_exempt(self):
        subject = "submitted " + uuid.uuid4().hex
        self.assertEqual(self.send("ceo@reject.test", message("ceo@reject.test", subject),
                                   port=self.submission_port, login=True)[0], 250)
        self.assertEqual(self.our_results(self.stored(subject)), [f"mx.{DOMAIN}; auth=pass smtp.auth={USER}"])

    def test_temperror_that_does_not_decide_dmarc_is_stored_visible(self):
        # A signature whose key lookup fails (Knot refuses a zone it does not
        # serve), while SPF passes aligned: DMARC passes, the message is stored.
        subject = "dkim temperror " + uuid.uuid4().hex
        raw = message("alice@pass.test", subject)
        raw = dkim.sign(raw, b"sel", b"unserved.test", self.key, include_headers=[b"from", b"subject"]) + raw
        self.assertEqual(self.send("alice@pass.test", raw)[0], 250)
        [results] = self.our_results(self.stored(subject))
        self.assertIn("spf=pass", results)
        self.assertRegex(results, r"dkim=temperror( \([^)]*\))? header.d=unserved.test")
        self.assertIn("dmarc=pass", results)

    def test_temperror_when_dns_is_down(self):
        subject = "temperror " + uuid.uuid4().hex
        raw = message("carol@later.test", subject)
        self.dns.stop()
        try:
            code, text = self.send("carol@later.test", raw)
        finally:
            self.dns.start()
        self.assertEqual(code, 451)
        self.assertTrue(text.startswith("4.7.0"), text)
        self.assertIn("DNS", text)
        self.assertFalse([m for m in self.server.stored_messages() if subject.encode() in m])
        # The sender retries once DNS answers again.
        self.assertEqual(self.send("carol@later.test", raw)[0], 250)
        self.assertIn("dmarc=none", self.our_results(self.stored(subject))[0])


if __name__ == "__main__":
    if not dns_peer.available():
        print("SKIP: Knot DNS is not installed (apt-get install knot)", file=sys.stderr)
        sys.exit(77)
    if not CLIENT_IP:
        print("SKIP: no IPv4 address off the loopback network to send from (SPF passes every 127.0.0.0/8 client)",
              file=sys.stderr)
        sys.exit(77)
    unittest.main()
