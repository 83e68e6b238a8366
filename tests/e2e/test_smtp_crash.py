"""Crash safety of SMTP intake: the real `umstore serve` is killed with
SIGKILL while several clients submit messages; after a restart every
message that got 250 is in the mailbox exactly once, and nothing that was
refused appears. Half the messages ask for NOTIFY=SUCCESS and so travel
through the durable queue, which the restarted server works off."""
import re
import signal
import smtplib
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from umstore_harness import DOMAIN, Umstore  # noqa: E402

NUMBER = "+15550100"
CLIENTS = 4


def submit_stream(port, client, results, stop):
    n = 0
    while not stop.is_set():
        token = f"c{client}-m{n}"
        n += 1
        message = (f"From: gw{client}@{DOMAIN}\r\nTo: {NUMBER}@{DOMAIN}\r\nSubject: crash {token}\r\n"
                   f"X-Token: {token}\r\n\r\n" + ("body line\r\n" * 200))
        options = ["NOTIFY=SUCCESS"] if n % 2 else []
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                refused = smtp.sendmail(f"{NUMBER}@{DOMAIN}", [f"{NUMBER}@{DOMAIN}"], message,
                                        rcpt_options=options)
                results[token] = "refused" if refused else "ok"
        except smtplib.SMTPResponseException as e:
            results[token] = "refused" if e.smtp_code >= 500 else "unknown"
        except (OSError, smtplib.SMTPException):
            results[token] = "unknown"  # the answer to DATA may have been lost in the crash
            time.sleep(0.05)


def delivered_tokens(server):
    counts = {}
    for message in server.stored_messages():
        text = message.decode("utf-8", "replace")
        if "report-type=delivery-status" in text:
            continue  # a DSN quotes the headers of the message it reports on
        for token in re.findall(r"^X-Token: (\S+)", text, re.M):
            counts[token] = counts.get(token, 0) + 1
    return counts


def wait_for_empty_queue(server, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.run("queue", "list").stdout.strip().splitlines()[-1] == "0 message(s) queued":
            return
        time.sleep(0.5)
    raise AssertionError("queue not empty after restart: " + server.run("queue", "list").stdout)


def main():
    with Umstore() as server:
        server.add_mailbox(NUMBER, "Crash Test", "secret-password")
        server.start()
        results, stop = {}, threading.Event()
        threads = [threading.Thread(target=submit_stream, args=(server.smtp_port, i, results, stop))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(3)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        stop.set()
        for t in threads:
            t.join()
        server.log.close()

        server.start()
        wait_for_empty_queue(server)
        counts = delivered_tokens(server)
        acked = [t for t, r in results.items() if r == "ok"]
        assert len(acked) > 10, f"too few messages before the crash to mean anything: {len(acked)}"
        missing = [t for t in acked if counts.get(t, 0) == 0]
        duplicated = [t for t, c in counts.items() if c > 1]
        unexpected = [t for t in counts if results.get(t) not in ("ok", "unknown")]
        assert not missing, f"acknowledged but lost: {missing}"
        assert not duplicated, f"delivered more than once: {duplicated}"
        assert not unexpected, f"delivered though never submitted or refused: {unexpected}"
        in_doubt = sum(1 for t, r in results.items() if r == "unknown")
        print(f"crash test: {len(acked)} acknowledged, all delivered once; {in_doubt} in doubt at the crash")
        server.stop()


if __name__ == "__main__":
    main()
