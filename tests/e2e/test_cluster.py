"""Several umstore nodes on one PostgreSQL database: whatever node a client
or gateway reaches, it sees the same store, and the jobs of a node that dies
are finished by another, exactly once.

- IMAP IDLE on node B sees, within 1 s, a message delivered by SMTP to node A.
- A phone subscribed (SIP SUBSCRIBE, message-summary) on node B gets the
  NOTIFY for a voicemail posted to node A.
- An HTTP POST on node A is visible by GET on node B; the same idempotency
  key posted on node B names the same job.
- A voicemail job held by node A (retrying a full mailbox) is taken over by
  node B when A is killed with SIGKILL, and stored once.
- A burst of voicemails posted to node A, which is killed with SIGKILL right
  after the last 202: every acknowledged job ends delivered, each stored once.
- A message for another domain, queued on node A while the next hop is
  down, is relayed by node B once A is killed: once.
- `umstore cluster status` lists both nodes and their heartbeats.""" 
import imaplib
import json
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import postgres_peer  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from umstore_harness import DOMAIN, SAMPLES, Umstore, private_database  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "cluster-password"
TOKEN = "gw-cluster-token-0123456789"
LEASE_SECONDS = 2
VOICE = SAMPLES / "voicemail.wav"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_port():
    return free_port(socket.SOCK_DGRAM)


def config(node, smarthost_port, sip_port):
    return f"""
[umstore]
domain = {DOMAIN}

[sip]
listen = 127.0.0.1:{sip_port}
gateways = 127.0.0.1

[smtp]
smarthost = 127.0.0.1:{smarthost_port}
trusted_networks = 127.0.0.1/32
retry_base = 1
retry_max = 1

[gateways]
gw1 = {TOKEN}

[cluster]
node_id = {node}
lease_seconds = {LEASE_SECONDS}

[ingest]
retry_intervals = 1
workers = 1
"""


def curl(port, path, *args):
    r = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", f"http://127.0.0.1:{port}{path}",
                        "-H", f"Authorization: Bearer {TOKEN}", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(body)


def post_voicemail(port, *extra):
    code, body = curl(port, "/v1/voicemail", "-F", f"file=@{VOICE};type=audio/wav", "-F", f"to={NUMBER}",
                      "-F", "from=+15550123", *extra)
    assert code == 202, (code, body)
    return body["id"]


def status(port, job):
    code, body = curl(port, f"/v1/messages/{job}")
    assert code == 200, (code, body)
    return body


def wait_status(port, job, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        body = status(port, job)
        if body["status"] != "queued":
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job} still queued after {seconds} s: {body}")


def ingest_ids(server):
    """How many times each ingest id is stored, over every folder."""
    counts = {}
    for message in server.stored_messages():
        head = message.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        for job in re.findall(r"^X-Umstore-Ingest-Id: (\S+)", head, re.M):
            counts[job] = counts.get(job, 0) + 1
    return counts


def idle_sees_smtp_delivery(a, b):
    conn = imaplib.IMAP4("127.0.0.1", b.imap_port, timeout=30)
    conn.login(NUMBER, PASSWORD)
    typ, data = conn.select("INBOX")
    before = int(data[0])
    tag = conn._new_tag().decode()
    conn.send(f"{tag} IDLE\r\n".encode())
    assert conn.readline().startswith(b"+"), "IDLE was not accepted"
    with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=30) as smtp:
        smtp.sendmail(f"caller@{DOMAIN}", [f"{NUMBER}@{DOMAIN}"],
                      f"From: caller@{DOMAIN}\r\nTo: {NUMBER}@{DOMAIN}\r\nSubject: via node a\r\n\r\nhello\r\n")
    sent = time.monotonic()
    conn.sock.settimeout(5)
    line = conn.readline()
    seen = time.monotonic() - sent
    assert line.strip() == f"* {before + 1} EXISTS".encode(), line
    conn.send(b"DONE\r\n")
    while not conn.readline().startswith(tag.encode()):
        pass
    conn.logout()
    assert seen < 1.0, f"node b's IDLE heard of node a's delivery after {seen:.2f} s"
    return seen


class Phone:
    """A SIP phone on UDP that subscribes to its message summary (RFC 3842)
    and answers the NOTIFYs."""

    def __init__(self, server_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        port = self.sock.getsockname()[1]
        self.sock.sendto((f"SUBSCRIBE sip:{NUMBER}@127.0.0.1 SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKcluster1\r\n"
                          f"From: <sip:{NUMBER}@127.0.0.1>;tag=ph1\r\nTo: <sip:{NUMBER}@127.0.0.1>\r\n"
                          "Call-ID: mwi-cluster@127.0.0.1\r\nCSeq: 1 SUBSCRIBE\r\n"
                          f"Contact: <sip:phone@127.0.0.1:{port}>\r\nEvent: message-summary\r\n"
                          "Accept: application/simple-message-summary\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n")
                         .encode(), ("127.0.0.1", server_port))

    def next_summary(self):
        """The body of the next NOTIFY (answered 200 OK)."""
        while True:
            data, peer = self.sock.recvfrom(65535)
            text = data.decode("utf-8", "replace")
            if not text.startswith("NOTIFY "):
                continue
            head, _, body = text.partition("\r\n\r\n")
            copied = [line for line in head.split("\r\n")[1:]
                      if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
            self.sock.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(copied) + "\r\nContent-Length: 0\r\n\r\n")
                             .encode(), peer)
            return body

    def new_voice_messages(self):
        return int(re.search(r"Voice-Message: (\d+)/", self.next_summary()).group(1))


