"""A minimal SMTP server standing in for the next hop (a smarthost) in the
end-to-end tests: it accepts everything and keeps what it was sent."""
import re
import socket
import threading
import time


class SmtpSink:
    """A minimal SMTP server standing in for the next hop (the smarthost)."""

    def __init__(self, port=0):
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.messages = []  # (recipients, bytes)
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 sink ESMTP\r\n")
        recipients = []
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL":
                recipients = []
                conn.sendall(b"250 ok\r\n")
            elif verb == b"RCPT":
                recipients.append(re.search(rb"<([^>]*)>", line).group(1).decode())
                conn.sendall(b"250 ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go\r\n")
                data = bytearray()
                while True:
                    chunk = f.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                with self.lock:
                    self.messages.append((recipients, bytes(data)))
                conn.sendall(b"250 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                conn.close()
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def wait_for(self, recipient, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for recipients, data in self.messages:
                    if recipient in recipients:
                        return data
            time.sleep(0.1)
        raise AssertionError(f"nothing relayed to {recipient} within {timeout} s")
