"""DANE for SMTP (RFC 7672) on MX delivery, end to end: a private Knot
server (tests/peers/dns_peer.py) signs dane.test with DNSSEC and publishes
its MX and the MX host's TLSA record (DANE-EE, SHA-256 of the public key);
umstore validates with the zone's keys as trust anchors (`[dns]
trust_anchor_file`); a private Postfix on 127.0.0.1:25 is the MX host.

Checks: with the certificate the TLSA record names, mail goes through
encrypted; with another key the connection is refused, the reason (no
matching TLSA record) in the delayed DSN, and the mail goes through once
the right key is back; a certificate from no CA at all is fine, as DANE-EE
pins the key, not a name or a chain.

Needs root (port 25), Postfix, Knot and openssl: exit 77 (a visible skip)
without them or when another program holds the port."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import dns_peer  # noqa: E402
from postfix_peer import PostfixPeer  # noqa: E402
from test_ingest_webhooks import TestCertificates  # noqa: E402
from relay_checks import USER, RelayChecks, port_free, postfix_certificate  # noqa: E402
from umstore_harness import Umstore  # noqa: E402

PEER = "dane.test"


def spki_sha256(certificate):
    """The TLSA 3 1 1 data of a certificate: SHA-256 of its SubjectPublicKeyInfo."""
    key = subprocess.run(["openssl", "x509", "-in", certificate, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=key,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hex"], input=der,
                            capture_output=True, check=True, text=False).stdout.decode()
    return digest.split("=")[-1].strip()


class Dane(RelayChecks, unittest.TestCase):
    PEER = PEER

    @classmethod
    def setUpClass(cls):
        certs_dir = tempfile.mkdtemp(prefix="umstore-dane-")
        cls.addClassCleanup(shutil.rmtree, certs_dir, True)
        certs = TestCertificates(certs_dir)
        certs.authority("ca")
        # The pinned key's certificate names another host and comes from a CA nobody trusts:
        # DANE-EE(3) checks neither (RFC 7672 §3.1.1).
        cls.pinned = certs.server("pinned", "ca", "DNS:somewhere-else.test")
        cls.other_key = certs.server("mx.dane.test", "ca", "DNS:mx.dane.test")
        cls.dns = dns_peer.DnsPeer().start()
        cls.addClassCleanup(cls.dns.cleanup)
        cls.dns.publish(PEER, f"""
@ MX 10 mx
mx A 127.0.0.1
_25._tcp.mx TLSA 3 1 1 {spki_sha256(cls.pinned[0])}
""", signed=True)
        anchors = Path(certs_dir) / "anchors.key"
        anchors.write_text(cls.dns.trust_anchor(PEER))
        cls.server = Umstore(config_text=f"""
[smtp]
trusted_networks = 127.0.0.0/8
retry_base = 1
retry_max = 1
delay_warning = 1

[dns]
resolver = 127.0.0.1:{cls.dns.port}
timeout = 2
trust_anchor_file = {anchors}
""")
        cls.addClassCleanup(cls.server.close)
        cls.server.add_mailbox(USER, "DANE User", "dane-password")
        cls.server.start()
        cls.postfix = PostfixPeer(port=25, domain=PEER, mailboxes=["alice"], tls=True,
                                  main_cf=postfix_certificate(cls.pinned))
        cls.postfix.start()
        cls.addClassCleanup(cls.postfix.stop)

    def test_tlsa_record_pins_the_key(self):
        envid = self.send()
        self.wait_at_postfix(envid, f"{envid} at Postfix", 30)
        self.assertRegex(self.at_postfix(envid)[0], rb"with ESMTPS id")

        # Another key (with a certificate a CA would vouch for): refused, then delivered.
        self.refused_until_certificate(self.other_key, self.pinned, "TLS handshake with mx.dane.test failed", "TLSA")

if __name__ == "__main__":
    missing = [what for what, ok in [("postfix", shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")),
                                     ("openssl", shutil.which("openssl")), ("root", os.geteuid() == 0),
                                     ("knot", dns_peer.available()),
                                     ("port 25 on 127.0.0.1", os.geteuid() == 0 and port_free(25))] if not ok]
    if missing:
        print("SKIP: needs " + ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    unittest.main()
