"""A private authoritative DNS server (Knot DNS) for tests, on a free
127.0.0.1 port, serving zones the test gives as text. Independent of any
system resolver or DNS server (/etc/knot is never read or changed).

Needs the Debian package `knot` (knotd, knotc). Knot was chosen over NSD
because it starts faster unprivileged from a temporary directory (about
0.35 s here, NSD 4.6 0.7 s) and `knotc status` says when it is up.

    from dns_peer import DnsPeer                    # sys.path += [".../tests/peers"]

    with DnsPeer() as dns:
        dns.publish("example.test", '''
            @        TXT "v=spf1 ip4:127.0.0.1 -all"
            _dmarc   TXT "v=DMARC1; p=reject"
        ''')                                        # SOA and NS are added
        dns.port                                    # UDP and TCP on 127.0.0.1
        dns.stop(); dns.start()                     # for temperror tests

Zone text is master-file syntax relative to the zone's origin; `$TTL 60` is
the default. publish() replaces a zone (or adds one) and restarts the server
(a restart is 0.3 s and avoids Knot's config-reload corner cases); remove(zone)
takes one away. Everything lives in `dns.work`: knot.conf, zones/, knotd.log.

As a command, it runs another command with a server started for it:

    dns_peer.py run [--zone NAME=FILE ...] -- COMMAND [ARGS...]

sets UMSTORE_TEST_DNS_PORT (the port) and UMSTORE_TEST_DNS_CONTROL (a command
prefix: append `publish ZONE` with the zone text on stdin, `remove ZONE`,
`stop` or `start`) for COMMAND and returns its exit code, or exits 77 (CTest's
skip code) when Knot is not installed. The control commands act on the same
server, so C++ tests can publish keys they made and stop the server.
"""
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SKIP = 77
KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"


def available():
    return os.path.exists(KNOTD) and os.path.exists(KNOTC)


def free_port():
    # The port must be free for both UDP and TCP.
    while True:
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


