#pragma once
// SMTP syntax without I/O (RFC 5321 §4.1): command lines, paths with their
// ESMTP parameters, reply formatting and the mapping of local addresses to
// E.164 mailboxes. The server and the tests use it; nothing here blocks.
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::smtp {

// RFC 5321 limits (§4.5.3.1).
inline constexpr std::size_t kMaxLocalPart = 64;
inline constexpr std::size_t kMaxDomain = 255;
inline constexpr std::size_t kMaxPath = 256;

enum class Verb {
  Ehlo, Helo, Mail, Rcpt, Data, Rset, Noop, Quit, Vrfy, Expn, Help, Starttls,
  Bdat,  // RFC 3030 CHUNKING: recognised, not implemented yet
  Auth,  // RFC 4954: recognised, not implemented yet
  Unknown
};

struct Command {
  Verb verb = Verb::Unknown;
  std::string_view argument;  // after the verb and its space, trailing spaces removed
};

// Splits a command line (without CRLF). Verbs are case-insensitive.
Command parse_command(std::string_view line) noexcept;

// A command or path the client got wrong. enhanced() is the RFC 3463 code
// to send with a 501 ("5.5.2" syntax, "5.5.4" bad parameter); reply_code()
// is 501 unless another code fits better (555 unknown parameter).
class SmtpSyntaxError : public std::runtime_error {
 public:
  SmtpSyntaxError(int reply_code, std::string enhanced, const std::string& what)
      : std::runtime_error(what), reply_code_(reply_code), enhanced_(std::move(enhanced)) {}
  int reply_code() const noexcept { return reply_code_; }
  const std::string& enhanced() const noexcept { return enhanced_; }

 private:
  int reply_code_;
  std::string enhanced_;
};

struct Mailbox {
  std::string local_part;  // unquoted: `"a b"@x` gives `a b`
  std::string domain;      // as written; empty only for the bare <postmaster>
  bool quoted = false;     // the local part was a quoted-string

  // The path as it goes on the wire and into Return-Path: "a@b.example".
  std::string address() const;
};

struct EsmtpParameter {
  std::string keyword;  // upper-cased
  std::string value;    // empty when the keyword had no "=value"
};

struct PathArgument {
  std::optional<Mailbox> mailbox;  // nullopt for the null path "<>"
  std::vector<EsmtpParameter> parameters;
};

// The text after "MAIL FROM:" (a reverse-path, "<>" allowed) and after
// "RCPT TO:" (a forward-path, "<postmaster>" without domain allowed).
// One space after the colon is tolerated. Throws SmtpSyntaxError.
PathArgument parse_reverse_path(std::string_view text);
PathArgument parse_forward_path(std::string_view text);

// A SIZE value or BDAT chunk size: decimal digits, at most 18; nullopt otherwise.
std::optional<std::size_t> parse_octet_count(std::string_view digits);

// "<a@b>" or "<>".
std::string format_path(const std::optional<Mailbox>& mailbox);

// Formats a reply; `text` may hold several lines separated by '\n', each
// becomes its own reply line with the code and, when given, the enhanced code.
std::string format_reply(int code, std::string_view enhanced, std::string_view text);

// Where a recipient address points.
enum class RecipientKind {
  Number,         // an E.164 mailbox at one of our domains; `number` is set
  Postmaster,     // postmaster@<ours> or the bare <postmaster>
  NonMailUser,    // non-mail-user@<ours>: must be refused with 5.1.1 (RFC 3801 §4.1.2)
  NotANumber,     // our domain, but the local part is no mailbox form we know
  Foreign         // someone else's domain
};

struct RecipientRoute {
  RecipientKind kind = RecipientKind::Foreign;
  std::string number;  // canonical "+15550100" for Number
};

// The E.164 number a local part names: "+15550100", "+1-555-0100",
// "FAX=+15550100" (RFC 3192, "/T33S=" sub-address ignored),
// "VPIM=+15550100" (RFC 3804, "/EXT=" ignored), "+15550100+17" (RFC 3801
// extension ignored), optionally inside the X.400 "/.../" wrapping.
// nullopt when it is none of these.
std::optional<std::string> mailbox_number(std::string_view local_part);

RecipientRoute route_recipient(const Mailbox& mailbox, std::span<const std::string> local_domains);

}  // namespace umstore::smtp
