#!/usr/bin/env python3
"""Soak benchmark (not part of CTest): many SMTP and IMAP clients at once for
a long time, a mix of well-behaved, idle and slow ones, against one umstore
with its default limits (tests/e2e's harness: a temporary data directory,
loopback ports).

  1. Unloaded: one well-behaved client alone, one transaction after another:
     SMTP (EHLO, MAIL, RCPT, DATA of 2 KB, QUIT) and IMAP (LOGIN, SELECT,
     FETCH of 20 small messages, LOGOUT). SMTP delivers to --smtp-mailboxes
     mailboxes in turn (default 50), as mail to a site spreads over its
     people; 1 puts every message into one mailbox, whose growing folder
     and index then show in the figures (see the README).
  2. Control: the well-behaved clients alone (--control-seconds), so what
     their own load costs is told apart from what the others cost.
  3. Load: per protocol, idle clients (SMTP: connect and say nothing; IMAP:
     half say nothing before login, half log in, SELECT and IDLE), slow
     clients (a command line at one byte a second: slowloris) and
     well-behaved clients looping their transaction with a pause between
     two (drawn around its mean, so independent clients do not fall into
     step). A client the server closes (a deadline, a timeout) reconnects, so
     the pressure stays. The server's RSS is sampled every 10 s.
  4. Prints RSS at start/middle/end and its slope, the well-behaved
     transactions done and refused, and their p50/p99 latency against the
     unloaded ones. Goal (issue 19): RSS flat, none refused, none slower
     than 2x unloaded.

Every client comes from a 127.0.x.y source address of its own group
(CONNECTIONS_PER_ADDRESS at most per address, below the per-address caps of
50 SMTP and 100 IMAP connections), so the server's limits are the defaults;
all kinds of clients share the addresses.

usage: UMSTORE_BIN=build/app/umstore bench/soak/soak_bench.py [--seconds 600]
       [--smtp-clients 1000] [--imap-clients 1000] [--well-behaved 0.05] [--slow 0.1]
       [--pause-spread 0.5] [--smtp-mailboxes 50]
"""
import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
from umstore_harness import DOMAIN, Umstore  # noqa: E402

IMAP_NUMBER, PASSWORD = "+15550101", "soak-password"
# The mailboxes SMTP delivers to, in turn (--smtp-mailboxes).
smtp_numbers = ["+15550100"]
CONNECTIONS_PER_ADDRESS = 40
BODY = ("y" * 70 + "\r\n") * 28  # about 2 KB
FETCHED_MESSAGES = 20


class Refused(Exception):
    """The server said no (a 4xx/5xx, a BYE, a tagged NO/BAD) or closed early."""


class Stats:
    def __init__(self):
        self.latencies = {"smtp": [], "imap": []}
        self.finished = {"smtp": [], "imap": []}  # when each latency was taken (monotonic seconds)
        self.refused = {"smtp": 0, "imap": 0}
        self.reasons = {}
        self.closed = {}  # idle/slow connections the server ended, by kind
        self.idling = 0  # IMAP connections that logged in and are in IDLE

    def refuse(self, proto, reason):
        self.refused[proto] += 1
        key = f"{proto}: {reason[:80]}"
        self.reasons[key] = self.reasons.get(key, 0) + 1


def source_address(group, index):
    n = index // CONNECTIONS_PER_ADDRESS
    return f"127.{group}.{n // 250}.{n % 250 + 1}"


async def connect(port, source):
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0), limit=1 << 20)


async def close(writer):
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


# -- SMTP -------------------------------------------------------------------
async def smtp_reply(reader):
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise Refused("connection closed")
        lines.append(line.decode(errors="replace").rstrip())
        if line[3:4] != b"-":
            return int(line[:3]), lines[-1]


async def smtp_expect(reader, writer, command, code):
    if command:
        writer.write(command)
    got, text = await smtp_reply(reader)
    if got != code:
        raise Refused(text)


async def smtp_transaction(port, source, n):
    number = smtp_numbers[n % len(smtp_numbers)]
    reader, writer = await connect(port, source)
    try:
        await smtp_expect(reader, writer, None, 220)
        await smtp_expect(reader, writer, b"EHLO client.example\r\n", 250)
        await smtp_expect(reader, writer, b"MAIL FROM:<soak@example.org>\r\n", 250)
        await smtp_expect(reader, writer, f"RCPT TO:<{number}@{DOMAIN}>\r\n".encode(), 250)
        await smtp_expect(reader, writer, b"DATA\r\n", 354)
        message = f"From: soak@example.org\r\nTo: {number}@{DOMAIN}\r\nSubject: soak {n}\r\n\r\n{BODY}.\r\n"
        await smtp_expect(reader, writer, message.encode(), 250)
        await smtp_expect(reader, writer, b"QUIT\r\n", 221)
    finally:
        await close(writer)


