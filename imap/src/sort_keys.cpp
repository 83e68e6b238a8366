#include "sort_keys.hpp"

#include <chrono>

#include "common/ascii.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/imap_structure.hpp"

namespace umstore::imap {
namespace {

std::string collapse_spaces(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Removes one leading "[blob]" plus spaces; false when there is none.
bool strip_blob(std::string& s) {
  if (s.empty() || s.front() != '[') return false;
  const auto close = s.find(']');
  if (close == std::string::npos || s.find('[', 1) < close) return false;
  std::size_t end = close + 1;
  while (end < s.size() && s[end] == ' ') ++end;
  if (end == s.size()) return false;  // a blob that is the whole subject stays
  s.erase(0, end);
  return true;
}

// Removes one leading "re:", "fw:" or "fwd:" (with an optional blob before
// the colon) plus spaces; false when there is none.
bool strip_leader(std::string& s) {
  std::size_t i = 0;
  if (ascii_istarts_with(s, "re")) i = 2;
  else if (ascii_istarts_with(s, "fwd")) i = 3;
  else if (ascii_istarts_with(s, "fw")) i = 2;
  else return false;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i < s.size() && s[i] == '[') {
    const auto close = s.find(']', i);
    if (close == std::string::npos) return false;
    i = close + 1;
    while (i < s.size() && s[i] == ' ') ++i;
  }
  if (i >= s.size() || s[i] != ':') return false;
  ++i;
  while (i < s.size() && s[i] == ' ') ++i;
  s.erase(0, i);
  return true;
}

}  // namespace

BaseSubject base_subject(std::string_view subject) {
  BaseSubject out;
  std::string s = collapse_spaces(mime::decode_encoded_words(subject));
  for (;;) {
    for (bool trailer = true; trailer;) {  // (2) subj-trailer "(fwd)"
      trailer = s.size() >= 5 && ascii_iequals(std::string_view(s).substr(s.size() - 5), "(fwd)");
      if (trailer) {
        s = collapse_spaces(s.substr(0, s.size() - 5));
        out.reply_or_forward = true;
      }
    }
    bool changed = true;
    while (changed) {  // (3)-(4) subj-leader and subj-blob
      changed = strip_leader(s);
      if (changed) out.reply_or_forward = true;
      if (strip_blob(s)) changed = true;
    }
    // (6) "[fwd: ... ]" wraps a subject that may be decorated again
    if (ascii_istarts_with(s, "[fwd:") && !s.empty() && s.back() == ']') {
      s = collapse_spaces(std::string_view(s).substr(5, s.size() - 6));
      while (!s.empty() && s.front() == ' ') s.erase(0, 1);
      out.reply_or_forward = true;
      continue;
    }
    out.text = ascii_lower(s);
    return out;
  }
}

std::int64_t sent_date(const mime::Part& header, const mailstore::MessageInfo& info) {
  if (const auto date = mime::header_value(header, "Date"))
    if (const auto sent = parse_rfc5322_date(*date)) return std::chrono::system_clock::to_time_t(*sent);
  return info.internal_date;
}

}  // namespace umstore::imap
