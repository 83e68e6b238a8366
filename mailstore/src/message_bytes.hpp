#pragma once
// A message's bytes held in memory: what a backend returns when it has read
// the message whole (a small Maildir file, a body from the database).
#include <string>
#include <string_view>
#include <utility>

#include "mailstore/message.hpp"

namespace umstore::mailstore::detail {

class MessageBytes final : public MessageData {
 public:
  explicit MessageBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string_view bytes() const noexcept override { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace umstore::mailstore::detail
