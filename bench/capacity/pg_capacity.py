#!/usr/bin/env python3
"""The figures docs/capacity.md scales from, measured on this machine: one
`umstore serve` node on a private PostgreSQL cluster (tests/peers).

  - bytes per stored voicemail: voicemails through HTTP ingest (the real
    pipeline: transcoding, VPIM message, append), then the database's growth
    per message, split into message rows (with indexes), bodies (with TOAST)
    and the rest, and the WAL written per message;
  - appends per second: small SMTP messages (the database-bound path) from
    C clients for S seconds, with the CPU seconds of the node and of the
    PostgreSQL processes per append;
  - bytes per mailbox without messages (account, mailbox and folder rows);
  - connections: what the node holds open on the database.

    bench/capacity/pg_capacity.py [--voicemails 40] [--clients 8] [--seconds 20]

Needs the `umstore` binary (UMSTORE_BIN, else build/app/umstore) and
PostgreSQL 15; run as root or a user that can start a cluster."""
import argparse
import os
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "peers"))
os.environ.setdefault("UMSTORE_BIN", str(ROOT / "build" / "app" / "umstore"))
import postgres_peer  # noqa: E402
from umstore_harness import DOMAIN, SAMPLES, Umstore, psql, wait_for  # noqa: E402

TOKEN = "capacity-gateway-token-0123"
CONFIG = f"[umstore]\ndomain = {DOMAIN}\n\n[gateways]\ngw = {TOKEN}\n"
MAILBOXES = 50


def cpu_seconds(pids):
    """User + system CPU seconds of the processes `pids` and their children so far."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
        except FileNotFoundError:
            pass
    return total


def postgres_pids(pg):
    """The postmaster and every backend (children of the postmaster)."""
    root = int((pg.data / "postmaster.pid").read_text().split()[0])
    out = subprocess.run(["pgrep", "-P", str(root)], capture_output=True, text=True).stdout.split()
    return [root] + [int(p) for p in out]


def sizes(dsn):
    row = psql(dsn, "SELECT pg_total_relation_size('messages'), pg_total_relation_size('bodies'), "
                    "pg_database_size(current_database()), pg_current_wal_lsn() - '0/0'::pg_lsn, "
                    "(SELECT count(*) FROM messages)").split("|")
    return [int(float(x)) for x in row]


def ingest_voicemails(node, count):
    wav = SAMPLES / "voicemail.wav"
    for i in range(count):
        number = f"+1555020{i % MAILBOXES:04d}"
        r = subprocess.run(["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-H", f"Authorization: Bearer {TOKEN}",
                            "-F", f"file=@{wav}", "-F", f"to={number}", "-F", "from=+15550123",
                            f"http://127.0.0.1:{node.http_port}/v1/voicemail"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def smtp_load(node, clients, seconds):
    counts = [0] * clients
    stop = time.time() + seconds
    body = "X" * 1500

    def client(i):
        with smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=60) as smtp:
            n = 0
            while time.time() < stop:
                to = f"+1555020{(i * 7 + n) % MAILBOXES:04d}@{DOMAIN}"
                smtp.sendmail(f"load@{DOMAIN}", [to], f"From: load@{DOMAIN}\r\nTo: {to}\r\nSubject: {i}-{n}\r\n\r\n{body}\r\n")
                n += 1
            counts[i] = n

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--voicemails", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    with postgres_peer.PostgresPeer() as pg, Umstore(CONFIG, pg_cluster=pg.dsn) as node:
        for i in range(MAILBOXES):
            node.add_mailbox(f"+1555020{i:04d}", f"Capacity {i}", "capacity-password")
        node.start()
        dsn = node.store_dsn
        empty = psql(dsn, "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public' "
                          "AND c.relname IN ('accounts', 'mailboxes', 'folders')").strip()
        print(f"mailbox without messages: {int(empty) / MAILBOXES:,.0f} B (accounts, mailboxes, folders with "
              f"indexes; {MAILBOXES} mailboxes, pages not full)")

        before = sizes(dsn)
        ingest_voicemails(node, args.voicemails)
        wait_for(lambda: sizes(dsn)[4] - before[4] >= args.voicemails, "the voicemails to be stored", seconds=300)
        after = sizes(dsn)
        n = after[4] - before[4]
        print(f"voicemail ({(SAMPLES / 'voicemail.wav').stat().st_size} bytes of WAV in, {n} stored): per message "
              f"{(after[0] - before[0]) / n:,.0f} B message rows+indexes, {(after[1] - before[1]) / n:,.0f} B body, "
              f"{(after[2] - before[2]) / n:,.0f} B database growth, {(after[3] - before[3]) / n:,.0f} B WAL")

        connections = psql(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").strip()
        pg_pids = postgres_pids(pg)
        cpu_node, cpu_pg, wal = cpu_seconds([node.process.pid]), cpu_seconds(pg_pids), sizes(dsn)[3]
        started = time.time()
        appended = smtp_load(node, args.clients, args.seconds)
        elapsed = time.time() - started
        cpu_node = cpu_seconds([node.process.pid]) - cpu_node
        cpu_pg = cpu_seconds(postgres_pids(pg)) - cpu_pg  # backends that ended took their CPU to the postmaster's children
        wal = sizes(dsn)[3] - wal
        print(f"SMTP appends, 1.5 KB messages, {args.clients} clients: {appended / elapsed:,.0f}/s "
              f"({appended} in {elapsed:.1f} s); CPU per append: node {1000 * cpu_node / appended:.2f} ms, "
              f"PostgreSQL {1000 * cpu_pg / appended:.2f} ms; WAL {wal / appended:,.0f} B per append")
        print(f"connections the node holds on the database: {connections}")
        node.stop()


if __name__ == "__main__":
    main()
