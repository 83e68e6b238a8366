#pragma once
// What inbound sender authentication (SenderChecks in smtp_server.hpp)
// means for one message: refuse, defer, quarantine or take it, and the
// message as it goes on, with our Authentication-Results on top.
#include <optional>
#include <string>
#include <string_view>

#include "mailauth/sender_authentication.hpp"
#include "smtp/smtp_client.hpp"

namespace umstore::smtp {

struct SenderVerdict {
  std::optional<SmtpReply> refusal;  // 550 5.7.1 (DMARC p=reject), 451 4.7.0 (DNS failure)
  bool quarantine = false;           // DMARC fail with p=quarantine: into the \Junk folder
  std::string message;               // with our Authentication-Results; forged ones of ours removed
  std::string summary;               // "spf=pass dkim=none dmarc=fail p=reject from=example.org", for the log
};

// A client we check, from the results of mailauth::authenticate_sender.
SenderVerdict judge_sender(const mailauth::SenderAuthentication& checked, std::string_view authserv_id,
                           std::string_view message);

// A client we do not check: a gateway in trusted_networks (`smtp_auth`
// empty) or an authenticated user.
SenderVerdict exempt_sender(std::string_view authserv_id, std::string_view smtp_auth, std::string_view message);

}  // namespace umstore::smtp
