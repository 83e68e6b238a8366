"""MTA-STS (RFC 8461) on MX delivery, end to end: a private authoritative
DNS server (knot, tests/peers/dns_peer.py) publishes the domain's MX and
`_mta-sts` TXT records, an HTTPS server with a certificate from a private
test CA serves the policy at https://mta-sts.sts.test/.well-known/mta-sts.txt,
and a private Postfix on 127.0.0.1:25 is the MX host mx.sts.test.

Checks: with an "enforce" policy naming the MX host and a certificate that
verifies for it, mail goes through encrypted and the policy is kept on disk;
a new policy (new TXT id) that does not name the MX host, or an MX host
whose certificate names another host, is a temporary failure whose reason
is in the log and the delayed DSN, and the mail goes through once policy
and certificate are right again. Under a "testing" policy the wrong
certificate does not hold the mail, and the log says it would have.

Needs root (ports 25 and 443), Postfix, knot and openssl: exit 77 (a
visible skip) without them or when another program holds those ports."""
import http.server
import os
import shutil
import ssl
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import dns_peer  # noqa: E402
from postfix_peer import PostfixPeer  # noqa: E402
from test_ingest_webhooks import TestCertificates  # noqa: E402
from relay_checks import USER, RelayChecks, port_free, postfix_certificate  # noqa: E402
from umstore_harness import Umstore  # noqa: E402

PEER = "sts.test"
GOOD_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n"
OTHER_MX_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: *.elsewhere.test\r\nmax_age: 86400\r\n"
TESTING_POLICY = "version: STSv1\r\nmode: testing\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n"


class PolicyServer:
    """HTTPS on 127.0.0.1:443 serving the policy as text/plain."""

    def __init__(self, certificate):
        self.policy = GOOD_POLICY
        self.fetches = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                outer.fetches += 1
                body = outer.policy.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 443), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def zone(policy_id):
    return f"""
@ MX 10 mx
mx A 127.0.0.1
mta-sts A 127.0.0.1
_mta-sts 1 TXT "v=STSv1; id={policy_id}"
"""


class MtaSts(RelayChecks, unittest.TestCase):
    PEER = PEER

    @classmethod
    def setUpClass(cls):
        certs_dir = tempfile.mkdtemp(prefix="umstore-mta-sts-")
        cls.addClassCleanup(shutil.rmtree, certs_dir, True)
        certs = TestCertificates(certs_dir)
        ca = certs.authority("ca")
        cls.good = certs.server("mx.sts.test", "ca", "DNS:mx.sts.test")
        cls.wrong_name = certs.server("other.test", "ca", "DNS:other.test")
        cls.dns = dns_peer.DnsPeer().start()
        cls.addClassCleanup(cls.dns.cleanup)
        cls.dns.publish(PEER, zone("one"))
        cls.policy = PolicyServer(certs.server("mta-sts.sts.test", "ca", "DNS:mta-sts.sts.test"))
        cls.addClassCleanup(cls.policy.close)
        cls.server = Umstore(config_text=f"""
[smtp]
trusted_networks = 127.0.0.0/8
retry_base = 1
retry_max = 1
delay_warning = 1
mta_sts_ca_file = {ca}

[dns]
resolver = 127.0.0.1:{cls.dns.port}
timeout = 2
""")
        cls.addClassCleanup(cls.server.close)
        cls.server.add_mailbox(USER, "STS User", "sts-password")
        cls.server.start()
        cls.postfix = PostfixPeer(port=25, domain=PEER, mailboxes=["alice"], tls=True,
                                  main_cf=postfix_certificate(cls.good))
        cls.postfix.start()
        cls.addClassCleanup(cls.postfix.stop)

    def publish(self, policy_id):
        self.dns.publish(PEER, zone(policy_id))
        time.sleep(1.5)  # the resolver keeps the old TXT record for its TTL (1 s)

    def test_enforced_policy(self):
        # The policy names the MX host and its certificate verifies: delivered over TLS.
        envid = self.send()
        self.wait_at_postfix(envid, f"{envid} at Postfix", 30)
        self.assertRegex(self.at_postfix(envid)[0], rb"with ESMTPS id")
        cached = self.server.data_dir / "mta-sts" / PEER
        self.assertIn("mx: mx.sts.test", cached.read_text())
        self.assertEqual(self.policy.fetches, 1)

        # The same id again: the kept policy, not a second fetch.
        envid = self.send()
        self.wait_at_postfix(envid, f"{envid} at Postfix", 30)
        self.assertEqual(self.policy.fetches, 1)

        # A new policy (new id) that names other MX hosts: not delivered to mx.sts.test.
        self.policy.policy = OTHER_MX_POLICY
        self.publish("two")
        envid = self.send()
        diagnostic = self.delayed_diagnostic(envid)
        self.assertIn("mx.sts.test is not an MX host the MTA-STS policy of sts.test names", diagnostic)
        self.assertEqual(self.at_postfix(envid), [])
        self.policy.policy = GOOD_POLICY
        self.publish("three")
        self.wait_at_postfix(envid, f"{envid} delivered under the corrected policy")

        # The MX host's certificate names another host: a temporary failure, then delivered.
        self.refused_until_certificate(self.wrong_name, self.good, "MTA-STS policy of sts.test (enforce)",
                                       "hostname mismatch")

        # "testing": the same wrong certificate delays nothing; the log tells (RFC 8461 §5.2).
        self.policy.policy = TESTING_POLICY
        self.publish("four")
        self.postfix.reconfigure(main_cf=postfix_certificate(self.wrong_name))
        try:
            envid = self.send()
            self.wait_at_postfix(envid, f"{envid} at Postfix under the testing policy", 30)
        finally:
            self.postfix.reconfigure(main_cf=postfix_certificate(self.good))
        self.assertIn("MTA-STS testing: the certificate of mx.sts.test would fail verification (hostname mismatch)",
                      self.server.log_path.read_text())

if __name__ == "__main__":
    missing = [what for what, ok in [("postfix", shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")),
                                     ("openssl", shutil.which("openssl")), ("root", os.geteuid() == 0),
                                     ("knot", dns_peer.available()),
                                     ("ports 25 and 443 on 127.0.0.1", os.geteuid() == 0 and port_free(25) and port_free(443))] if not ok]
    if missing:
        print("SKIP: needs " + ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    unittest.main()
