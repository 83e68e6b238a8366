#!/usr/bin/env bash
# Installs the Debian 12 packages umstore builds and tests with. Idempotent:
# when everything is present it does nothing (and needs no network).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config
  # libraries (README.md says why each one is here)
  libasio-dev libssl-dev libboost-test-dev libpoco-dev libmimetic-dev
  libsndfile1-dev libspandsp-dev libtiff-dev libmp3lame-dev libpoppler-cpp-dev libpng-dev libjpeg-dev libsodium-dev libsqlite3-dev
  libfmt-dev nlohmann-json3-dev
  libboost1.74-dev  # Boost.Beast's HTTP parser, header-only (http/); also what libboost-test-dev brings
  libosip2-dev  # SIP parser for the SIP endpoint (sip/)
  libsrtp2-dev  # SRTP for calls keyed by SDES (sip/src/srtp_session.cpp)
  libphonenumber-dev  # telephone numbers grouped for people by country (mime/)
  libpq-dev  # the PostgreSQL backend's client library (mailstore/postgresql)
  libpocketsphinx-dev pocketsphinx-en-us  # offline voicemail transcription and its US English model (recognition/)
  libtesseract-dev libleptonica-dev tesseract-ocr-eng  # fax text recognition, its image library and English data (recognition/)
  libpango1.0-dev libcairo2-dev fonts-dejavu-core  # the text and cover page of faxes sent from email, laid out by a real text library in its default font (codecs/)
  libseccomp-dev  # the system-call filter of the ingest decoder process (common/src/process_confinement.cpp)
  libarchive-dev  # mailbox exports as tar, tar.gz or zip (privacy/)
  zlib1g-dev  # IMAP COMPRESS=DEFLATE (imap/src/deflate_codec.cpp)
  libxapian-dev  # the Maildir backend's full-text index for IMAP SEARCH BODY/TEXT (mailstore/src/text_index.cpp)
  liboath-dev libqrencode-dev  # admin console: TOTP second factor (RFC 6238) and its enrolment QR code (admin/)
  # sender authentication (mailauth/): DNS resolver, DKIM, SPF, DMARC and the Public Suffix List DMARC needs
  libunbound-dev libopendkim-dev libspf2-dev libopendmarc-dev publicsuffix
  # codecs fuzz targets (scripts/fuzz.sh): clang with libFuzzer, ASan and UBSan runtimes
  clang libclang-rt-14-dev
  # real clients and checkers used by the tests
  python3 curl swaks libnet-ssleay-perl isync fetchmail sox ffmpeg libtiff-tools poppler-utils espeak-ng
  sip-tester  # sipp, for the SIP endpoint tests
  baresip-core  # a real SIP user agent calling in tests/e2e/test_sip_baresip.py
  neomutt tmux  # a terminal mail client driven through tmux in tests/e2e/test_imap_neomutt.py
  postfix dovecot-lmtpd openssl  # the Postfix peer in the SMTP interoperability tests (tests/peers/postfix_peer.py); openssl also makes the test CA for https:// webhooks
  ca-certificates  # the system CAs https:// webhook receivers are verified against
  knot  # the private authoritative DNS server of the mailauth, MTA-STS and DANE tests (tests/peers/dns_peer.py)
  pebble  # the ACME test server that issues umstore a certificate in tests/e2e/test_acme.py
  python3-dkim python3-dnspython python3-nacl  # the independent DKIM verifier of the mailauth tests (nacl: Ed25519)
  postgresql-15  # private PostgreSQL clusters for the PostgreSQL backend's tests (tests/peers/postgres_peer.py)
  python3-prometheus-client  # Prometheus' own parser reads GET /metrics in tests/e2e/test_metrics.py
  festival festvox-kallpc16k  # a second synthetic voice (after espeak-ng) for the transcription tests (tests/e2e/test_recognition.py)
  chromium chromium-driver python3-selenium  # the admin console in a headless browser (tests/e2e/test_admin_console.py)
)

exec "$(dirname "$0")/apt-install-missing.sh" "${packages[@]}"
