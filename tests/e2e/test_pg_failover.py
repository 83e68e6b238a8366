"""Failover of the database under load: two `umstore serve` nodes share one
database on a primary with a synchronous standby (private clusters on
loopback ports, streaming replication) through a multi-host DSN
(target_session_attrs=read-write). While both nodes take SMTP and HTTP
ingest load, the primary is killed with SIGKILL and the standby promoted
(`pg_ctl promote`). Every message acknowledged before, during and after
(SMTP 250, HTTP 202) must be stored exactly once, and both nodes must take
mail again by themselves within 30 s of the promotion."""
import io
import json
import math
import re
import smtplib
import struct
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import postgres_peer  # noqa: E402
from umstore_harness import DOMAIN, Umstore, private_database, wait_for  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "failover-password"
TOKEN = "failover-gateway-token-0123"
# A small pool: connections are leased per statement, not per client. An
# ingest job that met the outage is retried after 1 s (not the default 60 s),
# and one a node held while its database went away is free again after 5 s.
CONFIG = (f"[umstore]\ndomain = {DOMAIN}\n\n[gateways]\ngw = {TOKEN}\n\n[ingest]\nretry_intervals = 1\n\n"
          "[cluster]\nlease_seconds = 5\n\n[store]\npool_size = 4\n")
SMTP_CLIENTS_PER_NODE = 2
RESUME_SECONDS = 30


