#include "mailauth/dkim.hpp"

// dkim.h is C99 (_Bool, which C++ spells bool; same size and ABI).
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "common/ascii.hpp"
#include "common/line_ends.hpp"
#include "mailauth/sender_authentication.hpp"

namespace umstore::mailauth {

std::string_view to_string(DkimAlgorithm algorithm) {
  return algorithm == DkimAlgorithm::ed25519_sha256 ? "ed25519-sha256" : "rsa-sha256";
}

namespace {

using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

Pkey read_private_key(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return Pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// The DKIM public key (p=): SubjectPublicKeyInfo for RSA as every verifier
// reads it; the raw 32 octets for Ed25519 (RFC 8463 §4.2).
std::string public_key_base64(EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
    unsigned char raw[32];
    std::size_t size = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(pkey, raw, &size) != 1) throw std::runtime_error("cannot read the Ed25519 public key");
    return base64(raw, size);
  }
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(pkey, &der);
  if (size <= 0) throw std::runtime_error("cannot encode the RSA public key");
  std::string out = base64(der, static_cast<std::size_t>(size));
  OPENSSL_free(der);
  return out;
}

// What a verification's key lookups need and found.
struct KeyLookups {
  dns::Resolver& resolver;
  std::vector<std::string> failed;  // names whose lookup failed temporarily
};

std::string key_name(DKIM_SIGINFO* sig) {
  return std::string(reinterpret_cast<const char*>(dkim_sig_getselector(sig))) + "._domainkey." +
         reinterpret_cast<const char*>(dkim_sig_getdomain(sig));
}

DKIM_CBSTAT lookup_key(DKIM* dkim, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) {
  auto& lookups = *static_cast<KeyLookups*>(dkim_get_user_context(dkim));
  const std::string name = key_name(sig);
  const dns::DnsAnswer<std::string> answer = lookups.resolver.txt(name);
  if (answer.status == dns::DnsStatus::temporary_failure) {
    // Answering TRYAGAIN makes libopendkim abandon the whole message and
    // list no signatures; "not found" keeps them, and this list tells
    // verdict_of() which of them are temperror rather than permerror.
    lookups.failed.push_back(name);
    return DKIM_CBSTAT_NOTFOUND;
  }
  if (!answer.found() || answer.records.empty()) return DKIM_CBSTAT_NOTFOUND;
  // RFC 6376 §3.6.2.2: several records for the name give undefined results;
  // the first is used, as libopendkim's own resolver does.
  const std::string& record = answer.records.front();
  if (record.size() >= buflen) return DKIM_CBSTAT_ERROR;
  record.copy(reinterpret_cast<char*>(buf), record.size());
  buf[record.size()] = '\0';
  return DKIM_CBSTAT_CONTINUE;
}

// One library handle for the process: libopendkim allows sharing it between
// threads, and its one option (our key lookup) never changes.
DKIM_LIB* library() {
  static DKIM_LIB* const lib = [] {
    DKIM_LIB* created = dkim_init(nullptr, nullptr);
    if (!created) throw std::runtime_error("cannot initialise libopendkim");
    dkim_set_key_lookup(created, lookup_key);
    return created;
  }();
  return lib;
}

using DkimHandle = std::unique_ptr<DKIM, decltype(&dkim_free)>;

// Hands the whole message to libopendkim, which canonicalises CRLF lines
// only: bare LF line ends are made CRLF first (its own FIXCRLF option gave
// wrong body hashes for CRLF messages here).
DKIM_STAT feed(DKIM* dkim, std::string_view message) {
  std::string converted;
  if (has_bare_lf(message)) message = converted = with_crlf(message);
  auto* data = reinterpret_cast<unsigned char*>(const_cast<char*>(message.data()));
  const DKIM_STAT status = dkim_chunk(dkim, data, message.size());
  return status == DKIM_STAT_OK ? dkim_chunk(dkim, nullptr, 0) : status;
}

std::string error_text(DKIM* dkim, DKIM_STAT status) {
  const char* error = dkim_geterror(dkim);
  return error ? error : dkim_getresultstr(status);
}

AuthResult verdict_of(DKIM_SIGINFO* sig, const KeyLookups& lookups, std::string& reason) {
  const unsigned int flags = dkim_sig_getflags(sig);
  const int error = dkim_sig_geterror(sig);
  if ((flags & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH) return AuthResult::pass;
  if (error == DKIM_SIGERROR_OK && dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
    reason = "body hash mismatch (the body changed after signing)";
    return AuthResult::fail;
  }
  const auto& failed = lookups.failed;
  if (error == DKIM_SIGERROR_NOKEY && std::find(failed.begin(), failed.end(), key_name(sig)) != failed.end()) {
    reason = "key lookup failed (DNS)";
    return AuthResult::temperror;
  }
  reason = error == DKIM_SIGERROR_OK ? "signature did not verify" : dkim_sig_geterrorstr(error);
  switch (error) {
    case DKIM_SIGERROR_OK:
    case DKIM_SIGERROR_BADSIG: return AuthResult::fail;
    case DKIM_SIGERROR_KEYFAIL: return AuthResult::temperror;
    default: return AuthResult::permerror;
  }
}

}  // namespace

DkimSigningKey load_dkim_key(std::string_view domain, std::string_view selector, const std::filesystem::path& pem) {
  std::ifstream in(pem, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read DKIM key " + pem.string());
  const Pkey pkey = read_private_key(text.str());
  if (!pkey) throw std::runtime_error("DKIM key " + pem.string() + " is not a PEM private key");
  DkimSigningKey key{std::string(domain), std::string(selector), DkimAlgorithm::rsa_sha256, text.str()};
  switch (EVP_PKEY_get_base_id(pkey.get())) {
    case EVP_PKEY_ED25519: key.algorithm = DkimAlgorithm::ed25519_sha256; break;
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(pkey.get()) < 1024) {
        throw std::runtime_error("DKIM key " + pem.string() + " is RSA shorter than 1024 bits (RFC 8301 forbids it)");
      }
      break;
    default: throw std::runtime_error("DKIM key " + pem.string() + " is neither RSA nor Ed25519");
  }
  return key;
}

std::string DkimKeyPair::zone_line() const {
  std::string line = dns_name + ". IN TXT (";
  for (std::size_t pos = 0; pos < dns_txt.size(); pos += 255) line += " \"" + dns_txt.substr(pos, 255) + "\"";
  return line + " )";
}

DkimKeyPair make_dkim_key(DkimAlgorithm algorithm, std::string_view domain, std::string_view selector) {
  const bool ed25519 = algorithm == DkimAlgorithm::ed25519_sha256;
  const Pkey pkey(ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                          : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}),
                  EVP_PKEY_free);
  if (!pkey) throw std::runtime_error("cannot make a DKIM key");
  const Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot write the DKIM key as PEM");
  }
  char* pem = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &pem);
  DkimKeyPair pair;
  pair.key = {std::string(domain), std::string(selector), algorithm, std::string(pem, static_cast<std::size_t>(size))};
  pair.dns_name = std::string(selector) + "._domainkey." + std::string(domain);
  pair.dns_txt = std::string("v=DKIM1; k=") + (ed25519 ? "ed25519" : "rsa") + "; p=" + public_key_base64(pkey.get());
  return pair;
}

