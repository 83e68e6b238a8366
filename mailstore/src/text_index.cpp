#include "text_index.hpp"

#include <xapian.h>

#include <algorithm>
#include <optional>
#include <string>
#include <system_error>

#include "common/ascii.hpp"
#include "common/log.hpp"
#include "mailstore/message_text.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;
namespace {

// Bumped whenever the terms change: an index with another format is rebuilt.
constexpr std::string_view kFormat = "trigrams-words-2";
constexpr std::size_t kGram = 3;
// Whole words as terms too, prefixed by where they are (trigrams are lower
// case, so an upper-case prefix never collides): a search for a single word
// finds the messages that hold it as a word without reading them. Longer
// words (base64 left in a text part, say) are only trigrams: Xapian's terms
// are bounded.
constexpr char kBodyWord = 'B';
constexpr char kHeaderWord = 'H';
constexpr std::size_t kMaxWord = 64;

bool is_word_byte(char c) {
  const auto b = static_cast<unsigned char>(c);
  return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80;
}

// The lower-cased trigrams of every word of `text`, appended (with
// repeats), and with a `word_prefix` the words themselves.
void add_terms(std::string_view text, std::vector<std::string>& out, std::optional<char> word_prefix = std::nullopt) {
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && is_word_byte(text[i])) ++i;
    for (std::size_t j = start; j + kGram <= i; ++j) out.push_back(ascii_lower(text.substr(j, kGram)));
    if (word_prefix && i > start && i - start <= kMaxWord)
      out.push_back(*word_prefix + ascii_lower(text.substr(start, i - start)));
  }
}

// The needle itself when it is one word that may be a term.
std::optional<std::string> single_word(std::string_view needle) {
  if (needle.empty() || needle.size() > kMaxWord || !std::all_of(needle.begin(), needle.end(), is_word_byte))
    return std::nullopt;
  return ascii_lower(needle);
}

void sort_unique(std::vector<std::string>& terms) {
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
}

Xapian::Document document_of(std::string_view message) {
  const MessageText text = message_text(mime::parse_message(message), message);
  std::vector<std::string> terms;
  for (const auto& part : text.header) add_terms(part, terms, kHeaderWord);
  for (const auto& part : text.body) add_terms(part, terms, kBodyWord);
  sort_unique(terms);
  Xapian::Document doc;
  for (const auto& term : terms) doc.add_boolean_term(term);
  return doc;
}

std::string validity_text(std::uint32_t uid_validity) { return std::to_string(uid_validity); }

bool current(const Xapian::Database& db, std::uint32_t uid_validity) {
  return db.get_metadata("format") == kFormat && db.get_metadata("uidvalidity") == validity_text(uid_validity);
}

