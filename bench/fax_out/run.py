#!/usr/bin/env python3
"""Outbound faxes at once: FAXES authenticated SMTP clients each mail
FAX=+1555020NNNN@vm.example.net with a PAGES-page TIFF (samples/fax.tif
repeated, no text, no cover page) to `umstore serve`, whose dialler calls
the receiving fax terminal (sip_fax_receiver, tests/sip/fax_terminal.hpp:
spandsp's answering terminal behind a SIP gateway, one thread per call)
and sends every fax with T.30 over G.711, or over T.38 after the
terminal's re-INVITE. Reports faxes and pages received, pages per minute
for all lines together (first SMTP 250 to the last call's end) and per
line (pages / call duration as the terminal measured it), umstore's CPU
seconds per page, and the time from each SMTP 250 to its INVITE at the
terminal (p50/p99/max).

    bench/fax_out/run.py [--faxes 32] [--pages 4] [--mode g711|t38|both]
    UMSTORE=build/app/umstore FAX_RECEIVER=build/tests/sip/sip_fax_receiver bench/fax_out/run.py

Builds nothing. Needs tiffcp (libtiff-tools)."""
import argparse
import json
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UMSTORE = os.environ.get("UMSTORE", str(ROOT / "build/app/umstore"))
FAX_RECEIVER = os.environ.get("FAX_RECEIVER", str(ROOT / "build/tests/sip/sip_fax_receiver"))
DOMAIN = "vm.example.net"
SENDER = "+15550100"
PASSWORD = "fax-out-bench-secret"
HZ = os.sysconf("SC_CLK_TCK")
V17_BPS = 14400


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime (fields 14 and 15)


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))]


