"""The Debian package as an operator gets it: built from the tree (CPack),
installed with dpkg on this machine, the service started (by systemd when it
is PID 1, else the unit's ExecStart by hand as the service user, with
NOTIFY_SOCKET as systemd would give it), a voicemail delivered and read back
over IMAP; then the package is purged. Needs root (dpkg); exits 77 (skipped)
otherwise, or when an umstore package this test did not install is already
installed here. One this test installed (a run killed by CTest's timeout
leaves it: tearDownClass never ran) is purged first, with its data."""
import imaplib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SAMPLES, UMSTORE  # noqa: E402

BUILD_DIR = Path(UMSTORE).resolve().parents[1]
DATA_DIR = Path("/var/lib/umstore")
# Outside the package's files, so only this test writes and reads it.
OWN_INSTALL_MARK = Path("/var/lib/umstore-package-test")
NUMBER, PASSWORD = "+15550100", "package test password"


def run(*cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"{shlex.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def unit_path():
    for candidate in ("/usr/lib/systemd/system/umstore.service", "/lib/systemd/system/umstore.service"):
        if Path(candidate).exists():
            return Path(candidate)
    raise AssertionError("the package installed no umstore.service")


def systemd_is_running():
    return Path("/run/systemd/system").is_dir() and Path("/proc/1/comm").read_text().strip() == "systemd"


def remove_own_install():
    if systemd_is_running():
        subprocess.run(["systemctl", "stop", "umstore"], capture_output=True)
    subprocess.run(["pkill", "-u", "umstore"], capture_output=True)  # a by-hand service left by a killed run
    run("dpkg", "--purge", "umstore")
    # The package keeps mail data on purge, as mail servers do; this was the test's own.
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    OWN_INSTALL_MARK.unlink(missing_ok=True)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="umstore-package-")
        out = Path(cls.tmp.name)
        out.chmod(0o755)  # the service user reaches the notify socket and the sample here
        run("cpack", "-G", "DEB", "--config", str(BUILD_DIR / "CPackConfig.cmake"), "-B", str(out))
        debs = list(out.glob("umstore_*.deb"))
        assert len(debs) == 1, f"cpack made {debs}"
        cls.deb = debs[0]
        OWN_INSTALL_MARK.write_text(str(cls.deb) + "\n")
        run("dpkg", "-i", str(cls.deb))
        cls.server = None

    @classmethod
    def tearDownClass(cls):
        if cls.server and cls.server.poll() is None:
            cls.server.terminate()
            cls.server.wait(timeout=30)
        remove_own_install()
        cls.tmp.cleanup()

    def as_service_user(self, *args, stdin=None):
        return run("runuser", "-u", "umstore", "--", "env", f"UMSTORE_DATA_DIR={DATA_DIR}", *args, input=stdin)

    def test_installs_configures_serves_and_reads_over_imap(self):
        # What the package put on the machine.
        self.assertTrue(Path("/usr/bin/umstore").exists())
        self.assertIn("umstore 0.", run("/usr/bin/umstore", "--version").stdout)
        conf = Path("/etc/umstore/umstore.conf").read_text()
        for key in (";data_dir", ";domain", ";format", ";smtp", ";imap", ";http", ";cert", ";max_message_bytes",
                    ";max_voice_seconds", ";workers", ";country_code", ";listen", ";auth_realm", ";senders"):
            self.assertIn(key, conf)
        for page in ("/usr/share/man/man8/umstore.8", "/usr/share/man/man5/umstore.conf.5"):
            self.assertTrue(Path(page).exists(), page)
        unit = unit_path().read_text()
        for line in ("Type=notify", "User=umstore", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                     "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                     "ExecReload=/bin/kill -HUP $MAINPID"):
            self.assertIn(line, unit)
        self.assertEqual(run("id", "-u", "umstore").returncode, 0)
        stat = DATA_DIR.stat()
        self.assertEqual((stat.st_uid, stat.st_mode & 0o777), (int(run("id", "-u", "umstore").stdout), 0o750))

        self.as_service_user("/usr/bin/umstore", "mailbox", "add", NUMBER, "--name", "Alice Example",
                             "--password-stdin", stdin=PASSWORD + "\n")
        info = self.start_service()

        out = self.as_service_user("/usr/bin/umstore", "ingest", "voice", "--to", NUMBER, "--from", "+15550123",
                                   str(self.readable_sample()))
        self.assertIn("via SMTP", out.stdout)
        imap_host, imap_port = info["imap"].rsplit(":", 1)
        conn = imaplib.IMAP4(imap_host, int(imap_port))
        try:
            conn.login(NUMBER, PASSWORD)
            typ, data = conn.select("INBOX", readonly=True)
            self.assertEqual((typ, int(data[0])), ("OK", 1))
            typ, data = conn.fetch(b"1", "(BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)])")
            self.assertIn(b"multipart/", data[0][1])
        finally:
            conn.logout()

    def readable_sample(self):
        # The service user cannot read the source tree's samples everywhere.
        copy = Path(self.tmp.name) / "voicemail.wav"
        shutil.copy(SAMPLES / "voicemail.wav", copy)
        os.chmod(copy, 0o644)
        return copy

    def start_service(self):
        run_file = DATA_DIR / "run" / "server.json"
        if systemd_is_running():
            run("systemctl", "restart", "umstore")  # Type=notify: returns once READY=1 came
            return json.loads(run_file.read_text())
        # No systemd: the unit's ExecStart as its user, on free ports, with a
        # notify socket as systemd would pass it.
        exec_start = next(line.split("=", 1)[1] for line in unit_path().read_text().splitlines()
                          if line.startswith("ExecStart="))
        notify_path = Path(self.tmp.name) / "notify.sock"
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(notify.close)
        notify.bind(str(notify_path))
        os.chmod(notify_path, 0o777)
        notify.settimeout(60)
        cmd = ["runuser", "-u", "umstore", "--", "env", f"UMSTORE_DATA_DIR={DATA_DIR}", f"NOTIFY_SOCKET={notify_path}",
               *shlex.split(exec_start), "--smtp", "127.0.0.1:0", "--imap", "127.0.0.1:0", "--http", "127.0.0.1:0",
               "--admin", "127.0.0.1:0"]
        log = open(Path(self.tmp.name) / "serve.log", "w")
        self.addCleanup(log.close)
        type(self).server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            message = notify.recv(4096)
        except socket.timeout:
            raise AssertionError("no READY=1 within 60 s: " + (Path(self.tmp.name) / "serve.log").read_text())
        self.assertIn(b"READY=1", message)
        return json.loads(run_file.read_text())


if __name__ == "__main__":
    if os.geteuid() != 0 or not shutil.which("dpkg") or not shutil.which("cpack"):
        print("skipped: installing a package needs root, dpkg and cpack")
        sys.exit(77)
    if subprocess.run(["dpkg", "-s", "umstore"], capture_output=True).returncode == 0:
        if not OWN_INSTALL_MARK.exists():
            print("skipped: an umstore package is already installed on this machine; not touching it")
            sys.exit(77)
        print("purging the package an earlier, interrupted run of this test installed")
        remove_own_install()
    elif DATA_DIR.exists() and not OWN_INSTALL_MARK.exists():
        # Someone's data (a package installed and removed, or umstore run by hand
        # as root without --data-dir): the test would install over it and remove it.
        print(f"skipped: {DATA_DIR} exists and is not this test's; not touching it")
        sys.exit(77)
    unittest.main()
