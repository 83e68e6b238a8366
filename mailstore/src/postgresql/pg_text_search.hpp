#pragma once
// Full-text search in the PostgreSQL backend (IMAP SEARCH BODY and TEXT
// through Folder::text_candidates): each body keeps its searchable text
// (mailstore/message_text.hpp) in bodies.search_text, and a pg_trgm GIN
// index on that column answers `LIKE '%needle%'` without reading the
// folder (schema migration 5; the form below since migration 6).
//
// The column holds the header parts joined by U+001F, then U+001E, then
// the body parts joined by U+001F; ASCII letters lower-cased; U+001E,
// U+001F, NUL and bytes that are not UTF-8 as U+FFFD. The needle is
// lower-cased the same way, so LIKE finds every body whose text contains
// it as the scan compares (ASCII letters without case, other bytes
// exactly). A needle holding U+001E, U+001F, NUL or bytes that are not
// UTF-8 (which the text never holds) is not narrowed.
//
// The match is also the scan's answer, checked in the same statement, for
// a needle that is not empty and holds no U+FFFD: such a match lies inside
// one part (the needle holds no separator), on text copied from the part
// (no replaced byte is in it), so LIKE on the header portion proves a TEXT
// hit and on the body portion a BODY hit, and no message is read. A needle
// with U+FFFD may have met a replaced byte: its candidates are read.
//
// NULL text means "not computed": bodies the TextFiller has not reached
// yet (pg_text_filler.hpp: appends leave it to that thread), bodies stored
// before migration 5, text of the earlier form that migration 6 dropped, or
// bodies stored while the index was missing. A search first fills those of its folder; `umstore
// index rebuild` computes the folder's again.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pg_connection_pool.hpp"

namespace umstore::mailstore::pg {

// What bodies.search_text holds for a message.
std::string search_text(std::string_view rfc822);

// The LIKE pattern that finds `needle` in search_text; nullopt when the
// text cannot hold the needle (see above), so LIKE cannot look for it.
std::optional<std::string> search_pattern(std::string_view needle);

// Whether the database's match of `needle` is the scan's answer (above).
bool match_is_exact(std::string_view needle);

// Whether this database has the trigram index (pg_trgm could be created by
// migration 5, or by create_text_index since) and holds text as UTF-8.
bool text_index_present(Connection& c);

// Creates pg_trgm and the index when missing; throws std::runtime_error
// saying what the database user lacks when it cannot.
void create_text_index(Connection& c);

// Of `uids` (ascending), the folder's messages whose text matches
// `pattern`; with `exact`, each also proven in the body, or else in the
// header, by the same statement.
TextCandidates text_matches(Connection& c, std::int64_t folder_id, const std::string& pattern, bool exact,
                            std::span<const std::uint32_t> uids);

// Computes the text of the folder's bodies that have none (every body of
// the folder when `all`), a batch per transaction.
enum class FillScope { missing, all };
void fill_search_text(Connection& c, std::int64_t folder_id, FillScope scope);
std::size_t messages_with_text(Connection& c, std::int64_t folder_id);

}  // namespace umstore::mailstore::pg
