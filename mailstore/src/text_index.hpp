#pragma once
// A Maildir folder's full-text index (internal to the mailstore library):
// a Xapian database in <folder>/umstore-fts, one document per message with
// docid = UID, holding the trigrams of the words of its text
// (mailstore/message_text.hpp), lower-cased ASCII. A "word" is a run of
// ASCII letters and digits and bytes >= 0x80 (UTF-8), so every word of a
// SEARCH string lies inside a word of any text containing the string, and
// the string's trigrams are all among the text's: asking for them all gives
// every message that contains the string, and some that do not (the
// caller checks those exactly, as Dovecot's fts-flatcurve checks its
// substring candidates). Strings with no word of three bytes are not
// narrowed at all. Each word of up to 64 bytes is a term too, marked as
// from the header or a body part: a string that is one such word is proven
// in the messages holding that term, which the caller then need not read.
//
// The index is a cache of the messages, never their record: it is written
// without fsync, may lag (another process holding it, a crash), and a
// missing, corrupt or outdated one (another UIDVALIDITY, an older term
// format) is built again. A search first indexes the messages it is asked
// about that the index lacks, so answers never depend on its state.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "mailstore/folder.hpp"
#include "mailstore/message.hpp"

namespace umstore::mailstore::detail {

class TextIndex {
 public:
  using Loader = std::function<MessageDataPtr(std::uint32_t uid)>;
  static constexpr const char* kDirectory = "umstore-fts";

  // An empty `dir`: no index (MaildirOptions::text_index off); searches read every message.
  explicit TextIndex(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Indexes messages just stored and drops removed ones, in one commit,
  // waiting for another process that holds the index; never throws.
  void update(std::uint32_t uid_validity, std::span<const std::uint32_t> added, std::span<const std::uint32_t> removed,
              const Loader& load) noexcept;
  // Of `uids` (ascending), those whose text may contain `needle` (ASCII
  // case-insensitive) and those the index could not read, and those it
  // proves; nullopt when it cannot narrow this needle (or fails: the caller
  // then reads them all).
  std::optional<TextCandidates> candidates(std::string_view needle, std::uint32_t uid_validity,
                                           std::span<const std::uint32_t> uids, const Loader& load) noexcept;
  // Builds the index anew beside the old one and swaps it in; returns the
  // messages indexed. Throws std::runtime_error when that cannot be done.
  std::size_t rebuild(std::uint32_t uid_validity, std::span<const std::uint32_t> uids, const Loader& load);

 private:
  // Indexes `uids`, unless another process holds the index.
  void catch_up(std::uint32_t uid_validity, std::span<const std::uint32_t> uids, const Loader& load);

  std::filesystem::path dir_;
  std::mutex writer_;  // one writer in this process; Xapian's lock keeps other processes out
};

}  // namespace umstore::mailstore::detail
