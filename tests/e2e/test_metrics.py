"""GET /metrics after real traffic: an SMTP message (and a refused
recipient), IMAP logins with a good and a bad password and a few commands.
The counters must move by exactly what was done, the text must parse with
Prometheus' own parser (python3-prometheus-client) and with the strict
checks below, and the log must carry one connection id per session.
Exit 77 (skipped) when python3-prometheus-client is not installed."""
import imaplib
import re
import smtplib
import sys
import time
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, Umstore  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # CTest's interpreter may not be Debian's, which has the package.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        print("SKIP: python3-prometheus-client is not installed (scripts/install-deps.sh)")
        sys.exit(77)

NUMBER = "+15550100"
PASSWORD = "correct horse"

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABELS = r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)?\}'
SAMPLE = re.compile(rf"^({NAME})({LABELS})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$")


def strict_parse(text):
    """{(name, labels text): value}, after checking the exposition format
    strictly: every sample belongs to the family whose HELP and TYPE came
    just before (once each), counters end in _total, histograms have
    cumulative buckets ending in +Inf equal to _count, and the text ends in
    a newline."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    samples, types, helped = {}, {}, set()
    family = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helped, f"second HELP for {name}"
            helped.add(name)
            family = name
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == family and name not in types, f"TYPE {name} without its HELP just before, or twice"
            assert kind in ("counter", "gauge", "histogram"), line
            assert name.startswith("umstore_"), f"{name} lacks the umstore_ prefix"
            if kind == "counter":
                assert name.endswith("_total"), f"counter {name} does not end in _total"
            types[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.group(1), match.group(2) or "", match.group(3)
        base = re.sub(r"_(bucket|sum|count)$", "", name) if types.get(family) == "histogram" else name
        assert base == family, f"sample {name} outside its family ({family})"
        assert (name, labels) not in samples, f"sample {name}{labels} twice"
        samples[(name, labels)] = float(value)
    for name, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (sample, labels), value in samples.items():
            if sample == name + "_bucket":
                le = re.search(r'le="([^"]*)"', labels).group(1)
                rest = re.sub(r',?le="[^"]*"', "", labels.strip("{}"))
                series.setdefault(rest, []).append((float(le), value))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), f"{name}{{{rest}}} buckets are not cumulative"
            assert buckets[-1][0] == float("inf"), f"{name}{{{rest}}} has no +Inf bucket"
            count_labels = "{" + rest + "}" if rest else ""
            assert samples[(name + "_count", count_labels)] == counts[-1], f"{name}{{{rest}}} +Inf != _count"
    return samples


def scrape(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}  # raises on what it cannot read
    assert families, "Prometheus' parser found no metrics"
    return strict_parse(text)


def value(samples, name, **labels):
    text = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    return samples.get((name, text), 0.0)


class MetricsTest(unittest.TestCase):
    def test_counters_move_with_real_traffic_and_sessions_carry_ids(self):
        with Umstore() as server:
            server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
            server.start()
            before = scrape(server)

            with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
                refused = smtp.sendmail("gw@example.org", [f"{NUMBER}@{DOMAIN}", f"+15559999@{DOMAIN}"],
                                        f"From: gw@example.org\r\nTo: {NUMBER}@{DOMAIN}\r\nSubject: hi\r\n\r\nhello\r\n")
            self.assertEqual(list(refused), [f"+15559999@{DOMAIN}"])

            bad = imaplib.IMAP4("127.0.0.1", server.imap_port)
            with self.assertRaises(imaplib.IMAP4.error):
                bad.login(NUMBER, "wrong password")
            bad.logout()
            good = imaplib.IMAP4("127.0.0.1", server.imap_port)
            good.login(NUMBER, PASSWORD)
            good.select("INBOX")
            typ, data = good.fetch("1", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            self.assertIn(b"hello", data[0][1])
            good.noop()
            good.logout()

            # The server finishes a session just after the client has its last reply.
            deadline = time.time() + 20
            after = scrape(server)
            while (value(after, "umstore_smtp_sessions_open") or value(after, "umstore_imap_connections_open")
                   or " session peer=" not in server.log_path.read_text()) and time.time() < deadline:
                time.sleep(0.05)
                after = scrape(server)

            def moved(name, **labels):
                return value(after, name, **labels) - value(before, name, **labels)

            self.assertEqual(moved("umstore_smtp_sessions_total"), 1)
            self.assertEqual(value(after, "umstore_smtp_sessions_open"), 0)
            self.assertEqual(moved("umstore_smtp_messages_total", code="250"), 1)
            self.assertEqual(moved("umstore_smtp_replies_total", code="550"), 1)  # the unknown recipient
            self.assertEqual(moved("umstore_smtp_replies_total", code="221"), 1)  # QUIT
            self.assertEqual(value(after, "umstore_smtp_queue_messages"), 0)
            self.assertEqual(value(after, "umstore_smtp_queue_oldest_seconds"), 0)

            self.assertEqual(moved("umstore_imap_connections_total"), 2)
            self.assertEqual(moved("umstore_imap_logins_total", result="ok"), 1)
            self.assertEqual(moved("umstore_imap_logins_total", result="failed"), 1)
            self.assertEqual(moved("umstore_imap_commands_total", command="LOGIN"), 2)
            for command in ("SELECT", "FETCH", "NOOP"):
                self.assertEqual(moved("umstore_imap_commands_total", command=command), 1, command)
                self.assertEqual(
                    moved("umstore_imap_command_duration_seconds_count", command=command), 1, command)
            self.assertGreater(value(after, "umstore_imap_command_duration_seconds_sum", command="SELECT"), 0)
            self.assertEqual(moved("umstore_imap_commands_total", command="LOGOUT"), 2)

            self.assertEqual(moved("umstore_store_appends_total"), 1)
            self.assertGreater(moved("umstore_store_append_bytes_total"), 0)
            self.assertGreater(moved("umstore_store_fsync_seconds_count"), 0)
            self.assertGreater(value(after, "umstore_store_disk_free_bytes"), 0)
            self.assertIn(("umstore_ingest_accepted_total", ""), after)

            # Each session's lines carry one id of its own.
            log = server.log_path.read_text()
            smtp_ids = re.findall(r" smtp: conn=(s[0-9a-f]{5}) session peer=", log)
            self.assertEqual(len(smtp_ids), 1, log)
            self.assertRegex(log, rf"smtp: conn={smtp_ids[0]} queued id=|smtp: conn={smtp_ids[0]} session")
            failed = re.findall(r" imap: conn=(i[0-9a-f]{5}) peer=\S+ failed login", log)
            ok = re.findall(r" imap: conn=(i[0-9a-f]{5}) peer=\S+ user=\+15550100 logged in", log)
            self.assertEqual((len(failed), len(ok)), (1, 1), log)
            self.assertNotEqual(failed[0], ok[0])
            self.assertRegex(log, r" http: conn=h[0-9a-f]{5} peer=\S+ GET /metrics -> 200")


if __name__ == "__main__":
    unittest.main()
