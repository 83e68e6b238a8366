#!/usr/bin/env python3
"""End-to-end gateway ingest: from a voicemail handed over (HTTP POST answered
202, or a file pair renamed into the spool) until the message is visible over
IMAP, against the classic script pipeline (ffmpeg transcode, a Python MIME
script, sendmail into Postfix, Postfix -> Dovecot LMTP -> Maildir, seen over
Dovecot IMAP), side by side in one run on the same machine.

Reports for each pipeline the maximum sustained rate (a burst of N
voicemails, completed messages per second) and p50/p99 latency at a steady
rate of half that maximum. Visibility is polled with IMAP NOOP every 5 ms on
an open, selected INBOX for both servers.

With --postgresql, umstore's HTTP run is repeated on the PostgreSQL backend
(a private cluster, tests/peers/postgres_peer.py) in the same run.

Needs root (Postfix, Dovecot), ffmpeg, sox, postfix, dovecot-imapd,
dovecot-lmtpd (bench/install-bench-deps.sh) and a built umstore; PostgreSQL
15 for --postgresql."""
import argparse
import http.client
import imaplib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "tests" / "peers"))
sys.path.insert(0, str(SOURCE / "tests" / "e2e"))
import postgres_peer  # noqa: E402
import umstore_harness  # noqa: E402
from postfix_peer import PostfixPeer  # noqa: E402

MAILBOX = "+15550100"
PASSWORD = "bench password"
TOKEN = "bench-gateway-token-0123456789"
CALLER_RE = re.compile(rb"1555\d{7}")
POLL_SECONDS = 0.005


def caller_number(seq):
    return f"+1555{seq:07d}"


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


class VisibilityWatcher:
    """Polls a selected INBOX with NOOP and notes when each message (by its
    caller number) first shows up."""

    def __init__(self, port, user, password):
        self.conn = imaplib.IMAP4("127.0.0.1", port)
        self.conn.login(user, password)
        typ, data = self.conn.select("INBOX")
        self.count = int(data[0])
        self.base = self.count
        self.seen_at = {}          # sequence number -> time first seen
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.is_set():
            self.conn.noop()
            _, exists = self.conn.response("EXISTS")
            now = time.monotonic()
            numbers = [int(x) for x in exists if x]
            if numbers and max(numbers) > self.count:
                for seq in range(self.count + 1, max(numbers) + 1):
                    self.seen_at[seq] = now
                self.count = max(numbers)
            time.sleep(POLL_SECONDS)

    def wait_for(self, total, timeout):
        deadline = time.monotonic() + timeout
        while self.count - self.base < total and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.count - self.base >= total

    def visible_times(self):
        """caller number -> time visible, for messages since the watcher started."""
        self.stop_flag.set()
        self.thread.join()
        out = {}
        if self.count > self.base:
            typ, data = self.conn.fetch(f"{self.base + 1}:*", "(BODY.PEEK[HEADER.FIELDS (FROM CALLER-ID)])")
            seq = self.base
            for part in data:
                if isinstance(part, tuple):
                    seq = int(part[0].split()[0])
                    m = CALLER_RE.search(part[1])
                    if m and seq in self.seen_at:
                        out["+" + m.group().decode()] = self.seen_at[seq]
        self.conn.logout()
        return out


class Pipeline:
    name = ""

    def submit(self, seq):
        """Hands over voicemail `seq`; returns the time it counts from."""
        raise NotImplementedError

    def watcher(self):
        raise NotImplementedError


class UmstoreHttp(Pipeline):
    name = "umstore HTTP"

    def __init__(self, server, wav):
        self.server = server
        self.body = wav.read_bytes()
        self.local = threading.local()

    def submit(self, seq):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=60)
        conn.request("POST", "/v1/voicemail", body=self.body, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "audio/wav",
            "X-Umstore-To": MAILBOX, "X-Umstore-From": caller_number(seq)})
        response = conn.getresponse()
        response.read()
        accepted = time.monotonic()
        if response.status != 202:
            raise RuntimeError(f"POST answered {response.status}")
        return accepted

    def watcher(self):
        return VisibilityWatcher(self.server.imap_port, MAILBOX, PASSWORD)


