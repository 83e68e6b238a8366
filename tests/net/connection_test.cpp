#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "net/connection.hpp"
#include "net/listener.hpp"
#include "net/tls.hpp"

using namespace umstore::net;

namespace {

// Runs `server_side` on the first accepted connection of a real loopback
// listener, sends `input` from a blocking client, returns what came back.
std::string talk_to_server(const std::string& input, std::function<Task<void>(Connection&)> server_side,
                     std::size_t max_line = 64) {
  asio::io_context io;
  Listener listener(io, parse_endpoint("127.0.0.1:0"), "test",
                    [&](tcp::socket s) -> Task<void> {
                      Connection conn(std::move(s), max_line);
                      co_await server_side(conn);
                    },
                    10);
  listener.start();
  std::string received;
  std::thread client([&] {
    asio::io_context cio;
    tcp::socket sock(cio);
    sock.connect(listener.local_endpoint());
    asio::write(sock, asio::buffer(input));
    sock.shutdown(tcp::socket::shutdown_send);
    std::error_code ec;
    char buf[1024];
    for (;;) {
      auto n = sock.read_some(asio::buffer(buf), ec);
      if (ec) break;
      received.append(buf, n);
    }
    io.stop();
  });
  io.run();
  client.join();
  return received;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reads_crlf_and_lf_lines_and_reports_close) {
  auto out = talk_to_server("one\r\ntwo\nthree", [](Connection& c) -> Task<void> {
    for (;;) {
      auto r = co_await c.read_line();
      if (r.status != LineResult::Status::Ok) {
        co_await c.write(r.status == LineResult::Status::Closed ? "closed\n" : "toolong\n");
        co_return;
      }
      co_await c.write("[" + std::string(r.line) + "]");
    }
  });
  // "three" has no line end before the peer closes: it is not a line, and
  // the connection is closed for good (nothing more can be written).
  BOOST_TEST(out == "[one][two]");
}

BOOST_AUTO_TEST_CASE(overlong_line_is_skipped_and_the_next_one_read) {
  std::string input = std::string(500, 'x') + "\r\nshort\r\n";
  auto out = talk_to_server(input, [](Connection& c) -> Task<void> {
    auto first = co_await c.read_line();
    auto second = co_await c.read_line();
    co_await c.write(first.status == LineResult::Status::TooLong ? "toolong," : "ok,");
    co_await c.write(std::string(second.line));
  });
  BOOST_TEST(out == "toolong,short");
}

BOOST_AUTO_TEST_CASE(overlong_line_reports_its_head_for_the_reply) {
  // Long enough to arrive in several reads: the head survives the dropping.
  std::string input = "t1 " + std::string(10000, 'x') + "\r\nshort\r\n";
  auto out = talk_to_server(input, [](Connection& c) -> Task<void> {
    auto first = co_await c.read_line();
    co_await c.write(std::string(first.line) + ",");
    auto second = co_await c.read_line();
    co_await c.write(std::string(second.line));
  });
  BOOST_TEST(out == "t1 " + std::string(61, 'x') + ",short");
}

BOOST_AUTO_TEST_CASE(read_exact_takes_counted_octets_after_a_line) {
  auto out = talk_to_server("APPEND {5}\r\nab\r\ncREST\r\n", [](Connection& c) -> Task<void> {
    auto cmd = co_await c.read_line();
    std::string literal;
    bool ok = co_await c.read_exact(5, literal);
    auto rest = co_await c.read_line();
    co_await c.write(std::string(cmd.line) + "|" + literal + "|" + std::string(rest.line) + (ok ? "|ok" : "|short"));
  });
  BOOST_TEST(out == "APPEND {5}|ab\r\nc|REST|ok");
}

BOOST_AUTO_TEST_CASE(read_exact_reports_a_peer_that_closes_early) {
  auto out = talk_to_server("abc", [](Connection& c) -> Task<void> {
    std::string literal;
    bool ok = co_await c.read_exact(10, literal);
    co_await c.write(ok ? "ok" : "short");
  });
  BOOST_TEST(out.empty());  // the connection is closed by then, so nothing can be written
}

BOOST_AUTO_TEST_CASE(parse_endpoint_accepts_v4_v6_and_refuses_junk) {
  BOOST_TEST(parse_endpoint("127.0.0.1:1143").port() == 1143);
  BOOST_TEST(parse_endpoint("[::1]:25").address().is_v6());
  BOOST_CHECK_THROW(parse_endpoint("127.0.0.1"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_endpoint("127.0.0.1:99999"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_endpoint("example.net:25"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(self_signed_certificate_makes_a_usable_tls_context) {
  auto dir = std::filesystem::temp_directory_path() / ("umstore-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ensure_self_signed_certificate(dir / "cert.pem", dir / "key.pem", "vm.example.net");
  auto before = std::filesystem::last_write_time(dir / "cert.pem");
  ensure_self_signed_certificate(dir / "cert.pem", dir / "key.pem", "vm.example.net");
  BOOST_TEST((std::filesystem::last_write_time(dir / "cert.pem") == before));  // kept, not regenerated
  auto ctx = make_server_tls_context(dir / "cert.pem", dir / "key.pem");
  BOOST_TEST(ctx != nullptr);
  // openssl's own client must complete a handshake against it.
  asio::io_context io;
  Listener listener(io, parse_endpoint("127.0.0.1:0"), "tls",
                    [&](tcp::socket s) -> Task<void> {
                      Connection conn(std::move(s), 1024);
                      const bool secured = co_await conn.start_tls(*ctx);
                      if (secured) co_await conn.write("hello over tls\n");
                    },
                    10);
  listener.start();
  std::string cmd = "echo | timeout 10 openssl s_client -connect 127.0.0.1:" +
                    std::to_string(listener.local_endpoint().port()) + " -quiet 2>/dev/null";
  std::string got;
  std::thread client([&] {
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[256];
    while (p && std::fgets(buf, sizeof buf, p)) got += buf;
    if (p) ::pclose(p);
    io.stop();
  });
  io.run();
  client.join();
  BOOST_TEST(got == "hello over tls\n");
  std::filesystem::remove_all(dir);
}

namespace {

// A blocking loopback client for the budget tests.
struct RawClient {
  asio::io_context io;
  tcp::socket socket{io};
  explicit RawClient(const tcp::endpoint& server, const char* from = "127.0.0.1") {
    socket.open(tcp::v4());
    socket.bind(tcp::endpoint(asio::ip::make_address(from), 0));
    socket.connect(server);
  }
  // Everything until the server closes (or `limit` passes).
  std::string read_all(std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    std::string got;
    const auto end = std::chrono::steady_clock::now() + limit;
    socket.non_blocking(true);
    while (std::chrono::steady_clock::now() < end) {
      char buf[512];
      std::error_code ec;
      const auto n = socket.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (ec) break;
      got.append(buf, n);
    }
    return got;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_line_sent_a_byte_at_a_time_is_cut_off_by_the_line_budget) {
  asio::io_context io;
  std::atomic<bool> timed_out = false;
  Listener listener(io, parse_endpoint("127.0.0.1:0"), "test",
                    [&](tcp::socket s) -> Task<void> {
                      Connection conn(std::move(s), 1024);
                      conn.set_idle_timeout(std::chrono::seconds(5));
                      conn.set_line_timeout(std::chrono::milliseconds(400));
                      auto line = co_await conn.read_line();
                      timed_out = line.status == LineResult::Status::Closed && conn.timed_out();
                    },
                    10);
  listener.start();
  std::thread server([&] { io.run(); });
  RawClient client(listener.local_endpoint());
  const auto began = std::chrono::steady_clock::now();
  std::error_code ec;
  // Each byte comes well within the idle timeout, the line never ends.
  for (int i = 0; i < 40 && !ec; ++i) {
    asio::write(client.socket, asio::buffer("x", 1), ec);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto held = std::chrono::steady_clock::now() - began;
  io.stop();
  server.join();
  BOOST_TEST(timed_out.load());
  BOOST_TEST(held < std::chrono::seconds(5));
}

BOOST_AUTO_TEST_CASE(a_tls_handshake_that_never_comes_is_cut_off_by_the_line_budget) {
  auto dir = std::filesystem::temp_directory_path() / ("umstore-tls-stall-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ensure_self_signed_certificate(dir / "cert.pem", dir / "key.pem", "vm.example.net");
  const auto ctx = make_server_tls_context(dir / "cert.pem", dir / "key.pem");
  asio::io_context io;
  std::atomic<bool> timed_out = false;
  Listener listener(io, parse_endpoint("127.0.0.1:0"), "test",
                    [&](tcp::socket s) -> Task<void> {
                      Connection conn(std::move(s), 1024);
                      conn.set_line_timeout(std::chrono::milliseconds(400));
                      const bool secured = co_await conn.start_tls(*ctx);
                      timed_out = !secured && conn.timed_out();
                    },
                    10);
  listener.start();
  std::thread server([&] { io.run(); });
  RawClient client(listener.local_endpoint());
  // A ClientHello's first byte, then nothing: the server must give up.
  asio::write(client.socket, asio::buffer("\x16", 1));
  const auto began = std::chrono::steady_clock::now();
  client.read_all(std::chrono::seconds(10));  // returns when the server closes
  const auto held = std::chrono::steady_clock::now() - began;
  io.stop();
  server.join();
  std::filesystem::remove_all(dir);
  BOOST_TEST(timed_out.load());
  BOOST_TEST(held < std::chrono::seconds(5));
}

BOOST_AUTO_TEST_CASE(one_address_gets_its_limit_and_then_the_refusal_while_others_get_in) {
  asio::io_context io;
  Listener listener(io, parse_endpoint("127.0.0.1:0"), "test",
                    [](tcp::socket s) -> Task<void> {
                      Connection conn(std::move(s), 1024);
                      co_await conn.write("hello\r\n");
                      co_await conn.read_line();  // held until the client closes
                    },
                    10);
  listener.limit_per_address(2);
  listener.refuse_with("421 4.7.0 too many connections from your address\r\n");
  listener.start();
  std::thread server([&] { io.run(); });
  std::vector<std::unique_ptr<RawClient>> held;
  std::vector<std::string> greetings;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(listener.local_endpoint()));
    greetings.push_back(held.back()->read_all(std::chrono::milliseconds(500)));
  }
  BOOST_TEST(greetings[0] == "hello\r\n");
  BOOST_TEST(greetings[1] == "hello\r\n");
  BOOST_TEST(greetings[2] == "421 4.7.0 too many connections from your address\r\n");
  // Another loopback address is another client: it gets in.
  RawClient other(listener.local_endpoint(), "127.0.0.2");
  BOOST_TEST(other.read_all(std::chrono::milliseconds(500)) == "hello\r\n");
  // A place freed is a place taken again.
  held[0].reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawClient again(listener.local_endpoint());
  BOOST_TEST(again.read_all(std::chrono::milliseconds(500)) == "hello\r\n");
  io.stop();
  server.join();
}

BOOST_AUTO_TEST_CASE(two_listeners_that_share_limits_are_one_budget) {
  asio::io_context io;
  const auto greet_and_hold = [](tcp::socket s) -> Task<void> {
    Connection conn(std::move(s), 1024);
    co_await conn.write("hello\r\n");
    co_await conn.read_line();  // held until the client closes
  };
  Listener plain(io, parse_endpoint("127.0.0.1:0"), "plain", greet_and_hold, 10);
  Listener second(io, parse_endpoint("127.0.0.1:0"), "second", greet_and_hold, 10);
  plain.limit_per_address(1);
  second.limit_per_address(1);
  second.refuse_with("refused\r\n");
  second.share_limits_with(plain);
  plain.start();
  second.start();
  std::thread server([&] { io.run(); });
  auto first = std::make_unique<RawClient>(plain.local_endpoint());
  BOOST_TEST(first->read_all(std::chrono::milliseconds(500)) == "hello\r\n");
  // The address's one place is taken on the other port.
  RawClient refused(second.local_endpoint());
  BOOST_TEST(refused.read_all(std::chrono::milliseconds(500)) == "refused\r\n");
  first.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawClient admitted(second.local_endpoint());
  BOOST_TEST(admitted.read_all(std::chrono::milliseconds(500)) == "hello\r\n");
  io.stop();
  server.join();
}

namespace {

// What `openssl s_client` (with `options`) negotiates with a TLS listener:
// its "New, TLSv1.3, Cipher is ..." line ("New, (NONE), Cipher is (NONE)"
// when the handshake fails).
std::string s_client(const std::string& options, const std::filesystem::path& dir) {
  ensure_self_signed_certificate(dir / "cert.pem", dir / "key.pem", "vm.example.net");
  auto ctx = make_server_tls_context(dir / "cert.pem", dir / "key.pem");
  asio::io_context io;
  Listener listener(io, parse_endpoint("127.0.0.1:0"), "tls",
                    [&](tcp::socket s) -> Task<void> {
                      Connection conn(std::move(s), 1024);
                      if (co_await conn.start_tls(*ctx)) co_await conn.write("hello\n");
                    },
                    10);
  listener.start();
  const std::string cmd = "echo | timeout 10 openssl s_client -connect 127.0.0.1:" +
                          std::to_string(listener.local_endpoint().port()) + " " + options +
                          " 2>/dev/null | grep '^New, '";
  std::string got;
  std::thread client([&] {
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[256];
    while (p && std::fgets(buf, sizeof buf, p)) got += buf;
    if (p) ::pclose(p);
    io.stop();
  });
  io.run();
  client.join();
  return got;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tls_offers_1_2_with_aead_suites_and_1_3_and_nothing_older_or_weaker) {
  auto dir = std::filesystem::temp_directory_path() / ("umstore-tls-suites-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  BOOST_TEST(s_client("-tls1_3", dir).starts_with("New, TLSv1.3, Cipher is TLS_"));
  BOOST_TEST(s_client("-tls1_2", dir) == "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256\n");
  // CBC with SHA-1, and TLS 1.1, are refused: no cipher is negotiated.
  BOOST_TEST(s_client("-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA", dir) == "New, (NONE), Cipher is (NONE)\n");
  BOOST_TEST(s_client("-tls1_1 -cipher DEFAULT@SECLEVEL=0", dir) == "New, (NONE), Cipher is (NONE)\n");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(the_self_signed_certificate_names_the_host_in_subject_alt_name) {
  auto dir = std::filesystem::temp_directory_path() / ("umstore-tls-san-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ensure_self_signed_certificate(dir / "cert.pem", dir / "key.pem", "vm.example.net");
  FILE* p = ::popen(("openssl x509 -noout -ext subjectAltName -in " + (dir / "cert.pem").string()).c_str(), "r");
  std::string text;
  char buf[256];
  while (p && std::fgets(buf, sizeof buf, p)) text += buf;
  if (p) ::pclose(p);
  BOOST_TEST(text.find("DNS:vm.example.net") != std::string::npos);
  std::filesystem::remove_all(dir);
}
