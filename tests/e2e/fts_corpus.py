"""Messages for the full-text search tests and benchmark (tests/e2e/test_fts.py,
bench/fts): plain and multipart, UTF-8, ISO-8859-1 and windows-1252 text in
7bit, quoted-printable and base64, RFC 2047 subjects, voicemail-like audio
attachments, and words that occur only in a text part deep inside nested
multiparts. Deterministic for a seed. `reference_search` is the
independent answer: Python's email package decodes each message and the
search string is looked for in the header block (as stored and decoded)
and in every text part, ASCII letters without case (RFC 3501 §6.4.4)."""
import base64
import email
import email.header
import quopri
import random

WORDS = ("call back about the order meeting tomorrow please invoice delivery number office voicemail fax page "
         "customer account payment schedule project report budget contract review team update question answer "
         "morning evening weekend holiday doctor appointment school pickup package address phone message urgent "
         "thanks regards hello listen again later today monday friday january march summer winter garden kitchen "
         "window river mountain station airport ticket train coffee lunch dinner").split()
# Words that each message type carries in its own way, to search for.
RARE = ("zebracorn", "quixotically", "marmalade", "xylophonist", "brontosaurus")
LATIN = ("café crème", "déjà vu", "Übermorgen", "naïve façade", "smörgåsbord")


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def text_part(body, charset, encoding):
    raw = body.encode(charset)
    if encoding == "base64":
        data = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    elif encoding == "quoted-printable":
        data = quopri.encodestring(raw.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    else:
        data = raw
    return (f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
            .encode() + data.rstrip(b"\r\n") + b"\r\n")


def audio_part(rng):
    data = bytes(rng.getrandbits(8) for _ in range(600))
    return (b"Content-Type: audio/32kadpcm\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"voice.726\"\r\n\r\n"
            + base64.encodebytes(data).replace(b"\n", b"\r\n"))


def multipart(subtype, boundary, parts):
    out = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode()
    for p in parts:
        out += f"--{boundary}\r\n".encode() + p
    return out + f"--{boundary}--\r\n".encode()


def message(n, rng):
    """The n-th message (bytes, CRLF line ends)."""
    kind = n % 5
    subject = f"Message {n}: " + sentence(rng, 3)
    if kind == 4:
        subject = email.header.Header(f"Grüße {n} " + sentence(rng, 2), "utf-8").encode(linesep="\r\n")
    header = (f"From: Caller {n} <caller{n}@example.com>\r\nTo: <+15550100@vm.example.net>\r\n"
              f"Subject: {subject}\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\nMessage-ID: <m{n}@example.com>\r\n"
              "MIME-Version: 1.0\r\n").encode()
    text = sentence(rng, rng.randint(20, 120))
    rare = RARE[n % len(RARE)] if n % 7 == 0 else None
    latin = LATIN[n // 15 % len(LATIN)] if n % 3 == 0 else None
    if kind == 0:  # plain UTF-8, 7bit or QP
        body = text + (f" {rare}" if rare else "")
        return header + text_part(body, "utf-8", "7bit" if n % 2 else "quoted-printable")
    if kind == 1:  # ISO-8859-1, quoted-printable, with accents
        body = text + (f" {latin}" if latin else "") + (f" {rare}" if rare else "")
        return header + text_part(body, "iso-8859-1", "quoted-printable")
    if kind == 2:  # windows-1252 in base64
        body = text + (f" {latin}" if latin else "") + " \u201cquoted\u201d"
        return header + text_part(body, "windows-1252", "base64")
    if kind == 3:  # a voicemail: text, audio, and a transcript two multiparts deep (base64)
        transcript = "Transcript: " + sentence(rng, 15) + (f" {rare}" if rare else "")
        inner = multipart("alternative", f"in{n}", [
            b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>see attachment</p>\r\n",
            text_part(transcript, "utf-8", "base64")])
        return header + multipart("mixed", f"out{n}", [text_part(text, "utf-8", "7bit"), audio_part(rng), inner])
    return header + text_part(text + (f" {rare}" if rare else ""), "utf-8", "quoted-printable")


def corpus(count, seed=23):
    rng = random.Random(seed)
    return [message(n, rng) for n in range(1, count + 1)]


KNOWN_CHARSETS = {"utf-8", "us-ascii", "iso-8859-1", "iso-8859-15", "windows-1252"}


def searchable(msg_bytes):
    """(header texts, body texts) as bytes, the way RFC 3501 SEARCH reads them here."""
    end = msg_bytes.find(b"\r\n\r\n")
    raw_header = msg_bytes[:end + 4]
    parsed = email.message_from_bytes(msg_bytes)
    decoded = "".join(f"{k}: {email.header.make_header(email.header.decode_header(v))}\r\n"
                      for k, v in parsed.items())
    bodies = []
    for part in parsed.walk():
        if part.is_multipart() or part.get_content_maintype() not in ("text", "message"):
            continue
        payload = part.get_payload(decode=True) or b""
        charset = (part.get_content_charset() or "").lower()
        if charset in KNOWN_CHARSETS:
            payload = payload.decode(charset).encode("utf-8")
        bodies.append(payload)
    return [raw_header, decoded.encode("utf-8")], bodies


def reference_search(texts, needle, with_header):
    """1-based positions of the messages whose text contains `needle` (str);
    `texts`: searchable() of each message."""
    n = needle.encode("utf-8").lower()  # bytes.lower(): ASCII letters only, as IMAP compares
    return [i for i, (headers, bodies) in enumerate(texts, 1)
            if any(n in t.lower() for t in bodies + (headers if with_header else []))]
