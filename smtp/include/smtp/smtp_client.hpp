#pragma once
// A small blocking SMTP client for submitting one message: used by the ingest
// pipeline (umstore ingest ... talks to the running server) and by tests.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace umstore::smtp {

struct SmtpReply {
  int code = 0;               // 250, 550, ...
  std::string enhanced;       // "5.1.1" when the server sent one
  std::string text;           // all reply lines joined with "\n"
};

// A refusal or a broken conversation; reply.code is 0 for network errors.
class SmtpError : public std::runtime_error {
 public:
  SmtpError(const std::string& what, SmtpReply reply) : std::runtime_error(what), reply_(std::move(reply)) {}
  const SmtpReply& reply() const noexcept { return reply_; }

 private:
  SmtpReply reply_;
};

struct Submission {
  std::string mail_from;                // envelope sender, may be empty for "<>"
  std::vector<std::string> recipients;  // envelope recipients
  std::string data;                     // the message, CRLF line ends, not dot-stuffed
};

// Connects, EHLOs, sends the message and QUITs. Throws SmtpError unless every
// recipient was accepted and the data got a 2xx; returns the final reply.
SmtpReply submit(const std::string& host, unsigned short port, const Submission& message,
                 const std::string& helo_name = "localhost",
                 std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace umstore::smtp