class UmstoreSpool(UmstoreHttp):
    name = "umstore spool"

    def __init__(self, server, wav):
        super().__init__(server, wav)
        self.spool = Path(server.info["spool"])
        self.staging = self.spool / "staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def submit(self, seq):
        name = f"vm{seq:07d}.wav"
        (self.staging / name).write_bytes(self.body)
        (self.staging / (name + ".json")).write_text(json.dumps(
            {"to": MAILBOX, "from": caller_number(seq), "kind": "voice"}))
        os.rename(self.staging / name, self.spool / "incoming" / name)
        os.rename(self.staging / (name + ".json"), self.spool / "incoming" / (name + ".json"))
        return time.monotonic()


class Classic(Pipeline):
    name = "classic (ffmpeg + MIME script + Postfix + Dovecot)"

    def __init__(self, peer, imap_port, wav, work):
        self.peer = peer
        self.imap_port = imap_port
        self.wav = wav
        self.work = work
        self.mime = Path(__file__).parent / "classic_mime.py"

    def submit(self, seq):
        started = time.monotonic()
        out = self.work / f"classic{seq}"
        script = (
            f"ffmpeg -nostdin -v error -y -i {self.wav} -ac 1 -ar 8000 -c:a adpcm_g726le -b:a 32k -f g726le {out}.726"
            f" -ac 1 -ar 8000 -c:a pcm_s16le {out}.wav && "
            f"python3 {self.mime} vm@{self.peer.domain} {caller_number(seq)} {out}.726 {out}.wav 60 | "
            f"sendmail -C {self.peer.conf} -i -f gateway@gateway.test vm@{self.peer.domain} && "
            f"rm -f {out}.726 {out}.wav")
        subprocess.run(["bash", "-c", script], check=True)
        return started

    def watcher(self):
        return VisibilityWatcher(self.imap_port, "vm", "x")


def run_load(pipeline, first_seq, count, rate, concurrency, timeout):
    """Submits `count` voicemails (at `rate`/s, or as fast as `concurrency`
    allows when rate is None); returns (latencies, completed per second)."""
    watcher = pipeline.watcher()
    accepted = {}
    lock = threading.Lock()
    start = time.monotonic()

    def one(i):
        seq = first_seq + i
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        t = pipeline.submit(seq)
        with lock:
            accepted[caller_number(seq)] = t

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for f in [pool.submit(one, i) for i in range(count)]:
            f.result()
    if not watcher.wait_for(count, timeout):
        print(f"  warning: only {watcher.count - watcher.base} of {count} visible after {timeout} s", flush=True)
    visible = watcher.visible_times()
    latencies = [visible[c] - t for c, t in accepted.items() if c in visible]
    done = max(visible.values()) - start if visible else float("nan")
    return latencies, len(visible) / done


def start_umstore(binary, workers, batch, pg_dsn=None):
    """umstore serve from the end-to-end harness, with the bench's gateway, workers and batch size;
    on the PostgreSQL cluster at pg_dsn when given (Maildir + SQLite otherwise)."""
    umstore_harness.UMSTORE = binary
    batch_line = f"batch = {batch}\n" if batch else ""
    server = umstore_harness.Umstore(f"[umstore]\nlog_level = warning\n\n[ingest]\nworkers = {workers}\n{batch_line}\n"
                                     f"[gateways]\nbench = {TOKEN}\n", pg_cluster=pg_dsn)
    server.add_mailbox(MAILBOX, "Bench", PASSWORD)
    return server.start()