def mwi_across_nodes(a, b_sip_port):
    phone = Phone(b_sip_port)
    before = phone.new_voice_messages()
    posted = time.monotonic()
    job = post_voicemail(a.http_port)
    while (count := phone.new_voice_messages()) <= before:
        assert time.monotonic() - posted < 10, "the phone on node b never heard of node a's voicemail"
    heard = time.monotonic() - posted
    assert count == before + 1, (before, count)
    assert heard < 2.0, f"the phone on node b heard of node a's voicemail after {heard:.2f} s"
    phone.sock.close()
    return job, heard


def main():
    if not postgres_peer.available():
        print("SKIP: PostgreSQL 15 is not installed", file=sys.stderr)
        sys.exit(77)
    with postgres_peer.PostgresPeer() as pg:
        dsn = private_database(pg.dsn)
        next_hop = free_port()  # nothing listens there until the relay test starts its sink
        sip_a, sip_b = free_udp_port(), free_udp_port()
        with Umstore(config("a", next_hop, sip_a), store_dsn=dsn) as a, \
                Umstore(config("b", next_hop, sip_b), store_dsn=dsn) as b:
            a.add_mailbox(NUMBER, "Cluster Test", PASSWORD)
            a.start()
            b.start()

            seen = idle_sees_smtp_delivery(a, b)
            mwi_job, mwi_seconds = mwi_across_nodes(a, sip_b)

            # A POST on one node, a GET on the other; the idempotency key is the cluster's.
            job = post_voicemail(a.http_port, "-H", "Idempotency-Key: call-1")
            assert wait_status(b.http_port, job, 30)["status"] == "delivered"
            code, again = curl(b.http_port, "/v1/voicemail", "-F", f"file=@{VOICE};type=audio/wav",
                               "-F", f"to={NUMBER}", "-H", "Idempotency-Key: call-1")
            assert code == 202 and again["id"] == job and again.get("duplicate") is True, (code, again)

            # A job node a holds (the mailbox has too little room left: it
            # retries every second) is finished by node b once a is killed
            # and its lease runs out. Not full yet, or the POST gets 507.
            used = int(re.search(r"(\d+) of \S+ bytes", a.run("mailbox", "show", NUMBER).stdout).group(1))
            a.run("mailbox", "set", NUMBER, "--quota", str(used + 1000))
            held = post_voicemail(a.http_port)
            time.sleep(1.5)
            assert status(b.http_port, held)["status"] == "queued"
            a.stop(signal.SIGKILL)
            killed = time.monotonic()
            b.run("mailbox", "set", NUMBER, "--quota", "0")
            final = wait_status(b.http_port, held, 30)
            takeover_seconds = time.monotonic() - killed
            assert final["status"] == "delivered", final
            assert "taken over from node a" in b.log_path.read_text()

            # A burst on node a, killed right after the last 202.
            a.start()
            burst = [post_voicemail(a.http_port) for _ in range(20)]
            a.stop(signal.SIGKILL)
            killed = time.monotonic()
            finals = {job: wait_status(b.http_port, job, 60)["status"] for job in burst}
            recover_seconds = time.monotonic() - killed
            counts = ingest_ids(b)
            acknowledged = [mwi_job, job, held] + burst
            lost = [j for j in acknowledged if counts.get(j, 0) == 0]
            duplicated = [j for j, n in counts.items() if n > 1]
            assert all(s == "delivered" for s in finals.values()), finals
            assert not lost, f"acknowledged but not stored: {lost}"
            assert not duplicated, f"stored more than once: {duplicated}"

            # The SMTP queue: a relayed message node a holds while the next hop is down.
            a.start()
            with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=30) as smtp:
                smtp.sendmail(f"{NUMBER}@{DOMAIN}", ["someone@example.org"],
                              "From: a@vm.example.net\r\nSubject: relay\r\nX-Token: relay-1\r\n\r\nhi\r\n")
            time.sleep(1.5)  # node a tried once and holds it for the next try
            a.stop(signal.SIGKILL)
            killed = time.monotonic()
            sink = SmtpSink(next_hop)
            relayed = sink.wait_for("someone@example.org", timeout=60)
            relay_seconds = time.monotonic() - killed
            assert b"X-Token: relay-1" in relayed
            time.sleep(3)  # room for a second copy, were there one
            copies = sum(1 for _, data in sink.messages if b"X-Token: relay-1" in data)
            assert copies == 1, f"relayed {copies} times"
            deadline = time.time() + 10  # finished envelopes leave the shared queue
            while "0 message(s) queued" not in b.run("queue", "list").stdout:
                assert time.time() < deadline, b.run("queue", "list").stdout
                time.sleep(0.2)

            nodes = b.run("cluster", "status").stdout
            assert re.search(r"^a\s", nodes, re.M) and re.search(r"^b\s", nodes, re.M), nodes
            print(f"cluster: IDLE on b heard a's SMTP delivery in {seen * 1000:.0f} ms; the phone on b heard of a "
                  f"voicemail posted to a {mwi_seconds * 1000:.0f} ms after the POST; held job taken over "
                  f"{takeover_seconds:.1f} s after SIGKILL (lease {LEASE_SECONDS} s); burst: {len(acknowledged)} "
                  f"acknowledged, {sum(counts.get(j, 0) for j in acknowledged)} stored, {len(lost)} lost, "
                  f"{len(duplicated)} duplicated, all final {recover_seconds:.1f} s after SIGKILL; relayed message "
                  f"taken over and sent once {relay_seconds:.1f} s after SIGKILL")
            print(nodes)


if __name__ == "__main__":
    main()