void remove_directory(const fs::path& dir) {
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

// The index for writing, started over when it is corrupt or belongs to
// another UIDVALIDITY or format. Throws Xapian::DatabaseLockError when
// another process writes, unless `wait` (then it waits for that process).
enum class LockWait { no, yes };
Xapian::WritableDatabase open_writer(const fs::path& dir, std::uint32_t uid_validity, LockWait wait = LockWait::no) {
  const int kFlags = Xapian::DB_CREATE_OR_OPEN | Xapian::DB_NO_SYNC | Xapian::DB_BACKEND_GLASS |
                     (wait == LockWait::yes ? Xapian::DB_RETRY_LOCK : 0);
  try {
    Xapian::WritableDatabase db(dir.string(), kFlags);
    if (current(db, uid_validity)) return db;
    if (db.get_doccount() == 0 && db.get_metadata("format").empty()) {
      db.set_metadata("format", std::string(kFormat));
      db.set_metadata("uidvalidity", validity_text(uid_validity));
      return db;
    }
    log(LogLevel::Info, "mailstore", "full-text index {} is outdated: building it again", dir.string());
  } catch (const Xapian::DatabaseLockError&) {
    throw;
  } catch (const Xapian::DatabaseError& e) {  // corrupt, unreadable version, a crash's leftovers
    log(LogLevel::Warning, "mailstore", "full-text index {} is damaged ({}): building it again", dir.string(),
        e.get_msg());
  }
  remove_directory(dir);
  Xapian::WritableDatabase db(dir.string(), kFlags);
  db.set_metadata("format", std::string(kFormat));
  db.set_metadata("uidvalidity", validity_text(uid_validity));
  return db;
}

// Indexes what it can read of `uids`; returns those indexed.
std::vector<std::uint32_t> index_messages(Xapian::WritableDatabase& db, std::span<const std::uint32_t> uids,
                                          const TextIndex::Loader& load) {
  std::vector<std::uint32_t> done;
  for (const std::uint32_t uid : uids) {
    const MessageDataPtr data = load(uid);
    if (!data) continue;  // expunged meanwhile
    db.replace_document(uid, document_of(data->bytes()));
    done.push_back(uid);
  }
  db.commit();
  return done;
}

std::vector<std::uint32_t> indexed_uids(const Xapian::Database& db) {
  std::vector<std::uint32_t> uids;
  uids.reserve(db.get_doccount());
  for (auto it = db.postlist_begin(""); it != db.postlist_end(""); ++it) uids.push_back(*it);
  return uids;
}

std::vector<std::uint32_t> matching(const Xapian::Database& db, const std::vector<std::string>& terms) {
  Xapian::Enquire enquire(db);
  enquire.set_query(Xapian::Query(Xapian::Query::OP_AND, terms.begin(), terms.end()));
  enquire.set_weighting_scheme(Xapian::BoolWeight());
  enquire.set_docid_order(Xapian::Enquire::ASCENDING);
  const Xapian::MSet found = enquire.get_mset(0, db.get_doccount());
  std::vector<std::uint32_t> uids;
  uids.reserve(found.size());
  for (auto it = found.begin(); it != found.end(); ++it) uids.push_back(*it);
  std::sort(uids.begin(), uids.end());
  return uids;
}

// The messages of `uids` holding `term`.
std::vector<std::uint32_t> holding(const Xapian::Database& db, const std::string& term,
                                   std::span<const std::uint32_t> uids) {
  std::vector<std::uint32_t> found;
  for (auto it = db.postlist_begin(term); it != db.postlist_end(term); ++it)
    if (std::binary_search(uids.begin(), uids.end(), *it)) found.push_back(*it);
  return found;
}

std::vector<std::uint32_t> without(std::span<const std::uint32_t> all, const std::vector<std::uint32_t>& some) {
  std::vector<std::uint32_t> rest;
  std::set_difference(all.begin(), all.end(), some.begin(), some.end(), std::back_inserter(rest));
  return rest;
}

}  // namespace

void TextIndex::update(std::uint32_t uid_validity, std::span<const std::uint32_t> added,
                       std::span<const std::uint32_t> removed, const Loader& load) noexcept {
  if ((added.empty() && removed.empty()) || dir_.empty()) return;
  try {
    std::lock_guard lock(writer_);
    // Waits for another process's writer: a removal (an erasure) must not be skipped.
    Xapian::WritableDatabase db = open_writer(dir_, uid_validity, LockWait::yes);
    for (const std::uint32_t uid : removed) {
      try {
        db.delete_document(uid);
      } catch (const Xapian::DocNotFoundError&) {
      }
    }
    index_messages(db, added, load);  // commits
  } catch (const std::exception& e) {
    log(LogLevel::Warning, "mailstore", "full-text index {}: {} (searches read these messages)", dir_.string(), e.what());
  } catch (const Xapian::Error& e) {
    log(LogLevel::Warning, "mailstore", "full-text index {}: {} (searches read these messages)", dir_.string(),
        e.get_description());
  }
}

