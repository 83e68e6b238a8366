#pragma once
// Messages and UID lists the mailstore tests share.
#include <cstdint>
#include <string>
#include <vector>

#include "mailstore/message.hpp"

inline std::string message(int n) {
  return "From: caller@example.com\r\nSubject: voicemail " + std::to_string(n) + "\r\n\r\nbody " + std::to_string(n) +
         "\r\n";
}

// For the full-text searches: plain ASCII, and ISO-8859-1 in quoted-printable.
inline const std::string kQuickBrownFox = "From: a@example.com\r\nSubject: plain\r\n\r\nThe quick brown fox jumps.\r\n";
inline std::string latin1_message(const std::string& quoted_printable_body) {
  return "From: b@example.com\r\nSubject: latin\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
         quoted_printable_body + "\r\n";
}

// A voice message's shape: a text part and an audio part in a multipart.
inline const std::string kVoiceMultipart =
    "From: \"+1 555 0199\" <+15550199@example.com>\r\nTo: +15550100@example.com\r\nSubject: Voice message\r\n"
    "Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
    "--b1\r\nContent-Type: text/plain\r\n\r\nA message of 3 seconds.\r\n"
    "--b1\r\nContent-Type: audio/32KADPCM\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b1--\r\n";

inline std::vector<std::uint32_t> uids_of(const std::vector<umstore::mailstore::MessageInfo>& infos) {
  std::vector<std::uint32_t> uids;
  for (const auto& m : infos) uids.push_back(m.uid);
  return uids;
}
