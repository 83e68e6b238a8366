#!/usr/bin/env python3
"""Transcription through the real `umstore serve`: a burst of voicemails
(festival speech, 8 kHz G.711 mu-law, about `--seconds` long each) posted to
the HTTP API at once, each waiting for its transcript before delivery.

Reports the real-time factor per voicemail (the pool's time per job over the
audio's length, from GET /metrics: umstore_recognition_job_seconds) and the
voicemails per minute the server keeps up with (the burst's size over the
time from the first POST until the last message is delivered), for the
recognition pool's thread counts given."""
import argparse
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE / "tests" / "e2e"))
import umstore_harness  # noqa: E402
from test_recognition import SENTENCES, curl, delivered, speech_file  # noqa: E402

MAILBOX = "+15550100"
TOKEN = "bench-gateway-token-0123456789"


def long_voicemail(work, seconds):
    """Festival speech repeated to about `seconds`, as a gateway sends it."""
    parts = [speech_file(work, "festival", sentence, f"part-{n}") for n, sentence in enumerate(SENTENCES)]
    whole = work / "voicemail.wav"
    subprocess.run(["sox", *map(str, parts * 20), str(whole), "trim", "0", str(seconds)], check=True)
    return whole


def metric(server, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=30).read().decode()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def run(threads, count, voicemail, seconds):
    config = (f"[umstore]\ndomain = {umstore_harness.DOMAIN}\n[gateways]\ngw = {TOKEN}\n"
              f"[transcription]\nthreads = {threads}\nqueue = {count}\nwait_seconds = 3600\n")
    with umstore_harness.Umstore(config_text=config) as server:
        server.add_mailbox(MAILBOX, "Bench", "bench password")
        server.start()
        started = time.monotonic()
        ids = []
        for _ in range(count):
            code, body = curl(server.http_port, "/v1/voicemail", TOKEN, "-F", f"file=@{voicemail}",
                              "-F", f"to={MAILBOX}", "-F", "from=+15550123")
            assert code == 202, body
            ids.append(body["id"])
        for message_id in ids:
            delivered(server, message_id, TOKEN, seconds=3600)
        elapsed = time.monotonic() - started
        jobs = metric(server, 'umstore_recognition_job_seconds_count{kind="voice"}')
        busy = metric(server, 'umstore_recognition_job_seconds_sum{kind="voice"}')
        assert jobs == count, f"{jobs} transcriptions for {count} voicemails"
        log = server.log_path.read_text()
        with_text = log.count("transcript ") - log.count("no transcript")
        print(f"threads={threads}: {count} voicemails of {seconds} s in {elapsed:.1f} s = "
              f"{count * 60 / elapsed:.1f} per minute; real-time factor per voicemail {busy / jobs / seconds:.2f}; "
              f"{with_text} delivered with a transcript")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--umstore", help="the umstore binary (default: build/app/umstore)")
    parser.add_argument("--count", type=int, default=8, help="voicemails in the burst")
    parser.add_argument("--seconds", type=int, default=60, help="length of each voicemail")
    parser.add_argument("--threads", default="1,2", help="recognition pool sizes to run, comma-separated")
    args = parser.parse_args()
    umstore_harness.UMSTORE = args.umstore or str(SOURCE / "build" / "app" / "umstore")
    with tempfile.TemporaryDirectory(prefix="umstore-bench-recognition-") as tmp:
        voicemail = long_voicemail(Path(tmp), args.seconds)
        for threads in map(int, args.threads.split(",")):
            run(threads, args.count, voicemail, args.seconds)


if __name__ == "__main__":
    main()