class DnsPeer:
    def __init__(self, port=0, work=None):
        if not available():
            raise RuntimeError(f"Knot DNS is not installed ({KNOTD} missing): apt-get install knot")
        self.work = Path(work) if work else Path(tempfile.mkdtemp(prefix="umstore-dns-"))
        self.zones = self.work / "zones"
        self.conf = self.work / "knot.conf"
        self.log = self.work / "knotd.log"
        self.pidfile = self.work / "knotd.pid"
        if work is None or not self.conf.exists():
            self.port = port or free_port()
            self.zones.mkdir(parents=True, exist_ok=True)
            (self.work / "db").mkdir(exist_ok=True)
            self._write_conf()
        else:
            self.port = int(self.conf.read_text().split("listen: 127.0.0.1@")[1].split()[0])

    @classmethod
    def attach(cls, work):
        """The peer whose files are in `work` (for the control commands)."""
        return cls(work=work)

    def _write_conf(self):
        self.conf.write_text(textwrap.dedent(f"""\
            server:
                rundir: "{self.work}"
                pidfile: "{self.pidfile}"
                listen: 127.0.0.1@{self.port}
            database:
                storage: "{self.work}/db"
            log:
              - target: "{self.log}"
                any: info
            template:
              - id: default
                storage: "{self.zones}"
                file: "%s.zone"
                semantic-checks: off
                zonefile-sync: -1
                zonefile-load: whole
                journal-content: none
            include: "{self.zones}/*.conf"
            """))

    def publish(self, zone, text, signed=False):
        """Serves `zone` with the records of `text` (zone file lines, names
        relative to the zone). `signed`: Knot signs it with DNSSEC (ECDSA
        P-256, NSEC), with the same keys each time; trust_anchor() gives
        them to a validating resolver."""
        zone = zone.rstrip(".")
        body = textwrap.dedent(text).strip("\n")
        serial = int(time.time())
        (self.zones / f"{zone}.zone").write_text(
            f"$ORIGIN {zone}.\n$TTL 60\n"
            f"@ SOA ns.{zone}. hostmaster.{zone}. {serial} 3600 600 86400 60\n"
            f"@ NS ns.{zone}.\n"
            f"ns.{zone}. A 127.0.0.1\n" + body + "\n")
        conf = f"zone:\n  - domain: {zone}.\n"
        if signed:
            conf = (f"policy:\n  - id: signed-{zone}\n    algorithm: ecdsap256sha256\n"
                    f"zone:\n  - domain: {zone}.\n    dnssec-signing: on\n    dnssec-policy: signed-{zone}\n")
        (self.zones / f"{zone}.conf").write_text(conf)
        self.restart()

    def trust_anchor(self, zone):
        """The DNSKEY records of a signed zone, in zone file format: the
        trust anchors a validating resolver needs for it."""
        zone = zone.rstrip(".")
        out = subprocess.run([KNOTC, "-c", str(self.conf), "zone-read", f"{zone}.", "@", "DNSKEY"],
                             capture_output=True, text=True, check=True).stdout
        # "[zone.] zone. 60 DNSKEY 257 3 13 ..." -> "zone. 60 IN DNSKEY 257 3 13 ..."
        records = []
        for line in out.splitlines():
            fields = line.split("] ", 1)[-1].split()
            if len(fields) > 3 and fields[2] == "DNSKEY":
                records.append(" ".join(fields[:2] + ["IN"] + fields[2:]))
        if not records:
            raise RuntimeError(f"{zone} has no DNSKEY (is it signed?):\n{out}\n{self._log_tail()}")
        return "\n".join(records) + "\n"

    def remove(self, zone):
        zone = zone.rstrip(".")
        for suffix in (".zone", ".conf"):
            (self.zones / f"{zone}{suffix}").unlink(missing_ok=True)
        self.restart()

    def running(self):
        return subprocess.run([KNOTC, "-c", str(self.conf), "status"], capture_output=True).returncode == 0

    def start(self):
        if self.running():
            return self
        subprocess.run([KNOTD, "-c", str(self.conf), "-d"], check=True, capture_output=True)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.running():
                # knotd answers on its control socket slightly before it has
                # loaded every zone; a zone's SOA over UDP is the real signal.
                if all(self._answers(p.stem) for p in self.zones.glob("*.zone")):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"knotd not ready on 127.0.0.1:{self.port} after {timeout} s:\n"
                           + self._log_tail())

    def _log_tail(self):
        """The end of knotd's log without the control socket's chatter."""
        if not self.log.exists():
            return ""
        lines = [l for l in self.log.read_text().splitlines() if "received command 'status'" not in l]
        return "\n".join(lines[-30:])

    def _answers(self, zone):
        """True when the server answers the zone's SOA authoritatively."""
        query = (b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                 + b"".join(bytes([len(label)]) + label.encode() for label in zone.split(".") if label)
                 + b"\x00\x00\x06\x00\x01")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                reply = s.recv(4096)
            except OSError:
                return False
        return len(reply) > 12 and reply[3] & 0x0F == 0 and reply[2] & 0x04 and reply[6:8] != b"\x00\x00"

    def stop(self):
        if self.running():
            subprocess.run([KNOTC, "-c", str(self.conf), "stop"], capture_output=True)
        deadline = time.time() + 10
        while self.pidfile.exists() and time.time() < deadline:
            time.sleep(0.05)
        self._kill_leftover()

    def _kill_leftover(self):
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.pidfile.unlink(missing_ok=True)

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def control(work, argv):
    peer = DnsPeer.attach(work)
    if argv[:1] == ["publish"] and len(argv) == 2:
        peer.publish(argv[1], sys.stdin.read())
    elif argv[:1] == ["remove"] and len(argv) == 2:
        peer.remove(argv[1])
    elif argv == ["stop"]:
        peer.stop()
    elif argv == ["start"]:
        peer.start()
    else:
        print("usage: dns_peer.py control WORKDIR publish ZONE < text | remove ZONE | stop | start",
              file=sys.stderr)
        return 2
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "control":
        return control(argv[2], argv[3:])
    if len(argv) < 4 or argv[1] != "run" or "--" not in argv:
        print("usage: dns_peer.py run [--zone NAME=FILE ...] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    split = argv.index("--")
    options, command = argv[2:split], argv[split + 1:]
    if not command or len(options) % 2 or any(o != "--zone" for o in options[::2]):
        print("usage: dns_peer.py run [--zone NAME=FILE ...] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if not available():
        print(f"SKIP: Knot DNS is not installed ({KNOTD} missing)", file=sys.stderr)
        return SKIP
    with DnsPeer() as dns:
        for spec in options[1::2]:
            name, path = spec.split("=", 1)
            dns.publish(name, Path(path).read_text())
        ctl = [sys.executable, os.path.abspath(__file__), "control", str(dns.work)]
        env = dict(os.environ, UMSTORE_TEST_DNS_PORT=str(dns.port),
                   UMSTORE_TEST_DNS_CONTROL=shlex.join(ctl))
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
