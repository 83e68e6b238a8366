"""Verified TLS to the smarthost, end to end: umstore with
`[smtp] smarthost_tls = verify` relays to a private Postfix
(tests/peers/postfix_peer.py) holding a certificate from a private test CA
(made with the openssl command, trusted through `smarthost_ca_file`).

Checks: with a certificate naming the smarthost's host and chaining to the
CA, mail goes through encrypted; a certificate for another name, or from a
CA umstore does not know, is a temporary failure whose reason is in the log
and in the delayed DSN, and the message goes through once Postfix presents
the right certificate again.

Needs root, Postfix and openssl: exit 77 (a visible skip) without them."""
import os
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
from postfix_peer import PostfixPeer, free_port  # noqa: E402
from test_ingest_webhooks import TestCertificates  # noqa: E402
from relay_checks import USER, RelayChecks, postfix_certificate  # noqa: E402
from umstore_harness import Umstore  # noqa: E402

PEER = "peer.test"


class SmarthostTls(RelayChecks, unittest.TestCase):
    PEER = PEER

    @classmethod
    def setUpClass(cls):
        certs_dir = tempfile.mkdtemp(prefix="umstore-smarthost-tls-")
        cls.addClassCleanup(shutil.rmtree, certs_dir, True)
        certs = TestCertificates(certs_dir)
        ca = certs.authority("ca")
        certs.authority("stranger")
        cls.good = certs.server("localhost", "ca", "DNS:localhost,IP:127.0.0.1")
        cls.wrong_name = certs.server("other.test", "ca", "DNS:other.test")
        cls.unknown_ca = certs.server("localhost-stranger", "stranger", "DNS:localhost,IP:127.0.0.1")
        cls.postfix_port = free_port()
        cls.server = Umstore(config_text=f"""
[smtp]
smarthost = localhost:{cls.postfix_port}
smarthost_tls = verify
smarthost_ca_file = {ca}
trusted_networks = 127.0.0.0/8
retry_base = 1
retry_max = 1
delay_warning = 1
""")
        cls.addClassCleanup(cls.server.close)
        cls.server.add_mailbox(USER, "TLS User", "tls-password")
        cls.server.start()
        cls.postfix = PostfixPeer(port=cls.postfix_port, domain=PEER, mailboxes=["alice"], tls=True,
                                  main_cf=postfix_certificate(cls.good))
        cls.postfix.start()
        cls.addClassCleanup(cls.postfix.stop)

    def refused_until_the_right_certificate(self, pair, reason):
        self.refused_until_certificate(pair, self.good, "certificate verify failed", reason)
        self.assertIn(reason, self.server.log_path.read_text())

    def test_a_verified_certificate_carries_the_mail(self):
        envid = self.send()
        self.wait_at_postfix(envid, f"{envid} at Postfix", 30)
        self.assertRegex(self.at_postfix(envid)[0], rb"with ESMTPS id")

    def test_a_certificate_for_another_name_is_a_temporary_failure(self):
        self.refused_until_the_right_certificate(self.wrong_name, "hostname mismatch")

    def test_a_certificate_from_an_unknown_ca_is_a_temporary_failure(self):
        self.refused_until_the_right_certificate(self.unknown_ca, "unable to get local issuer certificate")


if __name__ == "__main__":
    missing = [what for what, ok in [("postfix", shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")),
                                     ("openssl", shutil.which("openssl")), ("root", os.geteuid() == 0)] if not ok]
    if missing:
        print("SKIP: needs " + ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    unittest.main()
