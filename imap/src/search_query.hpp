#pragma once
// SEARCH keys (RFC 3501 §6.4.4): parsed into a tree, evaluated per message.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "command_parser.hpp"
#include "mailstore/folder.hpp"
#include "mailstore/message.hpp"
#include "mime/message_parser.hpp"
#include "sequence_set.hpp"

namespace umstore::imap {

struct SearchKey {
  enum class Op {
    All, And, Or, Not,
    FlagSet, FlagClear, Keyword, Unkeyword, New, Old, Recent,
    Header, Body, Text,
    Before, On, Since, SentBefore, SentOn, SentSince,
    Larger, Smaller, SequenceNumbers, Uids,
    Modseq,  // RFC 7162: mod-sequence >= number
    Younger, Older,  // RFC 5032 WITHIN: internal date within / not within `number` seconds of now
    SavedResult,     // RFC 5182 "$": the messages the last SEARCH RETURN (SAVE) kept
    EmailId, ThreadId,  // RFC 8474 OBJECTID: `value` is the objectid
    SavedBefore, SavedOn, SavedSince,  // RFC 8514 SAVEDATE: as BEFORE/ON/SINCE on the save date
  };
  Op op = Op::All;
  mailstore::Flags flag = 0;
  std::string field;  // header name for Header (upper-case)
  std::string value;  // substring, keyword
  std::int64_t number = 0;  // date (UTC midnight, seconds) or size
  std::optional<SequenceSet> set;
  std::vector<SearchKey> children;
};

// Why there is no search key: the arguments are malformed (tagged BAD
// saying `text`), or name a charset the server does not search in (tagged
// NO [BADCHARSET]).
struct SearchError {
  bool unsupported_charset = false;
  std::string text;
};

// Parses the arguments after SEARCH (with an optional CHARSET prefix).
std::variant<SearchKey, SearchError> parse_search(std::span<const Arg> args);

// Per BODY or TEXT key, the UIDs the store's full-text index says may
// match and those it proves (mailstore::Folder::text_candidates); a key
// not named here is checked on every message.
using TextCandidates = std::map<const SearchKey*, mailstore::TextCandidates>;

// What evaluation needs about one message; bytes are loaded on demand.
struct SearchSubject {
  std::uint32_t seq = 0;
  std::uint32_t max_seq = 0;
  std::uint32_t max_uid = 0;
  std::int64_t now = 0;  // seconds since the epoch, for YOUNGER/OLDER
  const mailstore::MessageInfo* info = nullptr;
  bool recent = false;
  std::span<const std::uint32_t> saved;  // the UIDs "$" names, ascending
  const TextCandidates* text_candidates = nullptr;
  std::function<mailstore::MessageDataPtr()> load;
  // The top-level header block (e.g. from the fetch cache); unset: cut from load().
  std::function<std::string()> load_header;

  std::string_view bytes();
  const mime::Part& structure();
  // The top-level header only: header keys need not scan a voicemail's base64.
  const mime::Part& header_structure();

 private:
  mailstore::MessageDataPtr data_;
  std::optional<mime::Part> part_;
  std::optional<mime::Part> header_part_;
  std::string header_;  // what header_part_ points into, when load_header gave it
  bool loaded_ = false;
};

bool matches(const SearchKey& key, SearchSubject& subject);

// True when the key uses MODSEQ anywhere: the answer then carries a
// mod-sequence of the messages found (RFC 7162 §3.1.5).
bool uses_modseq(const SearchKey& key);

// RFC 9394 PARTIAL "1:100" (the first hundred results) or "-1:-100" (the last hundred).
struct PartialRange {
  bool from_end = false;
  std::uint32_t first = 1, last = 1;  // first <= last, counted from the end when from_end
  std::string text;                   // as the client wrote it, for the answer
  // [begin, end) of the `count` results it names.
  std::pair<std::size_t, std::size_t> slice(std::size_t count) const;
};
std::optional<PartialRange> parse_partial_range(std::string_view text);

// ESEARCH result options (RFC 4731), for SEARCH and SORT (ESORT, RFC 5267).
struct SearchReturn {
  bool extended = false;  // RETURN given: answer with ESEARCH (unless SAVE is all it asks)
  bool min = false, max = false, count = false, all = false;
  bool save = false;  // RFC 5182 SEARCHRES: keep the result as "$"
  std::optional<PartialRange> partial;  // RFC 9394
  bool update = false;  // RFC 5267 §4.3: the result kept current (ADDTO, REMOVEFROM) until CANCELUPDATE
  bool answers() const { return min || max || count || all || partial; }
};
// "RETURN (options)" at the front of a SEARCH or SORT, and the arguments after it.
struct SearchReturnPrefix {
  SearchReturn options;
  std::span<const Arg> rest;
};
// The options (none given: not extended) or, when malformed, what is wrong.
std::variant<SearchReturnPrefix, SearchError> parse_search_return(std::span<const Arg> args);

// RFC 4731 §3.2, RFC 7162 §3.1.5: with only MIN and/or MAX the MODSEQ data
// belongs to the message(s) returned, else to all that matched; `modseqs`
// in the order of the result.
std::uint64_t reported_modseq(const SearchReturn& ret, const std::vector<std::uint64_t>& modseqs);

// "ESEARCH (TAG "t") [UID] MIN .. MAX .. COUNT .. ALL .. [MODSEQ ..]": MIN
// and MAX are the first and last of `found`.
std::string esearch_line(std::string_view tag, bool uid, const SearchReturn& ret,
                         const std::vector<std::uint32_t>& found, std::optional<std::uint64_t> modseq);

}  // namespace umstore::imap
