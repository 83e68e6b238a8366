// The HTTP API's budgets over real TCP: connections per address, what an
// unauthenticated client may make the server read, the head's size and
// time, and chunked bodies under the same limits as counted ones.
#include <boost/test/unit_test.hpp>

#include <asio.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ingest/http_api.hpp"
#include "../net/loopback_socket.hpp"

using namespace umstore;
using namespace umstore::ingest;

namespace {

constexpr const char* kToken = "a-gateway-token-of-some-length";

// An HttpApi (health and tokens only: /v1 answers 503) on 127.0.0.1.
class ApiUnderTest {
 public:
  explicit ApiUnderTest(HttpApiConfig config) {
    config.gateway_tokens[kToken] = "gw1";
    api_ = std::make_unique<HttpApi>(io_, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(config));
    api_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ApiUnderTest() {
    asio::post(io_, [this] { api_->stop(); });
    io_.stop();
    thread_.join();
  }
  unsigned short port() const { return api_->local_endpoint().port(); }

 private:
  asio::io_context io_;
  std::unique_ptr<HttpApi> api_;
  std::thread thread_;
};

// Blocking client; reads give up after a few seconds so a server that never
// answers fails the test instead of hanging it.
class Client {
 public:
  explicit Client(unsigned short port, const char* from = "127.0.0.1")
      : fd_(umstore::test::connect_loopback(port, from)) {}
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // False once the server stopped taking bytes (closed).
  bool send(std::string_view data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Everything until the server closes (or a read times out).
  std::string until_closed() {
    std::string out;
    char chunk[4096];
    for (;;) {
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return out;
      out.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // One response's head and body (Content-Length), the connection kept.
  std::string response() {
    std::string out;
    char chunk[4096];
    for (;;) {
      const auto head_end = out.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const auto length_at = out.find("Content-Length: ");
        const std::size_t length = length_at == std::string::npos ? 0 : std::stoul(out.substr(length_at + 16));
        if (out.size() >= head_end + 4 + length) return out;
      }
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return out;
      out.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
const std::string kChunkedUpload = std::string("POST /v1/voicemail HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ") +
                                   kToken + "\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n";

// An authenticated upload of 2 MiB in 64 KiB chunks, sent until the server
// stops taking it; what it answered.
std::string answer_to_a_long_chunked_upload(unsigned short port) {
  Client client(port);
  BOOST_REQUIRE(client.send(kChunkedUpload));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";
  for (int i = 0; i < 32 && client.send(chunk); ++i) {
  }
  return client.until_closed();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_limits)

BOOST_AUTO_TEST_CASE(connections_over_the_cap_per_address_get_503_with_retry_after) {
  HttpApiConfig config;
  config.max_connections_per_address = 3;
  ApiUnderTest api(config);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(api.port()));
    BOOST_REQUIRE(held.back()->send(kHealth));
    BOOST_TEST(held.back()->response().starts_with("HTTP/1.1 200 "));
  }
  Client refused(api.port());
  const std::string answer = refused.until_closed();
  BOOST_TEST_INFO(answer);
  BOOST_TEST(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  BOOST_TEST(contains(answer, "\r\nRetry-After: 10\r\n"));
  BOOST_TEST(contains(answer, "\r\n\r\n{\"error\":\"the server is busy; retry later\"}"));

  Client other(api.port(), "127.0.0.2");
  BOOST_REQUIRE(other.send(kHealth));
  BOOST_TEST(other.response().starts_with("HTTP/1.1 200 "));
}

BOOST_AUTO_TEST_CASE(an_unauthenticated_upload_is_refused_before_its_body_is_read) {
  ApiUnderTest api({});
  Client client(api.port());
  // 60 MB announced, none of it sent: the answer must not wait for it.
  BOOST_REQUIRE(client.send("POST /v1/voicemail HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer wrong-token-of-some-length\r\n"
                            "Content-Type: audio/wav\r\nContent-Length: 60000000\r\n\r\n"));
  const std::string answer = client.until_closed();
  BOOST_TEST_INFO(answer);
  BOOST_TEST(answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
  BOOST_TEST(contains(answer, "\r\nConnection: close\r\n"));
  BOOST_TEST(contains(answer, "missing or unknown bearer token"));
  // The server has stopped reading: the body cannot all go through.
  const std::string mebibyte(1u << 20, 'x');
  bool taken = true;
  for (int i = 0; i < 60 && taken; ++i) taken = client.send(mebibyte);
  BOOST_TEST(!taken);
}

BOOST_AUTO_TEST_CASE(an_authenticated_request_over_the_body_limit_is_refused_unread) {
  HttpApiConfig config;
  config.max_body_bytes = 1u << 20;
  ApiUnderTest api(config);
  Client client(api.port());
  BOOST_REQUIRE(client.send(std::string("POST /v1/voicemail HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ") + kToken +
                            "\r\nContent-Type: audio/wav\r\nContent-Length: 60000000\r\n\r\n"));
  const std::string answer = client.until_closed();
  BOOST_TEST_INFO(answer);
  BOOST_TEST(answer.starts_with("HTTP/1.1 413 "));
}

BOOST_AUTO_TEST_CASE(bodies_over_the_shared_memory_budget_get_503_before_they_are_read) {
  HttpApiConfig config;
  config.body_budget = std::make_shared<net::MemoryBudget>(1u << 20);
  ApiUnderTest api(config);
  const std::string head = std::string("POST /v1/voicemail HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ") + kToken +
                           "\r\nContent-Type: audio/wav\r\nContent-Length: 800000\r\n\r\n";
  Client first(api.port());
  BOOST_REQUIRE(first.send(head + std::string(1000, 'a')));  // most of the budget, body still coming
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server take its share
  Client second(api.port());
  BOOST_REQUIRE(second.send(head));
  const std::string answer = second.until_closed();
  BOOST_TEST_INFO(answer);
  BOOST_TEST(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  BOOST_TEST(contains(answer, "\r\nRetry-After: 10\r\n"));
  BOOST_TEST(contains(answer, "the server is busy"));
  // The first request goes on (to this API's answer without a queue).
  BOOST_REQUIRE(first.send(std::string(800000 - 1000, 'a')));
  const std::string first_answer = first.response();
  BOOST_TEST_INFO(first_answer);
  BOOST_TEST(contains(first_answer, "the ingest queue is not running"));
}

BOOST_AUTO_TEST_CASE(an_address_guessing_tokens_gets_429_and_other_addresses_still_get_in) {
  auth::ThrottleLimits limits;
  limits.failure_delay = std::chrono::milliseconds(5);
  limits.max_failures_per_address = 2;
  HttpApiConfig config;
  config.login_throttle = std::make_shared<auth::LoginThrottle>(limits);
  ApiUnderTest api(config);
  const auto status_with = [&](const char* from, const std::string& token) {
    Client client(api.port(), from);
    BOOST_REQUIRE(client.send("GET /v1/messages/x HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + token + "\r\n\r\n"));
    return client.response();
  };
  BOOST_TEST(status_with("127.0.0.1", "guess-number-one-xxxxxx").starts_with("HTTP/1.1 401 "));
  BOOST_TEST(status_with("127.0.0.1", "guess-number-two-xxxxxx").starts_with("HTTP/1.1 401 "));
  const std::string refused = status_with("127.0.0.1", kToken);
  BOOST_TEST_INFO(refused);
  BOOST_TEST(refused.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
  BOOST_TEST(contains(refused, "\r\nRetry-After: 10\r\n"));
  // The right token from elsewhere passes the check (this API has no queue: 503).
  const std::string other = status_with("127.0.0.2", kToken);
  BOOST_TEST_INFO(other);
  BOOST_TEST(contains(other, "the ingest queue is not running"));
}

// Slowloris: the header fields as a whole have a budget, not each line.
BOOST_AUTO_TEST_CASE(header_fields_trickled_in_are_cut_off_at_the_header_budget) {
  HttpApiConfig config;
  config.header_timeout = std::chrono::seconds(1);
  ApiUnderTest api(config);
  Client client(api.port());
  bool open = client.send("GET /healthz HTTP/1.1\r\n");
  // Each field line complete, 40 of them over 10 s.
  for (int i = 0; i < 40 && open; ++i) {
    open = client.send("X-Slow: " + std::to_string(i) + "\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  BOOST_TEST(!open);
}

// The head as a whole has the budget, from its first octet: a request line
// trickled in never reaches its header fields.
BOOST_AUTO_TEST_CASE(a_request_line_trickled_in_is_cut_off_at_the_header_budget) {
  HttpApiConfig config;
  config.header_timeout = std::chrono::seconds(1);
  ApiUnderTest api(config);
  Client client(api.port());
  const std::string line = "GET /healthz?padding=" + std::string(40, 'x') + " HTTP/1.1\r\n";
  bool open = true;
  for (std::size_t i = 0; i < line.size() && open; ++i) {
    open = client.send(line.substr(i, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(!open);
}

BOOST_AUTO_TEST_CASE(a_head_over_the_header_limit_gets_431) {
  HttpApiConfig config;
  config.max_header_bytes = 4096;
  ApiUnderTest api(config);
  Client client(api.port());
  BOOST_REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(8000, 'b') + "\r\n\r\n"));
  const std::string answer = client.until_closed();
  BOOST_TEST_INFO(answer);
  BOOST_TEST(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  BOOST_TEST(contains(answer, "request headers too large"));
}

// Chunked (RFC 9112 §7.1): the chunks make one body, the final chunk ends
// it, and the connection goes on with the next request.
BOOST_AUTO_TEST_CASE(a_chunked_upload_is_read_to_its_end_and_the_connection_kept) {
  ApiUnderTest api({});
  Client client(api.port());
  BOOST_REQUIRE(client.send(kChunkedUpload));
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(client.send("1000\r\n" + std::string(0x1000, 'a') + "\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The next request right behind the final chunk.
  BOOST_REQUIRE(client.send("0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
  const std::string answers = client.until_closed();
  BOOST_TEST_INFO(answers);
  BOOST_TEST(answers.starts_with("HTTP/1.1 503 "));
  BOOST_TEST(contains(answers, "the ingest queue is not running"));  // the handler had the whole request
  BOOST_TEST(contains(answers, "\r\n\r\n{\"error\":\"the ingest queue is not running\"}HTTP/1.1 200 OK\r\n"));
}

BOOST_AUTO_TEST_CASE(a_chunked_body_over_the_body_limit_is_refused_with_413) {
  HttpApiConfig config;
  config.max_body_bytes = 1u << 20;
  ApiUnderTest api(config);
  const std::string answer = answer_to_a_long_chunked_upload(api.port());
  BOOST_TEST_INFO(answer);
  BOOST_TEST(answer.starts_with("HTTP/1.1 413 "));
  BOOST_TEST(contains(answer, "exceeds the limit of 1048576 bytes"));
}

BOOST_AUTO_TEST_CASE(a_chunked_body_over_the_shared_memory_budget_gets_503) {
  HttpApiConfig config;
  config.body_budget = std::make_shared<net::MemoryBudget>(1u << 20);
  ApiUnderTest api(config);
  const std::string answer = answer_to_a_long_chunked_upload(api.port());
  BOOST_TEST_INFO(answer);
  BOOST_TEST(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  BOOST_TEST(contains(answer, "\r\nRetry-After: 10\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()
