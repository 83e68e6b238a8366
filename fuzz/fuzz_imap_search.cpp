// SEARCH as a client sends it, evaluated on one message: the input is split
// at the first NUL into the command ("a UID SEARCH RETURN (MIN) ...") and
// the message's bytes. The command grammar, the RETURN options, the search
// keys (nesting, dates, sets, header names), then every key evaluated
// (header, address and text matching on the parsed message) and the
// ESEARCH line written. None may crash, hang or read past the input.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "command_parser.hpp"
#include "search_query.hpp"

namespace {

using namespace umstore;

class InputMessage final : public mailstore::MessageData {
 public:
  explicit InputMessage(std::string_view bytes) : bytes_(bytes) {}
  std::string_view bytes() const noexcept override { return bytes_; }

 private:
  std::string_view bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::imap;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string_view command = input.substr(0, nul);
  const std::string_view message = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  std::deque<std::string> storage;
  const auto parsed = parse_command(command, storage);
  if (!parsed.command) return 0;
  const auto prefix = parse_search_return(parsed.command->args);
  const auto* with_return = std::get_if<SearchReturnPrefix>(&prefix);
  if (!with_return) return 0;
  const auto searched = parse_search(with_return->rest);
  const auto* key = std::get_if<SearchKey>(&searched);
  if (!key) return 0;

  mailstore::MessageInfo info;
  info.uid = 7;
  info.flags = mailstore::kSeen | mailstore::kFlagged;
  info.keywords = {"$Forwarded", "Voicemail"};
  info.size = message.size();
  info.internal_date = 1'700'000'000;
  info.save_date = 1'700'086'400;
  info.modseq = 42;
  const std::vector<std::uint32_t> saved{3, 7, 9};
  SearchSubject subject;
  subject.seq = 2;
  subject.max_seq = 10;
  subject.max_uid = 20;
  subject.now = 1'700'100'000;
  subject.info = &info;
  subject.recent = true;
  subject.saved = saved;
  subject.load = [message] { return std::make_shared<InputMessage>(message); };
  const bool found = matches(*key, subject);

  const std::vector<std::uint32_t> uids = found ? std::vector<std::uint32_t>{1, 2, 3, 7, 9} : std::vector<std::uint32_t>{};
  const std::vector<std::uint64_t> modseqs(uids.size(), info.modseq);
  const auto modseq = uses_modseq(*key) ? std::optional(reported_modseq(with_return->options, modseqs)) : std::nullopt;
  (void)esearch_line(parsed.command->tag, true, with_return->options, uids, modseq);
  return 0;
}
