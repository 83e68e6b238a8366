// The ACME issuance (RFC 8555 §7): account, order, http-01 authorizations,
// finalization with a CSR, the certificate chain.
#include "acme/acme_client.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "ec_key.hpp"
#include "http/client.hpp"

namespace umstore::acme {
namespace {

using nlohmann::json;
constexpr std::string_view kLog = "acme";
constexpr std::size_t kMaxAnswerBytes = 1 << 20;

// One conversation with the CA: the nonce chain and the account's key id.
class AcmeSession {
 public:
  AcmeSession(const AcmeConfig& config, detail::KeyPtr account_key)
      : config_(config), key_(std::move(account_key)), transport_{std::chrono::seconds(30), config.ca_file} {
    const auto directory = send({"GET", config.directory_url, {}, {}, {}});
    directory_ = parse(directory, "the directory");
    for (const char* name : {"newNonce", "newAccount", "newOrder"})
      if (!directory_.contains(name)) throw std::runtime_error("the ACME directory has no " + std::string(name));
    nonce_ = send({"HEAD", directory_["newNonce"].get<std::string>(), {}, {}, {}}).header("Replay-Nonce");
  }

  EVP_PKEY* key() const { return key_.get(); }

  void register_account() {
    json request{{"termsOfServiceAgreed", true}};
    if (!config_.contact_email.empty()) request["contact"] = json::array({"mailto:" + config_.contact_email});
    const auto answer = post(directory_["newAccount"].get<std::string>(), request.dump(), true);
    kid_ = answer.header("Location");
    if (kid_.empty()) throw std::runtime_error("the ACME server gave the account no URL");
  }

  // Returns the answer's JSON and its Location.
  std::pair<json, std::string> new_order() {
    json identifiers = json::array();
    for (const auto& d : config_.domains) identifiers.push_back({{"type", "dns"}, {"value", d}});
    const auto answer = post(directory_["newOrder"].get<std::string>(), json{{"identifiers", identifiers}}.dump());
    return {parse(answer, "the new order"), answer.header("Location")};
  }

  json post_json(const std::string& url, const std::string& payload, std::string_view what) {
    return parse(post(url, payload), what);
  }
  // POST-as-GET (§6.3).
  http::ClientResponse fetch(const std::string& url) { return post(url, ""); }

 private:
  http::ClientResponse send(http::ClientRequest request) {
    auto answer = http::send_request(request, transport_, kMaxAnswerBytes);
    if (answer.truncated) throw std::runtime_error(request.url + " answered more than 1 MiB");
    return answer;
  }

  static json parse(const http::ClientResponse& answer, std::string_view what) {
    try {
      return json::parse(answer.body);
    } catch (const json::exception&) {
      throw std::runtime_error(std::string(what) + " is not JSON (HTTP " + std::to_string(answer.status) + ")");
    }
  }

  // A JWS POST; a badNonce refusal is tried once more with the fresh nonce (§6.5).
  http::ClientResponse post(const std::string& url, const std::string& payload, bool with_jwk = false) {
    for (int attempt = 0;; ++attempt) {
      json header{{"alg", "ES256"}, {"nonce", nonce_}, {"url", url}};
      if (with_jwk)
        header["jwk"] = json::parse(detail::jwk_json(key_.get()));
      else
        header["kid"] = kid_;
      auto answer = send({"POST", url, "application/jose+json", detail::jws(key_.get(), header.dump(), payload), {}});
      if (const auto next = answer.header("Replay-Nonce"); !next.empty()) nonce_ = next;
      if (answer.status / 100 == 2) return answer;
      std::string problem = answer.body.substr(0, 300);
      try {
        const auto detail = json::parse(answer.body);
        if (detail.value("type", "") == "urn:ietf:params:acme:error:badNonce" && attempt == 0) continue;
        problem = detail.value("type", "") + ": " + detail.value("detail", "");
      } catch (const json::exception&) {
      }
      throw std::runtime_error(url + " answered HTTP " + std::to_string(answer.status) + " (" + problem + ")");
    }
  }

