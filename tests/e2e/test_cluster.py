"""Several umstore nodes on one PostgreSQL database: whatever node a client
or gateway reaches, it sees the same store, and the jobs of a node that dies
are finished by another, exactly once.

- IMAP IDLE on node B sees, within 1 s, a message delivered by SMTP to node A.
- An HTTP POST on node A is visible by GET on node B; the same idempotency
  key posted on node B names the same job.
- A voicemail job held by node A (retrying a full mailbox) is taken over by
  node B when A is killed with SIGKILL, and stored once.
- A burst of voicemails posted to node A, which is killed with SIGKILL right
  after the last 202: every acknowledged job ends delivered, each stored once.
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
from umstore_harness import DOMAIN, SAMPLES, Umstore, private_database  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "cluster-password"
TOKEN = "gw-cluster-token-0123456789"
LEASE_SECONDS = 2
VOICE = SAMPLES / "voicemail.wav"


def config(node):
    return f"""
[umstore]
domain = {DOMAIN}

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


def main():
    if not postgres_peer.available():
        print("SKIP: PostgreSQL 15 is not installed", file=sys.stderr)
        sys.exit(77)
    with postgres_peer.PostgresPeer() as pg:
        dsn = private_database(pg.dsn)
        with Umstore(config("a"), store_dsn=dsn) as a, Umstore(config("b"), store_dsn=dsn) as b:
            a.add_mailbox(NUMBER, "Cluster Test", PASSWORD)
            a.start()
            b.start()

            seen = idle_sees_smtp_delivery(a, b)

            # A POST on one node, a GET on the other; the idempotency key is the cluster's.
            job = post_voicemail(a.http_port, "-H", "Idempotency-Key: call-1")
            assert wait_status(b.http_port, job, 30)["status"] == "delivered"
            code, again = curl(b.http_port, "/v1/voicemail", "-F", f"file=@{VOICE};type=audio/wav",
                               "-F", f"to={NUMBER}", "-H", "Idempotency-Key: call-1")
            assert code == 202 and again["id"] == job and again.get("duplicate") is True, (code, again)

            # A job node a holds (the mailbox is full: it retries every second)
            # is finished by node b once a is killed and its lease runs out.
            a.run("mailbox", "set", NUMBER, "--quota", "1000")
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
            acknowledged = [job, held] + burst
            lost = [j for j in acknowledged if counts.get(j, 0) == 0]
            duplicated = [j for j, n in counts.items() if n > 1]
            assert all(s == "delivered" for s in finals.values()), finals
            assert not lost, f"acknowledged but not stored: {lost}"
            assert not duplicated, f"stored more than once: {duplicated}"

            nodes = b.run("cluster", "status").stdout
            assert re.search(r"^a\s", nodes, re.M) and re.search(r"^b\s", nodes, re.M), nodes
            print(f"cluster: IDLE on b heard a's SMTP delivery in {seen * 1000:.0f} ms; held job taken over "
                  f"{takeover_seconds:.1f} s after SIGKILL (lease {LEASE_SECONDS} s); burst: {len(acknowledged)} "
                  f"acknowledged, {sum(counts.get(j, 0) for j in acknowledged)} stored, {len(lost)} lost, "
                  f"{len(duplicated)} duplicated, all final {recover_seconds:.1f} s after SIGKILL")
            print(nodes)


if __name__ == "__main__":
    main()
