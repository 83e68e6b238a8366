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
- A phone's subscription moves to node a when its in-dialog re-SUBSCRIBE
  reaches a (which finds the dialog in the database); node b, which held it,
  sends no more NOTIFYs.
- A phone subscribed on node a, which is killed with SIGKILL, hears of a
  voicemail posted to node b from node b, in the same dialog (its CSeq
  following a's), once a's heartbeat is older than the lease.
- Node a restarted with the same node_id takes back the subscriptions it
  held, and adopts those of node b once b is stopped.
- `umstore cluster status` lists both nodes and their heartbeats.""" 
import imaplib
import re
import signal
import smtplib
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import postgres_peer  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from umstore_harness import DOMAIN, SAMPLES, Umstore, gateway_api, job_outcome, private_database  # noqa: E402

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

[store]
accounts_pool_size = 2
ingest_pool_size = 3
smtp_queue_pool_size = 1

[ingest]
retry_intervals = 1
workers = 1
"""


def curl(port, path, *args):
    return gateway_api(port, path, *args, token=TOKEN)


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
    return job_outcome(port, job, TOKEN, seconds)


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

    def __init__(self, server_port, call_id="mwi-cluster@127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.call_id = call_id
        self.cseq = 1
        self.responses = []  # (status line, the node's SIP port, To tag) of answers to our SUBSCRIBEs
        self.subscribe(server_port)

    def subscribe(self, server_port, to_tag=""):
        """SUBSCRIBE (in the dialog when to_tag is given) with Expires: 600."""
        to = f"<sip:{NUMBER}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
        self.sock.sendto((f"SUBSCRIBE sip:{NUMBER}@127.0.0.1 SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bKcluster{self.cseq}\r\n"
                          f"From: <sip:{NUMBER}@127.0.0.1>;tag=ph1\r\nTo: {to}\r\n"
                          f"Call-ID: {self.call_id}\r\nCSeq: {self.cseq} SUBSCRIBE\r\n"
                          f"Contact: <sip:phone@127.0.0.1:{self.port}>\r\nEvent: message-summary\r\n"
                          "Accept: application/simple-message-summary\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n")
                         .encode(), ("127.0.0.1", server_port))
        self.cseq += 1

    def next_notify(self, seconds=10):
        """The next NOTIFY (answered 200 OK): (body, the node's SIP port, its CSeq, its From tag)."""
        deadline = time.monotonic() + seconds
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data, peer = self.sock.recvfrom(65535)
            text = data.decode("utf-8", "replace")
            head, _, body = text.partition("\r\n\r\n")
            if text.startswith("SIP/2.0 "):
                to_tag = re.search(r"^To: .*;tag=([^;\s]+)", head, re.M)
                self.responses.append((head.split("\r\n", 1)[0], peer[1], to_tag and to_tag.group(1)))
            if not text.startswith("NOTIFY "):
                continue
            copied = [line for line in head.split("\r\n")[1:]
                      if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
            self.sock.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(copied) + "\r\nContent-Length: 0\r\n\r\n")
                             .encode(), peer)
            assert re.search(r"^Call-ID: ([^\r\n]*)", head, re.M).group(1) == self.call_id, head
            cseq = int(re.search(r"^CSeq: (\d+) NOTIFY", head, re.M).group(1))
            tag = re.search(r"^From: .*;tag=([^;\s]+)", head, re.M).group(1)
            return body, peer[1], cseq, tag

    def next_summary(self):
        """The body of the next NOTIFY (answered 200 OK)."""
        return self.next_notify()[0]

    def new_voice_messages(self):
        return voice_messages(self.next_summary())


def voice_messages(summary):
    return int(re.search(r"Voice-Message: (\d+)/", summary).group(1))


def hear_more(phone, node_port, than, seconds):
    """Reads NOTIFYs until one from `node_port` counts more new voice
    messages than `than`; returns (count, CSeq, From tag, seconds taken)."""
    start = time.monotonic()
    while True:
        left = seconds - (time.monotonic() - start)
        assert left > 0, f"no NOTIFY from port {node_port} counting more than {than} new voice messages in {seconds} s"
        try:
            body, port, cseq, tag = phone.next_notify(left)
        except socket.timeout:
            continue
        if port == node_port and "Messages-Waiting: yes" in body and voice_messages(body) > than:
            return voice_messages(body), cseq, tag, time.monotonic() - start


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


def refresh_moves_subscription(b_http, sip_a, sip_b):
    """A phone subscribed on node b refreshes its subscription through node
    a, which has the dialog only in the database: a answers 200 in the
    dialog and sends the NOTIFYs from then on; b stays quiet."""
    phone = Phone(sip_b, "mwi-refresh@127.0.0.1")
    body, port, cseq, tag = phone.next_notify()
    assert port == sip_b, port
    before = voice_messages(body)
    phone.subscribe(sip_a, to_tag=tag)
    body, port, refreshed_cseq, refreshed_tag = phone.next_notify()
    assert (port, refreshed_tag) == (sip_a, tag) and refreshed_cseq > cseq, (port, refreshed_tag, refreshed_cseq)
    assert ("SIP/2.0 200 OK", sip_a, tag) in phone.responses, phone.responses
    post_voicemail(b_http)
    count, heard_cseq, heard_tag, _ = hear_more(phone, sip_a, before, 10)
    assert heard_tag == tag and heard_cseq > refreshed_cseq and count == before + 1, (heard_tag, heard_cseq, count)
    try:
        _, port, _, _ = phone.next_notify(1.5)
        assert port != sip_b, "node b still notifies a subscription node a took"
    except socket.timeout:
        pass
    return phone, count


def subscription_taken_over(a, b_http, sip_a, sip_b):
    """A phone subscribed on node a, which is killed: node b sends the
    NOTIFY for a voicemail posted to it, in the same dialog."""
    phone = Phone(sip_a, "mwi-takeover@127.0.0.1")
    body, port, cseq, tag = phone.next_notify()
    assert port == sip_a, port
    before = voice_messages(body)
    a.stop(signal.SIGKILL)
    killed = time.monotonic()
    post_voicemail(b_http)
    count, heard_cseq, heard_tag, _ = hear_more(phone, sip_b, before, LEASE_SECONDS + 8)
    seconds = time.monotonic() - killed
    assert heard_tag == tag and heard_cseq > cseq, (tag, heard_tag, cseq, heard_cseq)
    assert count == before + 1, (before, count)
    return phone, count, seconds


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

            # SIP subscriptions are rows too: a refresh through another node
            # moves one, and the nodes take over those of a node that died.
            a.start()
            refreshed, refreshed_count = refresh_moves_subscription(b.http_port, sip_a, sip_b)
            survivor, survivor_count, sub_takeover_seconds = subscription_taken_over(a, b.http_port, sip_a, sip_b)
            assert f"subscription {survivor.call_id} for {NUMBER}: taken over from node a" in b.log_path.read_text()
            hear_more(refreshed, sip_b, refreshed_count, 5)  # node a held it too
            # Node a restarted with its node_id takes its own back at once, and
            # node b's (stopped, not killed: it ends none) once b's heartbeat is old.
            a.start()
            own = Phone(sip_a, "mwi-restart@127.0.0.1")
            body, port, own_cseq, own_tag = own.next_notify()
            assert port == sip_a, port
            own_count = voice_messages(body)
            b.stop()
            a.stop(signal.SIGKILL)
            a.start()
            post_voicemail(a.http_port)
            count, cseq, tag, _ = hear_more(own, sip_a, own_count, 10)
            assert (count, tag) == (own_count + 1, own_tag) and cseq > own_cseq, (count, tag, cseq)
            count, _, _, adopted_seconds = hear_more(survivor, sip_a, survivor_count, LEASE_SECONDS + 8)
            assert count == survivor_count + 1, (survivor_count, count)

            nodes = b.run("cluster", "status").stdout
            assert re.search(r"^a\s", nodes, re.M) and re.search(r"^b\s", nodes, re.M), nodes
            print(f"cluster: IDLE on b heard a's SMTP delivery in {seen * 1000:.0f} ms; the phone on b heard of a "
                  f"voicemail posted to a {mwi_seconds * 1000:.0f} ms after the POST; held job taken over "
                  f"{takeover_seconds:.1f} s after SIGKILL (lease {LEASE_SECONDS} s); burst: {len(acknowledged)} "
                  f"acknowledged, {sum(counts.get(j, 0) for j in acknowledged)} stored, {len(lost)} lost, "
                  f"{len(duplicated)} duplicated, all final {recover_seconds:.1f} s after SIGKILL; relayed message "
                  f"taken over and sent once {relay_seconds:.1f} s after SIGKILL; a phone subscribed on a heard of a "
                  f"voicemail posted to b from b {sub_takeover_seconds:.1f} s after a's SIGKILL")
            print(nodes)


if __name__ == "__main__":
    main()