def make_tiff(work, pages):
    """PAGES pages: the 2-page sample repeated (and cut to an odd count)."""
    sample = ROOT / "samples/fax.tif"
    whole = work / "all.tif"
    subprocess.run(["tiffcp", *[str(sample)] * ((pages + 1) // 2), str(whole)], check=True)
    if pages % 2 == 0:
        return whole
    cut = work / "fax.tif"
    subprocess.run(["tiffcp", f"{whole},0-{pages - 1}", str(cut)], check=True)
    return cut


class Receiver:
    """sip_fax_receiver on a free port; its JSON lines, one per finished call."""

    def __init__(self, work, t38, max_calls):
        self.port = free_udp_port()
        out = work / "received"
        out.mkdir()
        self.log = open(work / "receiver.log", "w")
        self.process = subprocess.Popen(
            [FAX_RECEIVER, "--port", str(self.port), "--out", str(out), "--max-calls", str(max_calls),
             *(["--t38"] if t38 else [])], stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.calls = []
        self.changed = threading.Condition()
        ready = threading.Event()

        def read():
            for line in self.process.stdout:
                if line.strip() == "ready":
                    ready.set()
                elif line.startswith("{"):
                    with self.changed:
                        self.calls.append(json.loads(line))
                        self.changed.notify_all()
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(10):
            sys.exit(f"{FAX_RECEIVER} did not start (see {work}/receiver.log)")

    def wait(self, count, seconds):
        deadline = time.time() + seconds
        with self.changed:
            while len(self.calls) < count and time.time() < deadline:
                self.changed.wait(1)
        return list(self.calls)

    def close(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


class Server:
    """`umstore serve` in WORK/data with the outbound fax configuration."""

    def __init__(self, work, gateway_port, max_calls):
        self.data = work / "data"
        self.config = work / "umstore.conf"
        self.config.write_text(
            "[sip]\nlisten = 127.0.0.1:0\ngateways = 127.0.0.1\n"
            "[smtp]\nauth_requires_tls = false\n"
            "[routing]\ncountry_code = 1\n"
            f"[fax_out]\ngateway = sip:127.0.0.1:{gateway_port}\nallowed_prefixes = +1555\n"
            f"max_calls = {max_calls}\npages_per_day = 0\ncover_page = false\nmax_attempts = 1\n"
            "[transcription]\nenabled = false\n[fax_ocr]\nenabled = false\n")
        common = ["--data-dir", str(self.data), "--config", str(self.config)]
        subprocess.run([UMSTORE, *common, "mailbox", "add", SENDER, "--name", "Bench", "--password-stdin"],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        self.log_path = work / "serve.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [UMSTORE, "serve", *common, "--domain", DOMAIN, "--smtp", "127.0.0.1:0", "--imap", "127.0.0.1:0",
             "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0"], stdout=self.log, stderr=subprocess.STDOUT)
        info = self.data / "run/server.json"
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"umstore serve exited {self.process.returncode}: {self.log_path.read_text()}")
            try:
                j = json.loads(info.read_text())
                if j.get("pid") == self.process.pid:
                    self.smtp_port = int(j["smtp"].rsplit(":", 1)[1])
                    return
            except (OSError, json.JSONDecodeError):
                pass
            time.sleep(0.05)
        sys.exit("umstore serve did not start within 30 s")

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def submit_all(smtp_port, tiff, faxes):
    """Every fax over its own SMTP connection, all at once; {number: time of the 250}, {number: error}."""
    data = tiff.read_bytes()
    numbers = [f"+1555020{i:04d}" for i in range(1, faxes + 1)]
    accepted, errors = {}, {}
    barrier = threading.Barrier(faxes)

    def one(number):
        m = EmailMessage()
        m["From"] = f"Bench <{SENDER}@{DOMAIN}>"
        m["To"] = f"FAX={number}@{DOMAIN}"
        m["Subject"] = f"bench {number}"
        m.add_attachment(data, maintype="image", subtype="tiff", filename="pages.tif")
        try:
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=300) as s:
                # AUTH verifies a password hash and umstore takes only so many at once
                # (454 4.7.0): try again; DATA still starts together at the barrier.
                for attempt in range(600):
                    try:
                        s.login(SENDER, PASSWORD)
                        break
                    except smtplib.SMTPAuthenticationError as e:
                        if e.smtp_code != 454 or attempt == 599:
                            raise
                        time.sleep(0.1)
                barrier.wait(120)
                s.send_message(m, from_addr=f"{SENDER}@{DOMAIN}", to_addrs=[f"FAX={number}@{DOMAIN}"])
                accepted[number] = time.time()  # send_message returns on DATA's 250
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            errors[number] = repr(e)
            barrier.abort()

    threads = [threading.Thread(target=one, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return accepted, errors


def digits(number):
    return "".join(c for c in number if c.isdigit())


def run(mode, faxes, pages, tiff, keep):
    work = Path(tempfile.mkdtemp(prefix=f"umstore-fax-out-bench-{mode}-"))
    receiver = Receiver(work, mode == "t38", max(64, faxes))
    server = Server(work, receiver.port, faxes)
    try:
        before = cpu_seconds(server.process.pid)
        accepted, errors = submit_all(server.smtp_port, tiff, faxes)
        calls = receiver.wait(len(accepted), seconds=120 + 60 * pages * max(1, faxes // 8))
        after = cpu_seconds(server.process.pid)
    finally:
        server.close()
        receiver.close()
    by_number = {digits(n): t for n, t in accepted.items()}
    latency = [(c["invite_at"] - by_number[digits(c["to"])]) * 1000 for c in calls if digits(c["to"]) in by_number]
    ok = [c for c in calls if c["result"] == "OK"]
    received = sum(c["pages"] for c in calls)
    first, last = min(accepted.values(), default=0), max((c["ended_at"] for c in calls), default=0)
    wall = last - first
    durations = [c["ended_at"] - c["invite_at"] for c in ok]
    per_line = [c["pages"] / d * 60 for c, d in zip(ok, durations) if d > 0]
    # What crossed the line per page: the received TIFF keeps T.30's coding (T.4 2-D here).
    coded = [Path(c["tiff"]).stat().st_size / c["pages"] for c in ok if c["pages"] and Path(c["tiff"]).exists()]
    failures = {}
    for c in calls:
        if c["result"] != "OK":
            failures[c["result"]] = failures.get(c["result"], 0) + 1
    row = {
        "mode": mode, "faxes": faxes, "accepted": len(accepted), "calls": len(calls), "ok": len(ok),
        "pages": received, "pages_expected": faxes * pages, "wall": wall,
        "ppm_together": received / wall * 60 if wall > 0 else 0,
        "ppm_per_line": statistics.mean(per_line) if per_line else 0,
        "s_per_fax": statistics.mean(durations) if durations else 0,
        "cpu": after - before, "cpu_per_page": (after - before) / received if received else 0,
        "lat_p50": percentile(latency, 50) if latency else 0, "lat_p99": percentile(latency, 99) if latency else 0,
        "lat_max": max(latency, default=0), "bytes_per_page": statistics.mean(coded) if coded else 0, "failures": failures, "smtp_errors": errors, "work": str(work),
    }
    print(f"{mode}: {faxes} faxes of {pages} pages at once: {len(accepted)} accepted (250), {len(calls)} calls, "
          f"{len(ok)} OK, {received}/{faxes * pages} pages received"
          + (f"; not OK: {failures}" if failures else "") + (f"; SMTP errors: {errors}" if errors else ""))
    print(f"  {wall:.1f} s from the first 250 to the last call's end: {row['ppm_together']:.1f} pages/minute "
          f"together; per line {row['ppm_per_line']:.2f} pages/minute, {row['s_per_fax']:.1f} s per fax (INVITE to end)")
    print(f"  umstore CPU {row['cpu']:.2f} s: {row['cpu_per_page']:.3f} s per page")
    print(f"  SMTP 250 -> INVITE: p50 {row['lat_p50']:.0f} ms, p99 {row['lat_p99']:.0f} ms, "
          f"max {row['lat_max']:.0f} ms (goal: p99 < 200 ms)")
    if keep or failures or errors:
        print(f"  kept {work} (serve.log, receiver.log, received/)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return row


def line_rate_reference(rows):
    """Pages per minute one line carries at V.17's 14.4 kbit/s, counting page data only."""
    coded = [r["bytes_per_page"] for r in rows if r["bytes_per_page"]]
    per_page = statistics.mean(coded) if coded else (ROOT / "samples/fax.tif").stat().st_size / 2
    seconds = per_page * 8 / V17_BPS
    print(f"line rate: a fine-resolution page of the sample arrived as {per_page / 1024:.1f} KiB of T.4 code, "
          f"{seconds:.1f} s at 14.4 kbit/s (V.17): {60 / seconds:.1f} pages/minute per line for the page data alone; "
          f"a real call adds training and T.30's handshakes (some 8-12 s per call, ~1-2 s per page)")
    return 60 / seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--faxes", type=int, default=32)
    p.add_argument("--pages", type=int, default=4)
    p.add_argument("--mode", choices=["g711", "t38", "both"], default="both")
    p.add_argument("--keep", action="store_true", help="keep the work directories")
    p.add_argument("--json", help="also write the figures to this file")
    a = p.parse_args()
    for binary in (UMSTORE, FAX_RECEIVER):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} is not built (set UMSTORE / FAX_RECEIVER)")
    if shutil.which("tiffcp") is None:
        sys.exit("tiffcp is missing (apt install libtiff-tools)")
    with tempfile.TemporaryDirectory(prefix="umstore-fax-out-tiff-") as d:
        tiff = make_tiff(Path(d), a.pages)
        rows = [run(m, a.faxes, a.pages, tiff, a.keep) for m in (["g711", "t38"] if a.mode == "both" else [a.mode])]
    reference = line_rate_reference(rows)
    print()
    print(f"{'mode':5} {'faxes':>5} {'pages OK':>10} {'ppm all':>8} {'ppm/line':>8} {'data %':>6} {'CPU s/p':>8} "
          f"{'250->INVITE p50/p99/max ms':>27}")
    for r in rows:
        print(f"{r['mode']:5} {r['faxes']:5} {r['pages']:>4}/{r['pages_expected']:<5} {r['ppm_together']:8.1f} "
              f"{r['ppm_per_line']:8.2f} {r['ppm_per_line'] / reference * 100:5.0f}% {r['cpu_per_page']:8.3f} "
              f"{r['lat_p50']:>9.0f}/{r['lat_p99']:.0f}/{r['lat_max']:.0f}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
