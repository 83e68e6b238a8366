#pragma once
// What the console shows of a mailbox's messages: a summary per message
// (kind, caller, time, duration or pages: mime::summarise_message) and the
// content a browser can play or show: WAV for voice, PDF for fax.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/folder.hpp"

namespace umstore::admin {

struct MessageSummary {
  std::string folder;
  std::uint32_t uid = 0;
  std::string kind;         // voice, fax or mail
  std::string caller;       // Caller-ID, else the From header
  std::string caller_name;
  std::string subject;
  std::int64_t date_ms = 0; // the Date header, else the internal date
  long long duration_seconds = 0;  // voice
  unsigned pages = 0;              // fax
  bool seen = false;
};

// Newest first, over INBOX and the Voicemail and Fax folders.
std::vector<MessageSummary> list_messages(mailstore::UserMailbox& mailbox);

struct Content {
  std::string content_type;
  std::string bytes;
};
// nullopt when the message has no voice (or no fax) part.
std::optional<Content> voice_audio(std::string_view rfc822);
std::optional<Content> fax_pdf(std::string_view rfc822);

// The folders list_messages reads, for checking a folder named in a URL.
bool is_message_folder(std::string_view folder);

}  // namespace umstore::admin