  const AcmeConfig& config_;
  detail::KeyPtr key_;
  http::PostOptions transport_;
  json directory_;
  std::string nonce_;
  std::string kid_;
};

using Clock = std::chrono::steady_clock;

// Fetches `url` until its status is "valid"; throws on "invalid" or at the deadline.
json await_status(AcmeSession& session, const std::string& url, std::string_view what, Clock::time_point deadline) {
  for (;;) {
    const auto answer = session.fetch(url);
    const json state = json::parse(answer.body, nullptr, false);
    const std::string status = state.is_object() ? state.value("status", "") : "";
    if (status == "valid") return state;
    if (status == "invalid") {
      std::string why = state.dump().substr(0, 400);
      throw std::runtime_error(std::string(what) + " is invalid: " + why);
    }
    if (Clock::now() > deadline) throw std::runtime_error(std::string(what) + " still " + status + " at the deadline");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Proves control of one name through http-01 (§8.3).
void authorize(AcmeSession& session, const std::string& url, ChallengeAnswers& answers, Clock::time_point deadline) {
  const json authz = json::parse(session.fetch(url).body);
  if (authz.value("status", "") == "valid") return;
  const std::string name = authz.contains("identifier") ? authz["identifier"].value("value", "") : "";
  for (const auto& challenge : authz.value("challenges", json::array())) {
    if (challenge.value("type", "") != "http-01") continue;
    const std::string token = challenge.value("token", "");
    answers.put(token, token + "." + detail::jwk_thumbprint(session.key()));
    try {
      session.post_json(challenge.value("url", ""), "{}", "the challenge");
      await_status(session, url, "the authorization of " + name, deadline);
    } catch (...) {
      answers.remove(token);
      throw;
    }
    answers.remove(token);
    return;
  }
  throw std::runtime_error("the ACME server offers no http-01 challenge for " + name);
}

}  // namespace

void ChallengeAnswers::put(const std::string& token, const std::string& key_authorization) {
  std::lock_guard lock(mutex_);
  answers_[token] = key_authorization;
}

void ChallengeAnswers::remove(const std::string& token) {
  std::lock_guard lock(mutex_);
  answers_.erase(token);
}

std::optional<std::string> ChallengeAnswers::find(std::string_view token) const {
  std::lock_guard lock(mutex_);
  const auto it = answers_.find(token);
  if (it == answers_.end()) return std::nullopt;
  return it->second;
}

CertificateFiles certificate_files(const std::filesystem::path& dir) { return {dir / "cert.pem", dir / "key.pem"}; }

std::optional<std::chrono::system_clock::time_point> certificate_expiry(const std::filesystem::path& cert) {
  std::error_code ec;
  if (!std::filesystem::exists(cert, ec)) return std::nullopt;
  std::unique_ptr<FILE, decltype(&fclose)> file(fopen(cert.c_str(), "r"), fclose);
  if (!file) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> x509(PEM_read_X509(file.get(), nullptr, nullptr, nullptr), X509_free);
  if (!x509) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(x509.get()), &tm) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

CertificateFiles obtain_certificate(const AcmeConfig& config, ChallengeAnswers& answers) {
  if (config.domains.empty()) throw std::runtime_error("no names to get a certificate for");
  const auto deadline = Clock::now() + config.timeout;
  AcmeSession session(config, detail::load_or_create_key(config.dir / "account.key"));
  session.register_account();
  auto [order, order_url] = session.new_order();
  if (order_url.empty()) throw std::runtime_error("the ACME server gave the order no URL");
  for (const auto& url : order.value("authorizations", json::array())) authorize(session, url.get<std::string>(), answers, deadline);

  const detail::KeyPtr key = detail::new_p256_key();
  const std::string csr = detail::base64url(detail::certificate_request(key.get(), config.domains));
  session.post_json(order.value("finalize", ""), json{{"csr", csr}}.dump(), "the finalization");
  order = await_status(session, order_url, "the order", deadline);
  const auto chain = session.fetch(order.value("certificate", ""));
  if (chain.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    throw std::runtime_error("the ACME server sent no certificate");

  const CertificateFiles files = certificate_files(config.dir);
  create_directories_durably(config.dir);
  // The key first: a certificate on disk always has its key beside it.
  replace_file_durably(files.key, detail::private_key_pem(key.get()), 0600);
  replace_file_durably(files.cert, chain.body, 0644);
  log(LogLevel::Info, kLog, "certificate for {} issued by {}", config.domains.front(), config.directory_url);
  return files;
}

}  // namespace umstore::acme
