#pragma once
// Full-text search in the PostgreSQL backend (IMAP SEARCH BODY and TEXT
// through Folder::text_candidates): each body keeps its searchable text
// (mailstore/message_text.hpp) in bodies.search_text, and a pg_trgm GIN
// index on that column answers `LIKE '%needle%'` without reading the
// folder (schema migration 5).
//
// The column holds the header and body texts joined by newlines, ASCII
// letters lower-cased and what is not valid UTF-8 (or is NUL, which text
// cannot hold) as spaces; the needle is lower-cased the same way, so LIKE
// finds exactly the bodies whose text contains it as the scan compares
// (ASCII letters without case, other bytes exactly), plus a few where it
// spans two parts, a header-only hit of a BODY search or a replaced byte:
// the caller checks candidates exactly, as for the Maildir index. A needle
// that is not valid UTF-8 is not narrowed.
//
// NULL text means "not computed": bodies stored before migration 5, or
// while the index was missing. A search first fills those of its folder;
// `umstore index rebuild` computes the folder's again.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg_connection_pool.hpp"

namespace umstore::mailstore::pg {

// What bodies.search_text holds for a message.
std::string search_text(std::string_view rfc822);

// The LIKE pattern that finds `needle` in search_text; nullopt when the
// needle is not valid UTF-8 (or holds NUL), which LIKE cannot look for.
std::optional<std::string> search_pattern(std::string_view needle);

// Whether this database has the trigram index (pg_trgm could be created by
// migration 5, or by create_text_index since) and holds text as UTF-8.
bool text_index_present(Connection& c);

// Creates pg_trgm and the index when missing; throws std::runtime_error
// saying what the database user lacks when it cannot.
void create_text_index(Connection& c);

// UIDs of the folder's messages whose text matches `pattern`, ascending.
std::vector<std::uint32_t> text_matches(Connection& c, std::int64_t folder_id, const std::string& pattern);

// Computes the text of the folder's bodies that have none (every body of
// the folder when `all`), a batch per transaction.
enum class FillScope { missing, all };
void fill_search_text(Connection& c, std::int64_t folder_id, FillScope scope);
std::size_t messages_with_text(Connection& c, std::int64_t folder_id);

}  // namespace umstore::mailstore::pg
