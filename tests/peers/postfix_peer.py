"""A private Postfix instance (and optionally a private Dovecot LMTP) for tests
and benchmarks, independent of the system's Postfix (which need not run, and
whose /etc/postfix is never read or changed).

Needs: root, the Debian packages `postfix` (installed with
DEBIAN_FRONTEND=noninteractive and main_mailer_type 'No configuration') and,
for delivery="lmtp", `dovecot-lmtpd`.

    from postfix_peer import PostfixPeer          # sys.path += [".../tests/peers"]

    with PostfixPeer(domain="peer.test", mailboxes=["alice"]) as pf:
        smtplib.SMTP("127.0.0.1", pf.port).sendmail(
            "x@example.org", ["alice@peer.test"], msg_bytes)
        [msg] = pf.wait_for_messages("alice", 1)  # bytes of each delivered message

Everything lives in one temporary directory (`pf.work`): config_directory
`conf/`, queue_directory `queue/`, data_directory `data/`, the log
`postfix.log` (maillog_file, no syslog needed), Maildirs under `mail/`.

Constructor (all keyword arguments):
  port=0            TCP port of smtpd on 127.0.0.1 (0: a free one; `pf.port`)
  domain            the domain Postfix delivers itself (a virtual mailbox
                    domain); unknown users there get 550 5.1.1 at RCPT
  mailboxes=()      local parts that exist in `domain`
  delivery="maildir"  "maildir": Postfix's virtual agent writes
                    mail/<user>/ ; "lmtp": Postfix hands the mail to a
                    private Dovecot LMTP which writes dovecot/mail/<user>/Maildir/
  transports={}     {"other.domain": "smtp:[127.0.0.1]:2525"}: route those
                    domains (accepted as relay_domains) to that next hop
  relayhost=""      e.g. "[127.0.0.1]:2525": everything else goes there
  tls=False         True: a self-signed certificate and smtpd_tls_security_level
                    = may (STARTTLS offered), smtp_tls_security_level = may
  fast_retry=True   queue_run_delay/minimal_backoff_time 1 s, so deferred
                    mail is retried at once (tests)
  main_cf={}        any further main.cf parameters (override the above), e.g.
                    {"delay_warning_time": "2s"},
                    {"smtpd_discard_ehlo_keywords": "dsn"}

Methods: start() / stop() (also a context manager),
reconfigure(transports=, relayhost=, main_cf=, mailboxes=) (rewrite + reload),
maildir(user) -> Path,
messages(user) -> [bytes], wait_for_messages(user, n, timeout=30) -> [bytes],
log_text() -> str, wait_for_log(regex, timeout=30) -> re.Match,
flush() (retry the deferred queue now), queue_ids() -> [str],
wait_for_empty_queue(timeout=30).
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} does not listen on 127.0.0.1:{port} after {timeout} s")


# Every service runs without chroot: the instance's files are under a temp dir.
MASTER_CF = """\
{listen} inet n - n - {smtpd_processes} smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixPeer:
    def __init__(self, *, port=0, domain="peer.test", mailboxes=(), delivery="maildir",
                 transports=None, relayhost="", tls=False, fast_retry=True, main_cf=None,
                 durable=True, smtpd_processes=100, workdir=None, imap=False):
        if delivery not in ("maildir", "lmtp"):
            raise ValueError("delivery must be 'maildir' or 'lmtp'")
        if imap and delivery != "lmtp":
            raise ValueError("imap needs delivery='lmtp' (Dovecot serves the Maildirs it writes)")
        self.port = port or free_port()
        self.domain = domain
        self.mailboxes = list(mailboxes)
        self.delivery = delivery
        self.transports = dict(transports or {})
        self.relayhost = relayhost
        self.tls = tls
        self.fast_retry = fast_retry
        self.extra = dict(main_cf or {})
        self.durable = durable
        self.smtpd_processes = smtpd_processes
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.mkdtemp(prefix="postfix-peer-")
            workdir = self._tmp
        self.work = Path(workdir)
        self.conf = self.work / "conf"
        self.queue = self.work / "queue"
        self.data = self.work / "data"
        self.mail = self.work / "mail"
        self.log_path = self.work / "postfix.log"
        self.dovecot_dir = self.work / "dovecot"
        self.lmtp_port = None
        self.imap = imap
        self.imap_port = None  # with imap=True: Dovecot IMAP on the same Maildirs, any password
        self._started = False
        self._dovecot_started = False

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if os.geteuid() != 0:
            raise RuntimeError("PostfixPeer needs root (Postfix's master runs as root)")
        if not shutil.which("postfix") and not Path("/usr/sbin/postfix").exists():
            raise RuntimeError("postfix is not installed (scripts/install-deps.sh)")
        os.chmod(self.work, 0o755)
        for d in (self.conf, self.queue, self.data, self.mail):
            d.mkdir(parents=True, exist_ok=True)
        os.chown(self.data, _uid("postfix"), _gid("postfix"))
        os.chown(self.mail, NOBODY_UID, NOBODY_GID)
        if self.delivery == "lmtp":
            self._start_dovecot()
        self._write_config()
        self._postfix("start")
        self._started = True
        _wait_for_port(self.port, 30, "Postfix smtpd")
        return self

    def stop(self):
        if self._started:
            subprocess.run(self._cmd("stop"), capture_output=True, timeout=30)
            pid_file = self.queue / "pid" / "master.pid"
            deadline = time.time() + 15
            while time.time() < deadline and pid_file.exists() and _alive(pid_file):
                time.sleep(0.1)
            self._started = False
        if self._dovecot_started:
            pid_file = self.dovecot_dir / "run" / "master.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().split()[0]), 15)
                except (ProcessLookupError, ValueError):
                    pass
                deadline = time.time() + 30  # Dovecot waits for its LMTP processes
                while time.time() < deadline and _alive(pid_file):
                    time.sleep(0.1)
            self._dovecot_started = False
        if self._tmp and not os.environ.get("KEEP_POSTFIX_PEER"):
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def reconfigure(self, *, transports=None, relayhost=None, main_cf=None, mailboxes=None):
        """Changes routes, relayhost, mailboxes or main.cf parameters of the
        running instance (`main_cf` replaces the earlier extra parameters)
        and reloads it; later connections see the change."""
        if transports is not None:
            self.transports = dict(transports)
        if relayhost is not None:
            self.relayhost = relayhost
        if main_cf is not None:
            self.extra = dict(main_cf)
        if mailboxes is not None:
            self.mailboxes = list(mailboxes)
        self._write_config()
        self._postfix("reload")
        time.sleep(0.5)  # the master restarts its children; smtpd processes exit once idle

    # -- configuration -----------------------------------------------------
    def _cmd(self, *args):
        return ["postfix", "-c", str(self.conf), *args]

    def _postfix(self, *args):
        r = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {r.stdout}{r.stderr}\n{self.log_text()[-2000:]}")
        return r

    def _main_cf(self):
        p = {
            "compatibility_level": "3.6",
            "config_directory": str(self.conf),
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.work),
            "myhostname": "postfix-peer.test",
            "mydomain": "postfix-peer.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtputf8_enable": "yes",
            "smtp_dns_support_level": "disabled",
            "disable_dns_lookups": "yes",
            "smtpd_helo_required": "no",
            "local_recipient_maps": "",
            "virtual_mailbox_domains": self.domain,
            "virtual_mailbox_maps": f"texthash:{self.conf / 'vmailbox'}",
            "virtual_mailbox_base": str(self.mail),
            "virtual_uid_maps": f"static:{NOBODY_UID}",
            "virtual_gid_maps": f"static:{NOBODY_GID}",
            "virtual_minimum_uid": "100",
            "relay_domains": " ".join(self.transports) or "",
            "transport_maps": f"texthash:{self.conf / 'transport'}",
            "relayhost": self.relayhost,
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "default_process_limit": "200",
            "smtp_tls_security_level": "may" if self.tls else "none",
            "smtpd_tls_security_level": "may" if self.tls else "none",
            "smtpd_tls_loglevel": "1",
            "smtp_tls_loglevel": "1",
        }
        if self.delivery == "lmtp":
            p["virtual_transport"] = f"lmtp:inet:127.0.0.1:{self.lmtp_port}"
            p["lmtp_destination_concurrency_limit"] = "50"
        if self.tls:
            p["smtpd_tls_cert_file"] = str(self.conf / "cert.pem")
            p["smtpd_tls_key_file"] = str(self.conf / "key.pem")
        if self.fast_retry:
            p.update({"queue_run_delay": "1s", "minimal_backoff_time": "1s",
                      "maximal_backoff_time": "2s", "smtp_connect_timeout": "5s"})
        p.update(self.extra)
        return p

    def _write_config(self):
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in self._main_cf().items()))
        listen = f"127.0.0.1:{self.port}"
        (self.conf / "master.cf").write_text(MASTER_CF.format(listen=listen, smtpd_processes=self.smtpd_processes))
        (self.conf / "vmailbox").write_text(
            "".join(f"{u}@{self.domain} {u}/\n" for u in self.mailboxes))
        (self.conf / "transport").write_text("".join(f"{d} {t}\n" for d, t in self.transports.items()))
        if self.tls and not (self.conf / "cert.pem").exists():
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=postfix-peer.test", "-keyout", str(self.conf / "key.pem"),
                            "-out", str(self.conf / "cert.pem")], check=True, capture_output=True)
            os.chmod(self.conf / "key.pem", 0o600)

    def _start_dovecot(self):
        d = self.dovecot_dir
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
        os.chown(d / "mail", NOBODY_UID, NOBODY_GID)
        self.lmtp_port = free_port()
        imap_service = ""
        if self.imap:
            self.imap_port = free_port()
            imap_service = f"""service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
}}
"""
        (d / "dovecot.conf").write_text(f"""\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = lmtp{" imap" if self.imap else ""}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
first_valid_uid = 1
auth_username_chars =
auth_username_format = %Ln
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={NOBODY_UID} gid={NOBODY_GID} home={d}/mail/%n allow_all_users=yes
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
  process_min_avail = 2
}}
""" + imap_service)
        # Dovecot daemonizes; its children would keep a captured pipe open.
        with open(d / "start.log", "w") as start_log:
            r = subprocess.run(["dovecot", "-c", str(d / "dovecot.conf")], stdin=subprocess.DEVNULL,
                               stdout=start_log, stderr=subprocess.STDOUT, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"dovecot failed to start: {(d / 'start.log').read_text()}")
        self._dovecot_started = True
        _wait_for_port(self.lmtp_port, 30, "Dovecot LMTP")
        if self.imap:
            _wait_for_port(self.imap_port, 30, "Dovecot IMAP")

    # -- observing -----------------------------------------------------------
    def maildir(self, user):
        if self.delivery == "lmtp":
            return self.dovecot_dir / "mail" / user / "Maildir"
        return self.mail / user

    def messages(self, user):
        out = []
        for sub in ("new", "cur"):
            folder = self.maildir(user) / sub
            if folder.is_dir():
                out += [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]
        return out

    def wait_for_messages(self, user, n, timeout=30):
        deadline = time.time() + timeout
        while True:
            got = self.messages(user)
            if len(got) >= n or time.time() > deadline:
                if len(got) < n:
                    raise AssertionError(f"{user}@{self.domain}: {len(got)} of {n} messages after {timeout} s;"
                                         f" log:\n{self.log_text()[-3000:]}")
                return got
            time.sleep(0.1)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern, timeout=30):
        regex = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            m = regex.search(self.log_text())
            if m:
                return m
            if time.time() > deadline:
                raise AssertionError(f"{pattern!r} not in the Postfix log after {timeout} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    def flush(self):
        self._postfix("flush")

    def queue_ids(self):
        ids = []
        for sub in ("incoming", "active", "deferred", "hold", "maildrop"):
            folder = self.queue / sub
            if folder.is_dir():
                ids += [p.name for p in folder.rglob("*") if p.is_file()]
        return ids

    def wait_for_empty_queue(self, timeout=30):
        deadline = time.time() + timeout
        while self.queue_ids():
            if time.time() > deadline:
                raise AssertionError(f"Postfix queue not empty after {timeout} s: {self.queue_ids()}")
            time.sleep(0.1)


def _uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid


def _gid(name):
    import grp
    return grp.getgrnam(name).gr_gid


def _alive(pid_file):
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
        return True
    except (OSError, ValueError):
        return False