def short_recording():
    """Half a second of a 440 Hz tone, 8 kHz 16-bit mono: cheap to transcode."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                               for i in range(4000)))
    return out.getvalue()


class Load:
    """Clients of one node; every attempt is recorded as (started, answered, answer)."""

    def __init__(self, node, name):
        self.node, self.name = node, name
        self.smtp = {}  # X-Token -> (started, answered, "ok" | reply)
        self.http = {}  # attempt -> (started, answered, ("id", ingest id) | ("refused", reply))

    def submit_stream(self, client, stop):
        n = 0
        while not stop.is_set():
            token = f"{self.name}-c{client}-m{n}"
            n += 1
            message = (f"From: gw@{DOMAIN}\r\nTo: {NUMBER}@{DOMAIN}\r\nSubject: failover {token}\r\n"
                       f"X-Token: {token}\r\n\r\n" + ("body line\r\n" * 50))
            started = time.time()
            try:
                with smtplib.SMTP("127.0.0.1", self.node.smtp_port, timeout=60) as smtp:
                    refused = smtp.sendmail(f"gw@{DOMAIN}", [f"{NUMBER}@{DOMAIN}"], message)
                    answer = "refused" if refused else "ok"
            except smtplib.SMTPResponseException as e:
                answer = f"{e.smtp_code} {e.smtp_error.decode(errors='replace')}"
            except smtplib.SMTPRecipientsRefused as e:
                code, text = next(iter(e.recipients.values()))
                answer = f"{code} {text.decode(errors='replace')}"
            except (OSError, smtplib.SMTPException) as e:
                answer = f"error {e!r}"
            self.smtp[token] = (started, time.time(), answer)
            if answer != "ok":
                time.sleep(0.2)

    def ingest_stream(self, recording, stop):
        n = 0
        while not stop.is_set():
            attempt = f"{self.name}-h{n}"
            n += 1
            started = time.time()
            r = subprocess.run(["curl", "-sS", "-m", "60", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {TOKEN}",
                                "-H", f"X-Umstore-To: {NUMBER}", "-H", "X-Umstore-From: +15550123",
                                "-H", "Content-Type: audio/wav", "--data-binary", "@-",
                                f"http://127.0.0.1:{self.node.http_port}/v1/voicemail"],
                               input=recording, capture_output=True)
            body, _, code = r.stdout.decode(errors="replace").rpartition("\n")
            answer = ("id", json.loads(body)["id"]) if code == "202" else ("refused", f"{code} {body[:200]}")
            self.http[attempt] = (started, time.time(), answer)
            time.sleep(0.3)

    def first_ack_after(self, moment):
        """When the first message submitted after `moment` was acknowledged."""
        acks = [answered for started, answered, answer in self.smtp.values() if started >= moment and answer == "ok"]
        return min(acks) if acks else None

    def http_ids(self):
        return [value for _, _, (kind, value) in self.http.values() if kind == "id"]


def message_status(node, ingest_id):
    r = subprocess.run(["curl", "-sS", "-H", f"Authorization: Bearer {TOKEN}",
                        f"http://127.0.0.1:{node.http_port}/v1/messages/{ingest_id}"],
                       capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout).get("status") if r.stdout.startswith("{") else None


def main():
    if not postgres_peer.available():
        print("SKIP: PostgreSQL 15 is not installed", file=sys.stderr)
        sys.exit(77)
    with postgres_peer.PostgresPeer(synchronous=True) as primary, postgres_peer.PostgresPeer(primary=primary) as standby:
        wait_for(lambda: primary.psql("SELECT sync_state FROM pg_stat_replication", user="postgres") == "sync",
                 "the standby to stream synchronously", seconds=30)
        database = private_database(primary.dsn).rsplit("/", 1)[1]
        dsn = (f"postgresql://umstore@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/{database}"
               "?target_session_attrs=read-write")
        with Umstore(CONFIG, pg_cluster=None, store_dsn=dsn) as a, Umstore(CONFIG, pg_cluster=None, store_dsn=dsn) as b:
            a.add_mailbox(NUMBER, "Failover Test", PASSWORD)
            a.config.write_text(a.config.read_text().replace("pool_size = 4", "pool_size = 0"))
            refused = a.run("mailbox", "list", check=False)
            assert refused.returncode != 0 and "[store] pool_size" in refused.stderr, refused.stderr
            a.config.write_text(a.config.read_text().replace("pool_size = 0", "pool_size = 4"))
            a.start()
            b.start()
            loads = [Load(a, "a"), Load(b, "b")]
            stop = threading.Event()
            recording = short_recording()
            threads = [threading.Thread(target=load.submit_stream, args=(i, stop))
                       for load in loads for i in range(SMTP_CLIENTS_PER_NODE)]
            threads += [threading.Thread(target=load.ingest_stream, args=(recording, stop)) for load in loads]
            for t in threads:
                t.start()

            time.sleep(3)
            killed = time.time()
            primary.kill()
            time.sleep(2)  # the outage: no primary at all
            standby.promote()
            # The promoted server inherited synchronous_standby_names from its
            # primary and has no standby of its own: without this, every
            # commit would wait forever (Patroni does the same when the last
            # synchronous standby is gone and synchronous_mode_strict is off).
            standby.psql("ALTER SYSTEM RESET synchronous_standby_names", user="postgres")
            standby.psql("SELECT pg_reload_conf()", user="postgres")
            promoted = time.time()
            deadline = promoted + RESUME_SECONDS
            while time.time() < deadline and not all(load.first_ack_after(promoted) for load in loads):
                time.sleep(0.2)
            time.sleep(3)  # load after the recovery too
            stop.set()
            for t in threads:
                t.join()

            for node in (a, b):
                assert node.process.poll() is None, "a node died with the primary:\n" + node.log_path.read_text()
            resumed = {load.name: load.first_ack_after(promoted) for load in loads}
            late = [name for name, at in resumed.items() if at is None]
            assert not late, f"node(s) {late} took no mail within {RESUME_SECONDS} s of the promotion"

            # Accepted recordings are delivered by the node's ingest queue,
            # retried through the outage (a job whose run met it is taken up
            # again by its node's lease upkeep).
            http_ids = {load.name: load.http_ids() for load in loads}
            still_queued = []
            for load, node in zip(loads, (a, b)):
                deadline = time.time() + 60
                while True:
                    states = {i: message_status(node, i) for i in http_ids[load.name]}
                    pending = [i for i, state in states.items() if state != "delivered"]
                    if not pending or time.time() > deadline:
                        break
                    time.sleep(0.5)
                still_queued += pending

            smtp_acked = {t for load in loads for t, (_, _, answer) in load.smtp.items() if answer == "ok"}
            smtp_acked_before = {t for load in loads for t, (_, answered, answer) in load.smtp.items()
                                 if answer == "ok" and answered < killed}
            http_acked = {i for ids in http_ids.values() for i in ids}
            smtp_counts, http_counts = {}, {}
            for message in a.stored_messages():
                text = message.decode("utf-8", "replace")
                for token in re.findall(r"^X-Token: (\S+)", text, re.M):
                    smtp_counts[token] = smtp_counts.get(token, 0) + 1
                for ingest_id in re.findall(r"^X-Umstore-Ingest-Id: (\S+)", text, re.M):
                    http_counts[ingest_id] = http_counts.get(ingest_id, 0) + 1
            lost = [t for t in smtp_acked if smtp_counts.get(t, 0) == 0]
            lost += [i for i in http_acked if http_counts.get(i, 0) == 0]
            duplicated = [t for t, c in {**smtp_counts, **http_counts}.items() if c > 1]
            in_doubt = [t for t in smtp_counts if t not in smtp_acked] + [i for i in http_counts if i not in http_acked]
            http_refused = [value for load in loads for _, _, (kind, value) in load.http.values() if kind == "refused"]
            answers = [answer for load in loads for _, _, answer in load.smtp.values() if answer != "ok"]
            temporary = [x for x in answers if x.startswith("451") or x.startswith("454")]
            other = [x for x in answers if x not in temporary]

            recover = {name: at - promoted for name, at in resumed.items()}
            print(f"database failover: acknowledged {len(smtp_acked)} SMTP ({len(smtp_acked_before)} before the kill) "
                  f"+ {len(http_acked)} HTTP; stored {sum(smtp_counts.values()) + sum(http_counts.values())}; "
                  f"lost {len(lost)}; duplicated {len(duplicated)}; {len(in_doubt)} stored though the answer was lost; "
                  f"{len(still_queued)} HTTP recordings not delivered within 60 s; "
                  f"answers during the outage: SMTP {len(temporary)} temporary, {len(other)} other, "
                  f"HTTP {len(http_refused)} refused {sorted({r[:3] for r in http_refused})}; "
                  f"seconds to recover after the promotion: "
                  + ", ".join(f"node {n} {s:.1f}" for n, s in sorted(recover.items()))
                  + f" (promotion {promoted - killed:.1f} s after the kill)")
            assert len(smtp_acked_before) > 5, f"too little load before the kill to mean anything: {smtp_acked_before}"
            assert http_acked, "no recording was accepted over HTTP"
            assert not lost, f"acknowledged but lost: {lost[:10]}"
            assert not duplicated, f"stored more than once: {duplicated[:10]}"
            assert not other, f"the outage answered otherwise than 451/454: {other[:5]}"
            assert not still_queued, f"accepted recordings not delivered within 60 s: {still_queued}"
            assert all(r.startswith("503") for r in http_refused), f"HTTP refused otherwise than 503: {http_refused[:3]}"
            a.stop()
            b.stop()


if __name__ == "__main__":
    main()
