#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::mailstore {

// IMAP system flags. \Recent is per session: the folder only keeps the
// first UID no session has claimed yet (Folder::claim_recent).
enum Flag : std::uint8_t {
  kSeen = 1 << 0,
  kAnswered = 1 << 1,
  kFlagged = 1 << 2,
  kDeleted = 1 << 3,
  kDraft = 1 << 4,
};
using Flags = std::uint8_t;

struct MessageInfo {
  std::uint32_t uid = 0;
  Flags flags = 0;
  std::vector<std::string> keywords;  // e.g. "$MDNSent", "$Forwarded"
  std::uint64_t size = 0;             // octets as stored (CRLF line ends) = RFC822.SIZE
  std::int64_t internal_date = 0;     // seconds since the epoch, UTC
  std::uint64_t modseq = 1;           // RFC 7162 mod-sequence: raised by every flag or keyword change
  // When the message was saved into this folder (APPEND, delivery, COPY or
  // MOVE target), seconds since the epoch: RFC 8514 SAVEDATE and message
  // aging. Messages stored before save dates were kept have their internal date.
  std::int64_t save_date = 0;
};

// The bytes of one stored message, memory-mapped read-only: FETCH streams
// from it without copying. Stays valid even if the message is expunged meanwhile.
class MessageData {
 public:
  virtual ~MessageData() = default;
  virtual std::string_view bytes() const noexcept = 0;
};
using MessageDataPtr = std::shared_ptr<const MessageData>;

}  // namespace umstore::mailstore
