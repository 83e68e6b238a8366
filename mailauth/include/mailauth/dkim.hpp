#pragma once
// DKIM (RFC 6376) signing and verification with libopendkim, relaxed/relaxed
// canonicalisation, rsa-sha256 and ed25519-sha256 (RFC 8463). Keys are PEM
// private keys (PKCS#8 or traditional), one per domain and selector.
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/resolver.hpp"
#include "mailauth/result.hpp"

namespace umstore::mailauth {

enum class DkimAlgorithm { rsa_sha256, ed25519_sha256 };

std::string_view to_string(DkimAlgorithm algorithm);  // "rsa-sha256", "ed25519-sha256"

struct DkimSigningKey {
  std::string domain;    // d=
  std::string selector;  // s=
  DkimAlgorithm algorithm = DkimAlgorithm::rsa_sha256;
  std::string private_key_pem;
};

// Reads a PEM private key; the algorithm follows from the key's type (RSA or
// Ed25519). Throws with the path and the reason when it cannot be used.
DkimSigningKey load_dkim_key(std::string_view domain, std::string_view selector, const std::filesystem::path& pem);

struct DkimKeyPair {
  DkimSigningKey key;
  std::string dns_name;  // SELECTOR._domainkey.DOMAIN
  std::string dns_txt;   // "v=DKIM1; k=rsa; p=..." (the TXT record's text)

  // The record as a zone-file line, the text split into strings of at most
  // 255 octets as TXT requires (an RSA-2048 key is longer).
  std::string zone_line() const;
};

// A new key (RSA 2048 bits or Ed25519) and the TXT record to publish.
DkimKeyPair make_dkim_key(DkimAlgorithm algorithm, std::string_view domain, std::string_view selector);

// The DKIM-Signature header field for `message` (header and body, CRLF or
// LF line ends), ending in CRLF, to be put above the message's first line.
std::string dkim_signature_field(const DkimSigningKey& key, std::string_view message);

// The DKIM-Signature field for `message` by the key of its From: domain, or
// of a parent domain (which relaxed DMARC alignment accepts; the most
// specific wins); empty when no key is for that domain. Throws as
// dkim_signature_field does.
std::string dkim_signature_for_author(std::span<const DkimSigningKey> keys, std::string_view message);

struct DkimVerdict {
  AuthResult result = AuthResult::none;  // pass, fail, permerror, temperror
  std::string domain;                    // d=
  std::string selector;                  // s=
  std::string algorithm;                 // a=
  std::string reason;                    // why it did not pass
};

// One verdict per DKIM-Signature in `message` (none: no signature), keys
// looked up with `resolver`.
std::vector<DkimVerdict> dkim_verify(dns::Resolver& resolver, std::string_view message);

}  // namespace umstore::mailauth
