"""tests/peers/dns_peer.py from Python: zones published as text are served
(TXT, MX, NAPTR under e164.arpa), republishing changes the answers, a stopped
server answers nothing and a started one answers again. Queries go through
dnspython (Debian python3-dnspython), an independent DNS client."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import dns_peer  # noqa: E402

try:
    import dns.exception
    import dns.resolver
except ImportError:
    print("SKIP: python3-dnspython is not installed", file=sys.stderr)
    sys.exit(dns_peer.SKIP)


class DnsPeerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.peer = dns_peer.DnsPeer().start()

    @classmethod
    def tearDownClass(cls):
        cls.peer.cleanup()

    def resolve(self, name, rdtype):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.peer.port
        return [r.to_text() for r in resolver.resolve(name, rdtype, lifetime=2)]

    def test_zones_served_and_republished(self):
        self.peer.publish("peer.test", """
            @   MX  10 mx.peer.test.
            mx  A   192.0.2.25
            @   TXT "v=spf1 mx -all"
        """)
        self.assertEqual(self.resolve("peer.test", "MX"), ["10 mx.peer.test."])
        self.assertEqual(self.resolve("peer.test", "TXT"), ['"v=spf1 mx -all"'])
        self.peer.publish("peer.test", '@ TXT "v=spf1 -all"\n')
        self.assertEqual(self.resolve("peer.test", "TXT"), ['"v=spf1 -all"'])
        with self.assertRaises(dns.resolver.NXDOMAIN):
            self.resolve("mx.peer.test", "A")

    def test_enum_naptr(self):
        self.peer.publish("1.5.5.5.2.0.2.1.e164.arpa", """
            3.2.1.0 NAPTR 10 100 "u" "E2U+ifax:mailto" "!^.*$!mailto:fax@peer.test!" .
        """)
        [record] = self.resolve("3.2.1.0.1.5.5.5.2.0.2.1.e164.arpa", "NAPTR")
        self.assertIn('"E2U+ifax:mailto"', record)
        self.assertIn("mailto:fax@peer.test", record)

    def test_stopped_server_answers_nothing(self):
        self.peer.publish("down.test", '@ TXT "up"\n')
        self.peer.stop()
        try:
            with self.assertRaises(dns.exception.DNSException):
                self.resolve("down.test", "TXT")
        finally:
            self.peer.start()
        self.assertEqual(self.resolve("down.test", "TXT"), ['"up"'])


if __name__ == "__main__":
    if not dns_peer.available():
        print("SKIP: Knot DNS is not installed", file=sys.stderr)
        sys.exit(dns_peer.SKIP)
    unittest.main()
