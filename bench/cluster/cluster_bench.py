#!/usr/bin/env python3
"""Several nodes on one database (not part of CTest): SMTP intake and an
IMAP command mix, side by side in one run, for

  1. one node on the embedded store (Maildir + SQLite), the default;
  2. one node on PostgreSQL (a private cluster, tests/peers/postgres_peer.py);
  3. two nodes on the same PostgreSQL database, the clients split between them;
  4. the peers: Postfix -> Dovecot LMTP -> Maildir for the intake (counted
     until the last message is in the Maildir), Dovecot IMAP on the same
     Maildir for the mix (tests/peers/postfix_peer.py, a private instance).

For the umstore setups it also prints the memory an idle IMAP connection
costs (IDLE_CONNECTIONS logged in, INBOX selected, in IDLE: the growth of
the node's PSS, per connection).

Besides each rate it prints where the CPU went during the run: the umstore
processes' and PostgreSQL's (all its processes), in CPU seconds, from
/proc/PID/stat, counted until both are idle again, so the full-text work
each backend does after answering is included. Everything shares the machine's cores, so two nodes here
cannot show what two machines would; the CPU split says what they predict.

Needs root (initdb runs as the postgres user), PostgreSQL 15, and for the
peers postfix + dovecot-imapd + dovecot-lmtpd (bench/install-bench-deps.sh;
without them that row says so).
usage: UMSTORE_BIN=build/app/umstore bench/cluster/cluster_bench.py [SMTP_CLIENTS] [MESSAGES_PER_CLIENT] [IMAP_CLIENTS] [IMAP_SECONDS]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "peers"))
sys.path.insert(0, str(ROOT / "bench" / "smtp"))
import postgres_peer  # noqa: E402
from smtp_intake_bench import send_all  # noqa: E402
from umstore_harness import DOMAIN, Umstore, private_database  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "bench-password"
TICK = os.sysconf("SC_CLK_TCK")
IDLE_CONNECTIONS = int(os.environ.get("IDLE_CONNECTIONS", "500"))
# Every client comes from 127.0.0.1.
LIMITS = "[limits]\nimap_connections_per_address = 5000\n"


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total / TICK


def postgres_pids(pg):
    """This cluster's postmaster and every process it started (not other clusters')."""
    postmaster = pg._pid()
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    pairs = [tuple(int(v) for v in line.split()) for line in out.splitlines()]
    return [postmaster] + [pid for pid, ppid in pairs if ppid == postmaster]


class Measured:
    """CPU seconds spent by umstore and by PostgreSQL between start and stop."""

    def __init__(self, nodes, pg):
        self.nodes, self.pg = nodes, pg

    def __enter__(self):
        self.pg_pids = postgres_pids(self.pg) if self.pg else []
        self.node_pids = [n.process.pid for n in self.nodes]
        self.start = (cpu_seconds(self.node_pids), cpu_seconds(self.pg_pids))
        return self

    def __exit__(self, *exc):
        # Work deferred past the last answer (the full-text index of both
        # backends, written in the background) is part of the cost: wait
        # until umstore and PostgreSQL are idle (under 20 ms of CPU in 0.5 s).
        deadline = time.time() + 60
        while time.time() < deadline:
            before = self._totals()
            time.sleep(0.5)
            if sum(self._totals()) - sum(before) < 0.02:
                break
        self.umstore, self.database = self._totals()

    def _totals(self):
        # Backends opened during the run count too.
        pg_now = postgres_pids(self.pg) if self.pg else []
        return (cpu_seconds(self.node_pids) - self.start[0], cpu_seconds(pg_now) - self.start[1])


def smtp_intake(nodes, clients, per_client):
    """Messages per second, the clients split over the nodes."""
    results = []

    def run(node, n):
        results.append(send_all(node.smtp_port, n, per_client, f"{NUMBER}@{DOMAIN}")[1])

    shares = [clients // len(nodes) + (1 if i < clients % len(nodes) else 0) for i in range(len(nodes))]
    threads = [threading.Thread(target=run, args=(node, n)) for node, n in zip(nodes, shares)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return clients * per_client / (time.time() - start)


def imap_mix(ports, user, imap_load, clients, seconds):
    """Commands per second over all servers (IMAP ports), sessions staying logged in."""
    shares = [clients // len(ports) + (1 if i < clients % len(ports) else 0) for i in range(len(ports))]
    procs = [subprocess.Popen([imap_load, "mix", str(port), user, PASSWORD, str(n), str(seconds), "stay"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "BENCH_MESSAGES": "40"})
             for port, n in zip(ports, shares)]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        total += float(out.split("ops_per_s=")[1].split()[0])
    return total


def pss_kb(pid):
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def idle_memory(node, imap_load, connections):
    """KB of the node's PSS per connection logged in, INBOX selected, in IDLE."""
    before = pss_kb(node.process.pid)
    client = subprocess.Popen([imap_load, "idle", str(node.imap_port), NUMBER, PASSWORD, str(connections)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = client.stdout.readline()
    if not ready.startswith("ready") or "errors=0" not in ready:
        raise RuntimeError(f"idle connections failed: {ready!r}")
    time.sleep(2)
    after = pss_kb(node.process.pid)
    client.communicate("done\n", timeout=60)
    return (after - before) / connections


def peers(smtp_clients, per_client, imap_load, imap_clients, imap_seconds):
    """(SMTP msg/s until every message is in Dovecot's Maildir, IMAP cmd/s), or a reason string."""
    if not (shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")) or not shutil.which("dovecot"):
        return "not installed here (bench/install-bench-deps.sh)"
    from postfix_peer import PostfixPeer
    total = smtp_clients * per_client
    with PostfixPeer(domain="peer.test", mailboxes=["bench"], delivery="lmtp", imap=True, fast_retry=False) as peer:
        os.sync()
        start, _ = send_all(peer.port, smtp_clients, per_client, "bench@peer.test")
        new = peer.maildir("bench") / "new"
        deadline = time.time() + 600
        while sum(1 for _ in os.scandir(new)) < total:
            if time.time() > deadline:
                return f"only {sum(1 for _ in os.scandir(new))} of {total} messages delivered after 600 s"
            time.sleep(0.02)
        smtp_rate = total / (time.time() - start)
        return smtp_rate, imap_mix([peer.imap_port], "bench", imap_load, imap_clients, imap_seconds)


def main():
    args = [int(a) for a in sys.argv[1:5]] + [10, 50, 10, 10][len(sys.argv[1:5]):]
    smtp_clients, per_client, imap_clients, imap_seconds = args
    if not postgres_peer.available():
        sys.exit("PostgreSQL 15 is not installed")
    work = Path(tempfile.mkdtemp(prefix="umstore-bench-cluster-"))
    imap_load = str(work / "imap_load")
    subprocess.run(["g++", "-O2", "-std=c++20", "-pthread", str(ROOT / "bench/imap/imap_load.cpp"), "-o", imap_load],
                   check=True)
    rows = []
    with postgres_peer.PostgresPeer() as pg:
        dsn = private_database(pg.dsn)
        setups = [
            ("1 node, Maildir + SQLite", lambda: [Umstore(LIMITS, pg_cluster=None)], None),
            ("1 node, PostgreSQL", lambda: [Umstore(LIMITS, pg_cluster=pg.dsn)], pg),
            ("2 nodes, one PostgreSQL", lambda: [Umstore(LIMITS + "[cluster]\nnode_id = a\n", store_dsn=dsn),
                                                 Umstore(LIMITS + "[cluster]\nnode_id = b\n", store_dsn=dsn)], pg),
        ]
        for name, make, peer in setups:
            nodes = make()
            try:
                nodes[0].add_mailbox(NUMBER, "Bench User", PASSWORD)
                for node in nodes:
                    node.start()
                os.sync()
                with Measured(nodes, peer) as smtp_cpu:
                    smtp_rate = smtp_intake(nodes, smtp_clients, per_client)
                # The IMAP mix reads the first 40 messages the intake stored.
                with Measured(nodes, peer) as imap_cpu:
                    imap_rate = imap_mix([n.imap_port for n in nodes], NUMBER, imap_load, imap_clients, imap_seconds)
                idle_kb = idle_memory(nodes[0], imap_load, IDLE_CONNECTIONS)
                rows.append((name, smtp_rate, smtp_cpu, imap_rate, imap_cpu, idle_kb))
                print(f"{name}: SMTP {smtp_rate:.0f} msg/s (CPU s: umstore {smtp_cpu.umstore:.1f}, "
                      f"PostgreSQL {smtp_cpu.database:.1f}); IMAP {imap_rate:.0f} cmd/s (CPU s: umstore "
                      f"{imap_cpu.umstore:.1f}, PostgreSQL {imap_cpu.database:.1f}); idle IMAP connection "
                      f"{idle_kb:.1f} KB", flush=True)
            finally:
                for node in nodes:
                    node.close()
    peer = peers(smtp_clients, per_client, imap_load, imap_clients, imap_seconds)
    base_smtp, base_imap = rows[0][1], rows[0][3]
    print(f"\n{smtp_clients} SMTP clients x {per_client} messages of 40 KB, durable; IMAP mix, {imap_clients} "
          f"clients staying logged in, {imap_seconds} s; {os.cpu_count()} cores shared by everything; "
          f"idle: {IDLE_CONNECTIONS} connections in IDLE on the first node")
    print(f"{'setup':<26} {'SMTP msg/s':>10} {'ratio':>6} {'CPU ms/msg umstore+db':>22} "
          f"{'IMAP cmd/s':>10} {'ratio':>6} {'CPU us/cmd umstore+db':>22} {'KB/idle':>8}")
    for name, smtp_rate, smtp_cpu, imap_rate, imap_cpu, idle_kb in rows:
        messages = smtp_clients * per_client
        commands = imap_rate * imap_seconds
        print(f"{name:<26} {smtp_rate:>10.0f} {smtp_rate / base_smtp:>6.2f} "
              f"{1000 * smtp_cpu.umstore / messages:>11.2f}+{1000 * smtp_cpu.database / messages:<10.2f} "
              f"{imap_rate:>10.0f} {imap_rate / base_imap:>6.2f} "
              f"{1e6 * imap_cpu.umstore / commands:>11.0f}+{1e6 * imap_cpu.database / commands:<10.0f} "
              f"{idle_kb:>8.1f}")
    if isinstance(peer, str):
        print(f"{'Postfix -> Dovecot':<26} {peer}")
        return
    peer_smtp, peer_imap = peer
    print(f"{'Postfix -> Dovecot':<26} {peer_smtp:>10.0f} {peer_smtp / base_smtp:>6.2f} {'':>22} "
          f"{peer_imap:>10.0f} {peer_imap / base_imap:>6.2f}")
    print("each umstore setup against the peers (SMTP, IMAP): " + "; ".join(
        f"{name} {smtp_rate / peer_smtp:.2f}x, {imap_rate / peer_imap:.2f}x" for name, smtp_rate, _, imap_rate, _, _ in rows))

if __name__ == "__main__":
    main()
