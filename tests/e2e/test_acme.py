"""ACME (RFC 8555) end to end against pebble, the ACME test server Debian
ships: umstore with `[acme] enabled` registers an account, proves control of
mail.acme.test through an http-01 challenge (pebble's validator finds the
name through a private Knot server and fetches the token from umstore's
challenge listener), gets a certificate and presents it on IMAPS without a
restart; a client trusting pebble's root verifies it for mail.acme.test.
After a restart the certificate on disk is used, not issued again.

Needs pebble, Knot and openssl: exit 77 (a visible skip) without them."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import dns_peer  # noqa: E402
from test_ingest_webhooks import TestCertificates  # noqa: E402
from umstore_harness import Umstore, wait_for  # noqa: E402

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
NAME = "mail.acme.test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pebble:
    def __init__(self, work, certificate, dns_port, http_port):
        self.port, self.management_port = free_port(), free_port()
        cert, key = certificate
        config = Path(work) / "pebble.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": cert, "privateKey": key, "httpPort": http_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
        self.log = open(Path(work) / "pebble.log", "w")
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        self.process = subprocess.Popen([PEBBLE, "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}",
                                         "-strict", "false"], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("pebble did not start: " + (Path(work) / "pebble.log").read_text())

    def root(self, ca_file):
        context = ssl.create_default_context(cafile=str(ca_file))
        with urllib.request.urlopen(f"https://127.0.0.1:{self.management_port}/roots/0", context=context) as r:
            return r.read().decode()

    def close(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        self.log.close()


class Acme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        work = tempfile.mkdtemp(prefix="umstore-acme-")
        cls.addClassCleanup(shutil.rmtree, work, True)
        certs = TestCertificates(work)
        cls.ca = certs.authority("ca")
        cls.dns = dns_peer.DnsPeer().start()
        cls.addClassCleanup(cls.dns.cleanup)
        cls.dns.publish("acme.test", "mail A 127.0.0.1\n")
        challenge_port = free_port()
        cls.pebble = Pebble(work, certs.server("localhost", "ca", "DNS:localhost,IP:127.0.0.1"), cls.dns.port,
                            challenge_port)
        cls.addClassCleanup(cls.pebble.close)
        cls.server = Umstore(config_text=f"""
[acme]
enabled = true
directory = https://127.0.0.1:{cls.pebble.port}/dir
domains = {NAME}
email = postmaster@acme.test
ca_file = {cls.ca}
http_listen = 127.0.0.1:{challenge_port}

[listen]
imaps = 127.0.0.1:0
""")
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    def imaps_certificate(self, root_pem):
        """The greeting over IMAPS, the certificate verified for NAME against pebble's root; None if it fails."""
        context = ssl.create_default_context(cadata=root_pem)
        port = int(self.server.info["imaps"].rsplit(":", 1)[1])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=NAME) as tls:
                    return tls.recv(200)
        except ssl.SSLError:
            return None

    def test_certificate_issued_installed_and_kept(self):
        root = self.pebble.root(self.ca)
        try:
            wait_for(lambda: self.imaps_certificate(root), "IMAPS presenting the ACME certificate", 60)
        except AssertionError as e:
            raise AssertionError(f"{e}; umstore log:\n{self.server.log_path.read_text()[-3000:]}") from None
        self.assertTrue(self.imaps_certificate(root).startswith(b"* OK"))
        acme_dir = self.server.data_dir / "acme"
        self.assertEqual(os.stat(acme_dir / "key.pem").st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(acme_dir / "account.key").st_mode & 0o777, 0o600)
        issued = (acme_dir / "cert.pem").read_bytes()
        self.assertIn(f"certificate for {NAME} issued by", self.server.log_path.read_text())

        # A restart presents the certificate on disk at once and asks the CA for nothing.
        self.server.stop()
        self.server.start()
        self.assertIsNotNone(self.imaps_certificate(root))
        time.sleep(1)
        self.assertEqual((acme_dir / "cert.pem").read_bytes(), issued)
        self.assertNotIn("asking", self.server.log_path.read_text())  # the log of the second run


if __name__ == "__main__":
    missing = [what for what, ok in [("pebble", os.path.exists(PEBBLE)), ("knot", dns_peer.available()),
                                     ("openssl", shutil.which("openssl"))] if not ok]
    if missing:
        print("SKIP: needs " + ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    unittest.main()
