// An SMTP command line as a client sends it (without CRLF): the verb, then
// for MAIL and RCPT the path with its ESMTP parameters and where a
// recipient points. Syntax errors are exceptions the session turns into
// 501/555 replies; anything else escaping, or a crash, is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/smtp_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace umstore::smtp;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const Command command = parse_command(line);
  static const std::vector<std::string> ours{"vm.example.net", "fax.example.net"};
  try {
    const PathArgument path = command.verb == Verb::Mail ? parse_reverse_path(command.argument)
                                                         : parse_forward_path(command.argument);
    (void)format_path(path.mailbox);
    if (path.mailbox) {
      (void)path.mailbox->address();
      (void)route_recipient(*path.mailbox, ours);
      (void)mailbox_number(path.mailbox->local_part);
    }
    for (const auto& parameter : path.parameters) (void)parse_octet_count(parameter.value);
  } catch (const SmtpSyntaxError& e) {
    (void)format_reply(e.reply_code(), e.enhanced(), e.what());
  }
  return 0;
}