# -- IMAP -------------------------------------------------------------------
async def imap_response(reader, tag):
    """Reads up to the tagged reply (literals included); its status line."""
    while True:
        line = await reader.readline()
        if not line:
            raise Refused("connection closed")
        while line.endswith(b"}\r\n") and b"{" in line:  # a literal, then the rest of the line
            size = int(line[line.rindex(b"{") + 1:-3])
            await reader.readexactly(size)
            line = await reader.readline()
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise Refused(line.decode(errors="replace").rstrip())
            return line
        if line.startswith(b"* BYE") and tag != b"z":
            raise Refused(line.decode(errors="replace").rstrip())


async def imap_greeting(reader):
    line = await reader.readline()
    if not line.startswith(b"* OK"):
        raise Refused(line.decode(errors="replace").rstrip() or "closed before the greeting")


async def imap_command(reader, writer, tag, text):
    writer.write(tag + b" " + text + b"\r\n")
    return await imap_response(reader, tag)


async def imap_login_select(reader, writer):
    await imap_greeting(reader)
    await imap_command(reader, writer, b"a", f'LOGIN "{IMAP_NUMBER}" "{PASSWORD}"'.encode())
    await imap_command(reader, writer, b"b", b"SELECT INBOX")


async def imap_transaction(port, source, _n):
    reader, writer = await connect(port, source)
    try:
        await imap_login_select(reader, writer)
        await imap_command(reader, writer, b"c", f"FETCH 1:{FETCHED_MESSAGES} (FLAGS ENVELOPE BODY.PEEK[])".encode())
        await imap_command(reader, writer, b"z", b"LOGOUT")
    finally:
        await close(writer)


TRANSACTIONS = {"smtp": smtp_transaction, "imap": imap_transaction}