std::string dkim_signature_field(const DkimSigningKey& key, std::string_view message) {
  DKIM_STAT status = DKIM_STAT_OK;
  auto* pem = reinterpret_cast<unsigned char*>(const_cast<char*>(key.private_key_pem.c_str()));
  DkimHandle dkim(dkim_sign(library(), reinterpret_cast<const unsigned char*>("umstore"), nullptr, pem,
                            reinterpret_cast<const unsigned char*>(key.selector.c_str()),
                            reinterpret_cast<const unsigned char*>(key.domain.c_str()), DKIM_CANON_RELAXED,
                            DKIM_CANON_RELAXED,
                            key.algorithm == DkimAlgorithm::ed25519_sha256 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256,
                            -1, &status),
                  dkim_free);
  if (!dkim) throw std::runtime_error("DKIM signing for " + key.domain + ": " + dkim_getresultstr(status));
  status = feed(dkim.get(), message);
  if (status == DKIM_STAT_OK) status = dkim_eom(dkim.get(), nullptr);
  if (status != DKIM_STAT_OK) {
    throw std::runtime_error("DKIM signing for " + key.domain + ": " + error_text(dkim.get(), status));
  }
  unsigned char* value = nullptr;
  std::size_t length = 0;
  constexpr std::string_view name = "DKIM-Signature: ";
  if (dkim_getsighdr_d(dkim.get(), name.size(), &value, &length) != DKIM_STAT_OK) {
    throw std::runtime_error("DKIM signing for " + key.domain + ": cannot format the signature");
  }
  // libopendkim folds the value with CRLF already.
  return std::string(name) + std::string(reinterpret_cast<const char*>(value), length) + "\r\n";
}

std::string dkim_signature_for_author(std::span<const DkimSigningKey> keys, std::string_view message) {
  const std::string author = from_domain(message);
  const DkimSigningKey* best = nullptr;
  for (const DkimSigningKey& key : keys) {
    const std::string domain = ascii_lower(key.domain);
    const bool covers = author == domain || (author.size() > domain.size() && author.ends_with("." + domain));
    if (covers && (!best || key.domain.size() > best->domain.size())) best = &key;
  }
  return best ? dkim_signature_field(*best, message) : std::string();
}

std::vector<DkimVerdict> dkim_verify(dns::Resolver& resolver, std::string_view message) {
  DKIM_STAT status = DKIM_STAT_OK;
  DkimHandle dkim(dkim_verify(library(), reinterpret_cast<const unsigned char*>("umstore"), nullptr, &status), dkim_free);
  if (!dkim) throw std::runtime_error(std::string("DKIM verification: ") + dkim_getresultstr(status));
  KeyLookups lookups{resolver, {}};
  dkim_set_user_context(dkim.get(), &lookups);
  status = feed(dkim.get(), message);
  if (status == DKIM_STAT_OK) status = dkim_eom(dkim.get(), nullptr);
  DKIM_SIGINFO** sigs = nullptr;
  int count = 0;
  std::vector<DkimVerdict> verdicts;
  if (status == DKIM_STAT_NOSIG || dkim_getsiglist(dkim.get(), &sigs, &count) != DKIM_STAT_OK) return verdicts;
  for (int i = 0; i < count; ++i) {
    DKIM_SIGINFO* sig = sigs[i];
    if (dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE) continue;
    DkimVerdict verdict;
    verdict.result = verdict_of(sig, lookups, verdict.reason);
    if (const unsigned char* d = dkim_sig_getdomain(sig)) verdict.domain = reinterpret_cast<const char*>(d);
    if (const unsigned char* s = dkim_sig_getselector(sig)) verdict.selector = reinterpret_cast<const char*>(s);
    if (const unsigned char* a = dkim_sig_getalgorithm(sig)) verdict.algorithm = reinterpret_cast<const char*>(a);
    verdicts.push_back(std::move(verdict));
  }
  return verdicts;
}

}  // namespace umstore::mailauth
