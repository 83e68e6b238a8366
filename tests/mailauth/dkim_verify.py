#!/usr/bin/python3
"""An independent DKIM verifier for the tests: Debian's python3-dkim (dkimpy,
with python3-nacl for Ed25519), its key lookups sent to the test's DNS server.

    dkim_verify.py PORT MESSAGE_FILE

Exit 0: every signature verifies; 1: one does not (or none is there);
2: python3-dkim or python3-dnspython is missing.
"""
import sys

try:
    import dkim
    import dns.resolver
except ImportError as e:
    print(f"python3-dkim / python3-dnspython missing: {e}", file=sys.stderr)
    sys.exit(2)


def main(port, path):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = int(port)

    def txt(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(next(iter(answer)).strings)

    message = open(path, "rb").read()
    verifier = dkim.DKIM(message)
    count = message.lower().count(b"\ndkim-signature:") + message.lower().startswith(b"dkim-signature:")
    try:
        ok = count > 0 and all(verifier.verify(idx=i, dnsfunc=txt) for i in range(count))
    except dkim.ValidationError as e:
        print(f"signature FAILED: {e}")
        return 1
    print("signature ok" if ok else "signature FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
