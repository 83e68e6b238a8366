#include "smtp/smtp_client.hpp"

#include "client_connection.hpp"

#include <asio.hpp>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace umstore::smtp {
namespace {

using namespace detail;

class Submitter {
 public:
  Submitter(ClientConnection& connection) : connection_(connection) {}

  // Sends `line` and throws unless the reply is in the class `expected` (2 or 3).
  SmtpReply expect(const std::string& line, int expected) {
    SmtpReply reply = connection_.command(line);
    if (reply.code / 100 != expected) refused(line, reply);
    return reply;
  }

  [[noreturn]] void refused(const std::string& what, const SmtpReply& reply) {
    try {
      connection_.command("QUIT");
    } catch (const SmtpError&) {
      // The refusal is what the caller needs to hear about.
    }
    throw SmtpError("SMTP server refused " + what + ": " + describe(reply), reply);
  }

 private:
  ClientConnection& connection_;
};

}  // namespace

SmtpReply submit(const std::string& host, unsigned short port, const Submission& message,
                 const std::string& helo_name, std::chrono::seconds timeout) {
  if (message.recipients.empty()) throw SmtpError("a submission needs at least one recipient", {});
  check_address(message.mail_from);
  for (const auto& recipient : message.recipients) check_address(recipient);
  std::string stuffed = dot_stuff(message.data);

  ClientConnection connection(host, port, timeout);
  Submitter session(connection);
  SmtpReply greeting = connection.read_reply();
  if (greeting.code / 100 != 2) session.refused("the connection", greeting);

  ServerExtensions extensions;
  SmtpReply ehlo = connection.command("EHLO " + helo_name);
  if (ehlo.code / 100 == 2) extensions = parse_ehlo(ehlo);
  else session.expect("HELO " + helo_name, 2);

  std::string mail = "MAIL FROM:<" + message.mail_from + ">";
  if (extensions.size) mail += " SIZE=" + std::to_string(stuffed.size());
  if (extensions.eight_bit_mime) mail += " BODY=8BITMIME";
  session.expect(mail, 2);
  for (const auto& recipient : message.recipients) session.expect("RCPT TO:<" + recipient + ">", 2);
  session.expect("DATA", 3);
  connection.send(stuffed);
  SmtpReply accepted = connection.read_reply();
  if (accepted.code / 100 != 2) session.refused("the message", accepted);
  try {
    connection.command("QUIT");
  } catch (const SmtpError&) {
    // The message is accepted; a lost QUIT changes nothing.
  }
  return accepted;
}

}  // namespace umstore::smtp
