#include "pg_text_search.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/ascii.hpp"
#include "common/utf8.hpp"
#include "mailstore/message_text.hpp"

namespace umstore::mailstore::pg {
namespace {

// Bodies read, decoded and written per transaction while filling: a
// transaction short enough not to hold row locks long, long enough that a
// commit per body does not dominate.
constexpr std::size_t kFillBatch = 200;

// What the text marks parts with, and what stands for a byte it cannot hold.
constexpr char kPartSeparator = '\x1F';
constexpr char kBodySeparator = '\x1E';
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the character at the start of `text` (not empty) when the
// search text holds it as it is, else 0: not UTF-8, NUL or a separator.
std::size_t kept_length(std::string_view text) {
  if (text[0] == '\0' || text[0] == kPartSeparator || text[0] == kBodySeparator) return 0;
  return utf8_sequence_length(text);
}

// `text`, ASCII lower-cased, appended with what the search text does not
// hold as U+FFFD, byte by byte. A valid sequence is never consumed as part
// of an invalid one (a lead byte is never a continuation byte), so every
// needle found in the bytes is found in the result.
void append_searchable(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = kept_length(text.substr(i));
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    for (const char c : text.substr(i, len)) out += ascii_to_lower(c);
    i += len;
  }
}

bool storable(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = kept_length(text.substr(i));
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void append_parts(std::string& out, const std::vector<std::string>& parts) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += kPartSeparator;
    append_searchable(out, parts[i]);
  }
}

}  // namespace

std::string search_text(std::string_view rfc822) {
  const MessageText text = message_text(mime::parse_message(rfc822), rfc822);
  std::string out;
  append_parts(out, text.header);
  out += kBodySeparator;
  append_parts(out, text.body);
  return out;
}

std::optional<std::string> search_pattern(std::string_view needle) {
  if (!storable(needle)) return std::nullopt;
  std::string pattern = "%";
  for (const char c : needle) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';  // LIKE's default escape
    pattern += ascii_to_lower(c);
  }
  return pattern + "%";
}

bool match_is_exact(std::string_view needle) {
  return !needle.empty() && needle.find(kReplacement) == std::string_view::npos;
}

bool text_index_present(Connection& c) {
  return c.exec("SELECT to_regclass('bodies_search_text') IS NOT NULL "
                "AND current_setting('server_encoding') IN ('UTF8', 'SQL_ASCII')")
      .boolean(0, 0);
}

void create_text_index(Connection& c) {
  try {
    c.exec("CREATE EXTENSION IF NOT EXISTS pg_trgm");
    // The operator class is where the extension was installed, perhaps outside the search path.
    const auto schema = c.exec("SELECT quote_ident(n.nspname) FROM pg_extension e "
                               "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'");
    c.exec("CREATE INDEX IF NOT EXISTS bodies_search_text ON bodies USING gin (search_text " + schema.text(0, 0) +
           ".gin_trgm_ops)");
  } catch (const PgError& e) {
    if (e.connection_lost()) throw;
    throw std::runtime_error(std::string("cannot create the full-text index (") + e.what() +
                             "): install the Debian package postgresql-contrib-15 or postgresql-15 on the database "
                             "server, and have a user with CREATE on this database run CREATE EXTENSION pg_trgm");
  }
}

TextCandidates text_matches(Connection& c, std::int64_t folder_id, const std::string& pattern, bool exact,
                            std::span<const std::uint32_t> uids) {
  // The trigram index finds the bodies; chr(30) is kBodySeparator. An
  // exact match that is not in the body portion is in the header's.
  // Planned for the pattern: one with few trigrams goes without the index.
  const auto r = c.exec_planned_for_values(
      "SELECT m.uid, $3 AND split_part(b.search_text, chr(30), 2) LIKE $2 "
      "FROM messages m JOIN bodies b ON b.sha256 = m.body_sha256 "
      "WHERE m.folder_id = $1 AND b.search_text LIKE $2 ORDER BY m.uid",
      {IntParam(folder_id), Param::text(pattern), Param::text(exact ? "t" : "f")});
  TextCandidates found;
  for (int i = 0; i < r.rows(); ++i) {
    const auto uid = static_cast<std::uint32_t>(r.integer(i, 0));
    if (!std::binary_search(uids.begin(), uids.end(), uid)) continue;
    found.possible.push_back(uid);
    if (!exact) continue;
    (r.boolean(i, 1) ? found.in_body : found.in_header).push_back(uid);
  }
  return found;
}

void fill_search_text(Connection& c, std::int64_t folder_id, FillScope scope) {
  // The missing ones through the partial index bodies_without_text: a search
  // asks this every time, and almost always gets nothing. In one order, so
  // that two fillers (a search and the TextFiller, or two nodes) lock the
  // same bodies in the same order and never deadlock.
  const auto bodies = c.exec(scope == FillScope::missing
                                 ? "SELECT DISTINCT encode(b.sha256, 'hex') FROM bodies b JOIN messages m "
                                   "ON m.body_sha256 = b.sha256 WHERE m.folder_id = $1 AND b.search_text IS NULL "
                                   "ORDER BY 1"
                                 : "SELECT DISTINCT encode(body_sha256, 'hex') FROM messages WHERE folder_id = $1 "
                                   "ORDER BY 1",
                             {IntParam(folder_id)});
  for (int first = 0; first < bodies.rows(); first += static_cast<int>(kFillBatch)) {
    Transaction t(c);
    const int end = std::min(bodies.rows(), first + static_cast<int>(kFillBatch));
    for (int i = first; i < end; ++i) {
      const auto data = c.exec_binary("SELECT data FROM bodies WHERE sha256 = decode($1, 'hex')",
                                      {Param::text(bodies.view(i, 0))});
      if (data.rows() == 0) continue;  // its last message was expunged meanwhile
      c.exec("UPDATE bodies SET search_text = $2 WHERE sha256 = decode($1, 'hex')",
             {Param::text(bodies.view(i, 0)), Param::text(search_text(data.view(0, 0)))});
    }
    t.commit();
  }
}

std::size_t messages_with_text(Connection& c, std::int64_t folder_id) {
  return static_cast<std::size_t>(
      c.exec("SELECT count(*) FROM messages m JOIN bodies b ON b.sha256 = m.body_sha256 "
             "WHERE m.folder_id = $1 AND b.search_text IS NOT NULL",
             {IntParam(folder_id)})
          .integer(0, 0));
}

}  // namespace umstore::mailstore::pg