# -- clients ----------------------------------------------------------------
async def well_behaved(proto, port, source, pause, spread, jitter, stop, stats, counter):
    # Each pause is drawn from pause * [1 - spread, 1 + spread] (same mean).
    # With one fixed pause, clients whose messages one group commit
    # acknowledged together wake together a pause later and join the same
    # commit again: they fall into step, batches grow, and the latency
    # measured is the queue of each burst, which grows over the first
    # minutes even with no other client connected (--pause-spread 0 shows it).
    while time.monotonic() < stop:
        start = time.monotonic()
        counter[0] += 1
        try:
            await asyncio.wait_for(TRANSACTIONS[proto](port, source, counter[0]), 60)
            stats.latencies[proto].append(time.monotonic() - start)
            stats.finished[proto].append(time.monotonic())
        except (Refused, ConnectionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            stats.refuse(proto, str(e) or type(e).__name__)
        await asyncio.sleep(pause * (1 + spread * (2 * jitter.random() - 1)))


async def read_until_closed(reader):
    while await reader.read(65536):
        pass


async def hold(kind, reader, writer, login_gate, stats):
    if kind == "idle-imap-idle":
        async with login_gate:  # logins queue on the server's password pool
            await imap_login_select(reader, writer)
        writer.write(b"i IDLE\r\n")
        stats.idling += 1
        try:
            await read_until_closed(reader)
        finally:
            stats.idling -= 1
        return
    if not kind.startswith("slow"):
        await read_until_closed(reader)
        return
    # longer than a command line may take at one byte a second: the server must end it
    line = (b"EHLO " if kind == "slow-smtp" else b"s LOGIN ") + b"x" * 200 + b"\r\n"
    closed = asyncio.create_task(read_until_closed(reader))  # reads off whatever the server answers
    try:
        while not closed.done():
            for i in range(len(line)):
                writer.write(line[i:i + 1])
                await writer.drain()
                await asyncio.wait([closed], timeout=1)
                if closed.done():
                    break
    finally:
        closed.cancel()


async def held_connection(kind, port, source, stats, login_gate):
    """idle-smtp, idle-imap (quiet before login), idle-imap-idle (in IDLE),
    slow-smtp, slow-imap: holds one connection, reconnecting when the server
    ends it, until cancelled."""
    while True:
        try:
            reader, writer = await connect(port, source)
        except OSError:
            await asyncio.sleep(1)
            continue
        try:
            await hold(kind, reader, writer, login_gate, stats)
        except (Refused, ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            await close(writer)
        stats.closed[kind] = stats.closed.get(kind, 0) + 1
        await asyncio.sleep(1)


# -- measuring --------------------------------------------------------------
def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def slope_kb_per_min(samples):
    if len(samples) < 2:
        return 0.0
    ts = [t for t, _ in samples]
    vs = [v for _, v in samples]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return 60 * sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / den if den else 0.0


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def unloaded(proto, port, count):
    latencies = []
    for n in range(count):
        start = time.monotonic()
        await TRANSACTIONS[proto](port, source_address(3, 0), n)
        latencies.append(time.monotonic() - start)
    return latencies


def client_mix(args, ports):
    """Per protocol, the kinds of client shuffled over the source addresses
    (every address holds every kind): [(kind, proto, port, source)]."""
    clients = []
    for proto, count, group in (("smtp", args.smtp_clients, 1), ("imap", args.imap_clients, 2)):
        n_well, n_slow = round(count * args.well_behaved), round(count * args.slow)
        idle = [f"idle-{proto}", "idle-imap-idle"] if proto == "imap" else [f"idle-{proto}"]
        mix = ([f"well-{proto}"] * n_well + [f"slow-{proto}"] * n_slow
               + [idle[i % len(idle)] for i in range(count - n_well - n_slow)])
        random.Random(1).shuffle(mix)
        clients += [(kind, proto, ports[proto], source_address(group, i)) for i, kind in enumerate(mix)]
    return clients


async def start_well_behaved(well, pauses, spread, stop, stats):
    """The looping clients, their starts spread over one pause."""
    counters = {"smtp": [0], "imap": [0]}
    tasks = []
    for index, (_, proto, port, source) in enumerate(well):
        # A generator per client (addresses are shared), the same in every run.
        jitter = random.Random(index)
        tasks.append(asyncio.create_task(well_behaved(proto, port, source, pauses[proto], spread, jitter, stop,
                                                      stats, counters[proto])))
        await asyncio.sleep(pauses[proto] / sum(1 for c in well if c[1] == proto))
    return tasks


def print_latencies(title, stats, base, goal=""):
    for proto in ("smtp", "imap"):
        got, b = stats.latencies[proto], base[proto]
        p50, p99 = percentile(got, 50), percentile(got, 99)
        print(f"{title} {proto}: {len(got)} done, {stats.refused[proto]} refused; "
              f"p50 {1000 * p50:.1f} ms, p99 {1000 * p99:.1f} ms; ratio to unloaded p50 {p50 / percentile(b, 50):.2f},"
              f" p99 {p99 / percentile(b, 99):.2f}{goal}")
    for reason, n in sorted(stats.reasons.items()):
        print(f"  refused {n}x: {reason}")


async def soak(args, server):
    pid = server.process.pid
    ports = {"smtp": server.smtp_port, "imap": server.imap_port}
    pauses = {"smtp": args.smtp_pause, "imap": args.imap_pause}
    # Enough transactions that the unloaded p99 is not just the slowest of a
    # few dozen (30 IMAP ones gave a p99 of 4.0 ms in one run, 18.7 in another).
    base = {"smtp": await unloaded("smtp", ports["smtp"], 300), "imap": await unloaded("imap", ports["imap"], 200)}
    for proto in ("smtp", "imap"):
        print(f"unloaded {proto}: p50 {1000 * percentile(base[proto], 50):.1f} ms, "
              f"p99 {1000 * percentile(base[proto], 99):.1f} ms ({len(base[proto])} transactions, one client)")
    clients = client_mix(args, ports)
    kinds = {}
    for kind, *_ in clients:
        kinds[kind] = kinds.get(kind, 0) + 1
    print("clients: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    well = [c for c in clients if c[0].startswith("well")]

    # Control: the well-behaved clients alone, what their own load costs.
    if args.control_seconds > 0:
        control = Stats()
        stop_control = time.monotonic() + args.control_seconds
        await asyncio.gather(*await start_well_behaved(well, pauses, args.pause_spread, stop_control, control))
        print_latencies(f"control ({args.control_seconds} s, well-behaved clients alone)", control, base)

    stats = Stats()
    login_gate = asyncio.Semaphore(4)
    held = []
    ramp_start = time.monotonic()
    for kind, proto, port, source in clients:
        if not kind.startswith("well"):
            held.append(asyncio.create_task(held_connection(kind, port, source, stats, login_gate)))
            if len(held) % 50 == 0:
                await asyncio.sleep(0.05)
    ramp_end = time.monotonic() + 300  # the IDLE clients' logins go through the password pool
    while stats.idling < kinds.get("idle-imap-idle", 0) and time.monotonic() < ramp_end:
        await asyncio.sleep(0.5)
    await asyncio.sleep(5)
    print(f"ramp: {time.monotonic() - ramp_start:.0f} s, {stats.idling} in IDLE; server RSS {rss_kb(pid) / 1024:.1f} MiB")

    start = time.monotonic()
    stop = start + args.seconds
    looping = await start_well_behaved(well, pauses, args.pause_spread, stop, stats)
    samples = []
    while time.monotonic() < stop:
        samples.append((time.monotonic() - start, rss_kb(pid)))
        await asyncio.sleep(min(10, max(0.0, stop - time.monotonic())))
    samples.append((time.monotonic() - start, rss_kb(pid)))
    await asyncio.wait(looping, timeout=90)
    for task in held + looping:
        task.cancel()
    await asyncio.gather(*held, *looping, return_exceptions=True)

    load = os.getloadavg()
    mid = samples[len(samples) // 2]
    half = [s for s in samples if s[0] >= args.seconds / 2]
    print(f"soak: {args.seconds} s, load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"RSS: start {samples[0][1] / 1024:.1f} MiB, middle {mid[1] / 1024:.1f} MiB, end {samples[-1][1] / 1024:.1f} MiB;"
          f" slope {slope_kb_per_min(samples) / 1024:.2f} MiB/min (second half {slope_kb_per_min(half) / 1024:.2f} MiB/min)")
    print("RSS samples (s: MiB): " + " ".join(f"{t:.0f}:{kb / 1024:.1f}" for t, kb in samples))
    print("connections the server ended (then reconnected): "
          + (", ".join(f"{k} {v}" for k, v in sorted(stats.closed.items())) or "none"))
    print_latencies("well-behaved under load", stats, base, " (goal <= 2)")
    for proto in ("smtp", "imap"):  # a trend tells a growing mailbox or heap from a steady cost
        minutes = {}
        for at, latency in zip(stats.finished[proto], stats.latencies[proto]):
            minutes.setdefault(int((at - start) // 60), []).append(latency)
        print(f"{proto} p50 per minute (ms): "
              + " ".join(f"{1000 * percentile(v, 50):.0f}" for _, v in sorted(minutes.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--smtp-clients", type=int, default=1000)
    parser.add_argument("--imap-clients", type=int, default=1000)
    parser.add_argument("--well-behaved", type=float, default=0.05, help="fraction of the clients")
    parser.add_argument("--slow", type=float, default=0.1, help="fraction of the clients; the rest are idle")
    parser.add_argument("--control-seconds", type=int, default=60,
                        help="the well-behaved clients alone first, for this long (0: not)")
    parser.add_argument("--smtp-mailboxes", type=int, default=50,
                        help="SMTP delivers to this many mailboxes in turn (1: every message into one)")
    parser.add_argument("--smtp-pause", type=float, default=1.0, help="seconds between a client's transactions")
    parser.add_argument("--imap-pause", type=float, default=5.0,
                        help="seconds between a client's transactions (each LOGIN costs an Argon2id check)")
    parser.add_argument("--pause-spread", type=float, default=0.5,
                        help="each pause is drawn from pause * [1 - spread, 1 + spread] (0: fixed)")
    args = parser.parse_args()
    if not 0 <= args.pause_spread <= 1:
        parser.error("--pause-spread must be between 0 and 1")
    if not 1 <= args.smtp_mailboxes <= 1000:
        parser.error("--smtp-mailboxes must be between 1 and 1000")
    smtp_numbers[:] = [f"+1555{100 + i:07d}" for i in range(args.smtp_mailboxes)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * (args.smtp_clients + args.imap_clients) + 1000
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, 65536)), hard))  # the server inherits it
    with Umstore() as server:
        for n, number in enumerate(smtp_numbers):
            server.add_mailbox(number, f"Soak SMTP {n}", PASSWORD)
        server.add_mailbox(IMAP_NUMBER, "Soak IMAP", PASSWORD)
        server.start()
        import imaplib
        m = imaplib.IMAP4("127.0.0.1", server.imap_port)
        m.login(IMAP_NUMBER, PASSWORD)
        for n in range(FETCHED_MESSAGES):
            m.append("INBOX", None, None, f"From: a@example.org\r\nSubject: m{n}\r\n\r\n{BODY}".encode())
        m.logout()
        asyncio.run(soak(args, server))
        server.stop()


if __name__ == "__main__":
    main()