def measure(pipeline, next_seq, burst, steady_seconds, concurrency, timeout, fixed_rate=None):
    print(f"{pipeline.name}:", flush=True)
    latencies, max_rate = run_load(pipeline, next_seq, burst, None, concurrency, timeout)
    next_seq += burst
    print(f"  maximum sustained: {max_rate:.2f} voicemails/s ({burst} as fast as {concurrency} clients go;"
          f" latency under that load p50 {statistics.median(latencies) * 1000:.0f} ms)", flush=True)
    rate = fixed_rate or max_rate / 2
    count = max(10, round(rate * steady_seconds))
    latencies, achieved = run_load(pipeline, next_seq, count, rate, max(4, concurrency), timeout)
    next_seq += count
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(f"  steady {rate:.2f}/s for {count} voicemails: p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
          f" max {max(latencies) * 1000:.1f} ms", flush=True)
    return {"max_rate": max_rate, "rate": rate, "p50_ms": p50, "p99_ms": p99, "count": count}, next_seq


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--umstore", default=str(SOURCE / "build" / "app" / "umstore"))
    parser.add_argument("--burst", type=int, default=400, help="voicemails for the maximum-rate run (umstore)")
    parser.add_argument("--classic-burst", type=int, default=24, help="voicemails for the classic maximum-rate run")
    parser.add_argument("--steady-seconds", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=60, help="voicemail length")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="umstore [ingest] workers")
    parser.add_argument("--batch", type=int, help="umstore [ingest] batch (default: the server's)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients submitting at once (umstore)")
    parser.add_argument("--classic-concurrency", type=int, default=os.cpu_count() or 2,
                        help="scripts running at once (classic)")
    parser.add_argument("--only", choices=("umstore", "classic"), help="run one side only")
    parser.add_argument("--rate", type=float, help="umstore's steady rate (default: half its maximum)")
    parser.add_argument("--postgresql", action="store_true", help="repeat umstore's HTTP run on PostgreSQL")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("ingest_bench.py needs root for the private Postfix and Dovecot instances")
    for tool in ("ffmpeg", "sox", "postfix", "dovecot", "sendmail"):
        if not shutil.which(tool) and not Path("/usr/sbin", tool).exists():
            sys.exit(f"{tool} is missing: run bench/install-bench-deps.sh")

    work = Path(tempfile.mkdtemp(prefix="umstore-ingest-bench-"))
    os.chmod(work, 0o755)
    wav = work / "voicemail.wav"
    # A gateway's recording: the sample's speech repeated to the length, 16-bit 8 kHz mono.
    subprocess.run(["sox", str(SOURCE / "samples" / "voicemail.wav"), "-r", "8000", "-b", "16", "-c", "1", str(wav),
                    "repeat", str(int(args.seconds // 10)), "trim", "0", str(args.seconds)], check=True)
    print(f"input: {args.seconds:.0f} s voicemail, 8 kHz 16-bit WAV, {wav.stat().st_size} bytes; "
          f"{os.cpu_count()} cores", flush=True)

    results = {}
    server = start_umstore(args.umstore, args.workers, args.batch) if args.only != "classic" else None
    peer = None
    try:
        seq = 1
        if server:
            results["http"], seq = measure(UmstoreHttp(server, wav), seq, args.burst, args.steady_seconds,
                                           args.concurrency, 300, args.rate)
            results["spool"], seq = measure(UmstoreSpool(server, wav), seq, args.burst, args.steady_seconds,
                                            args.concurrency, 300, args.rate)
            server.close()
            server = None
            if args.postgresql:
                # Each voicemail puts about 2.6 MB into the WAL (the recording, then
                # the message): at the default max_wal_size (1 GB) PostgreSQL
                # checkpoints every few seconds and says to raise it, as an
                # operator of such a load would.
                with postgres_peer.PostgresPeer(settings={"max_wal_size": "8GB"}) as pg:
                    server = start_umstore(args.umstore, args.workers, args.batch, pg.dsn)
                    results["http_pg"], seq = measure(UmstoreHttp(server, wav), seq, args.burst, args.steady_seconds,
                                                      args.concurrency, 300, args.rate)
                    server.close()
                    server = None
        if args.only == "umstore":
            return
        peer = PostfixPeer(domain="peer.test", mailboxes=["vm"], delivery="lmtp", imap=True).start()
        results["classic"], seq = measure(Classic(peer, peer.imap_port, wav, work), seq, args.classic_burst,
                                          args.steady_seconds, args.classic_concurrency, 600)
    finally:
        if server:
            server.close()
        if peer:
            peer.stop()
        shutil.rmtree(work, ignore_errors=True)
    if "classic" not in results:
        return
    classic = results["classic"]["max_rate"]
    print("\nsummary (voicemails/s at most; latency at half of each one's maximum):")
    for key, label in (("http", "umstore HTTP"), ("spool", "umstore spool"), ("http_pg", "umstore HTTP, PG"),
                       ("classic", "classic pipeline")):
        if key not in results:
            continue
        r = results[key]
        ratio = f"  {r['max_rate'] / classic:.1f}x classic" if key != "classic" else ""
        if key == "http_pg":
            ratio += f", {r['max_rate'] / results['http']['max_rate']:.2f}x umstore HTTP on Maildir"
        print(f"  {label:17} {r['max_rate']:7.2f}/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
              f" at {r['rate']:.2f}/s{ratio}")
    print("goals: >= 10x the classic throughput; p99 <= 100 ms at half of umstore's maximum rate")


if __name__ == "__main__":
    main()