std::optional<TextCandidates> TextIndex::candidates(std::string_view needle, std::uint32_t uid_validity,
                                                    std::span<const std::uint32_t> uids, const Loader& load) noexcept {
  std::vector<std::string> terms;
  add_terms(needle, terms);
  const auto word = single_word(needle);
  if (terms.empty() || dir_.empty()) return std::nullopt;
  sort_unique(terms);
  try {
    // Which messages the index holds and which of them match come from one
    // revision of it (a rebuild or a catch-up may write meanwhile).
    for (int attempt = 0;; ++attempt) {
      try {
        std::optional<Xapian::Database> db;
        std::vector<std::uint32_t> unread(uids.begin(), uids.end());
        try {
          db.emplace(dir_.string());
          if (current(*db, uid_validity)) unread = without(uids, indexed_uids(*db));
          else db.reset();
        } catch (const Xapian::DatabaseModifiedError&) {
          throw;
        } catch (const Xapian::DatabaseError&) {
          db.reset();  // missing or damaged: the catch-up starts it over
        }
        if (!unread.empty() && attempt == 0) {
          catch_up(uid_validity, unread, load);
          continue;
        }
        std::vector<std::uint32_t> found;
        TextCandidates result;
        if (db) {
          const auto matched = matching(*db, terms);
          std::set_intersection(matched.begin(), matched.end(), uids.begin(), uids.end(), std::back_inserter(found));
          if (word) {
            result.in_body = holding(*db, kBodyWord + *word, found);
            result.in_header = holding(*db, kHeaderWord + *word, found);
          }
        }
        std::set_union(found.begin(), found.end(), unread.begin(), unread.end(), std::back_inserter(result.possible));
        return result;
      } catch (const Xapian::DatabaseModifiedError&) {
        if (attempt >= 3) throw;  // written to while read, again and again
      }
    }
  } catch (const Xapian::DatabaseCorruptError& e) {
    log(LogLevel::Warning, "mailstore", "full-text index {} is damaged ({}): this search reads every message, the next "
        "builds it again", dir_.string(), e.get_msg());
    std::lock_guard lock(writer_);
    remove_directory(dir_);
  } catch (const Xapian::Error& e) {
    log(LogLevel::Warning, "mailstore", "full-text index {}: {} (this search reads every message)", dir_.string(),
        e.get_description());
  } catch (const std::exception& e) {
    log(LogLevel::Warning, "mailstore", "full-text index {}: {} (this search reads every message)", dir_.string(),
        e.what());
  }
  return std::nullopt;
}

void TextIndex::catch_up(std::uint32_t uid_validity, std::span<const std::uint32_t> uids, const Loader& load) {
  std::lock_guard lock(writer_);
  try {
    Xapian::WritableDatabase db = open_writer(dir_, uid_validity);
    index_messages(db, uids, load);
  } catch (const Xapian::DatabaseLockError&) {
    // another process writes it: what it lacks is read instead
  }
}

std::size_t TextIndex::rebuild(std::uint32_t uid_validity, std::span<const std::uint32_t> uids, const Loader& load) try {
  if (dir_.empty()) return 0;
  std::lock_guard lock(writer_);
  const fs::path fresh = dir_.string() + ".new", old = dir_.string() + ".old";
  remove_directory(fresh);
  std::size_t count = 0;
  {
    Xapian::WritableDatabase db(fresh.string(), Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_NO_SYNC);
    db.set_metadata("format", std::string(kFormat));
    db.set_metadata("uidvalidity", validity_text(uid_validity));
    count = index_messages(db, uids, load).size();
    db.close();
  }
  // Readers holding the old one finish with it; writers in other processes
  // lose what they add to it meanwhile, which the next search catches up.
  remove_directory(old);
  std::error_code ec;
  fs::rename(dir_, old, ec);
  fs::rename(fresh, dir_, ec);
  if (ec) {  // a search in another process started an index meanwhile
    remove_directory(dir_);
    fs::rename(fresh, dir_);
  }
  remove_directory(old);
  return count;
} catch (const Xapian::Error& e) {
  throw std::runtime_error("cannot build the full-text index " + dir_.string() + ": " + e.get_description());
} catch (const fs::filesystem_error& e) {
  throw std::runtime_error("cannot build the full-text index " + dir_.string() + ": " + e.what());
}

}  // namespace umstore::mailstore::detail
