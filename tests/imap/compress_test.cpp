// COMPRESS=DEFLATE (RFC 4978) over a real connection, with zlib as the client.
#include <zlib.h>

#include <boost/test/unit_test.hpp>

#include "test_server.hpp"

using namespace umstore::imap::test;

namespace {

// The client's side of a raw DEFLATE stream in both directions.
class DeflateClient {
 public:
  explicit DeflateClient(Client& c) : c_(c) {
    BOOST_REQUIRE(inflateInit2(&in_, -15) == Z_OK);
    BOOST_REQUIRE(deflateInit2(&out_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  }
  ~DeflateClient() {
    inflateEnd(&in_);
    deflateEnd(&out_);
  }

  static std::string deflate_chunk(z_stream& z, std::string_view plain) {
    std::string out(plain.size() + 1024, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    z.avail_in = static_cast<uInt>(plain.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    BOOST_REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
    out.resize(out.size() - z.avail_out);
    return out;
  }
  std::string compress(std::string_view plain) { return deflate_chunk(out_, plain); }
  void send(std::string_view plain) { c_.send(compress(plain)); }

  // Inflated input up to and including the line that starts with "tag ".
  std::string until_tagged(std::string_view tag) {
    for (;;) {
      const std::string prefix = std::string(tag) + " ";
      auto at = text_.starts_with(prefix) ? 0 : text_.find("\r\n" + prefix);
      if (at != 0 && at != std::string::npos) at += 2;
      const auto end = at == std::string::npos ? at : text_.find("\r\n", at);
      if (end != std::string::npos) {
        std::string out = text_.substr(0, end + 2);
        text_.erase(0, end + 2);
        return out;
      }
      const std::string wire = c_.some();
      if (wire.empty()) return std::exchange(text_, {});
      std::string plain(64 * 1024 + wire.size() * 8, '\0');
      in_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(wire.data()));
      in_.avail_in = static_cast<uInt>(wire.size());
      do {
        in_.next_out = reinterpret_cast<Bytef*>(plain.data());
        in_.avail_out = static_cast<uInt>(plain.size());
        const int rc = inflate(&in_, Z_SYNC_FLUSH);
        BOOST_REQUIRE(rc == Z_OK || rc == Z_BUF_ERROR);
        text_.append(plain.data(), plain.size() - in_.avail_out);
      } while (in_.avail_in > 0 || in_.avail_out == 0);
    }
  }

 private:
  Client& c_;
  z_stream in_{};
  z_stream out_{};
  std::string text_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(compress_deflate)

BOOST_AUTO_TEST_CASE(deflate_both_ways_with_pipelined_input_and_large_literals) {
  TestServer server;
  Client c(server.port());
  BOOST_TEST(contains(c.command("a0", "CAPABILITY"), " COMPRESS=DEFLATE"));
  BOOST_TEST(contains(c.command("a1", "COMPRESS DEFLATE"), "a1 BAD"));  // not before login
  c.login();
  BOOST_TEST(contains(c.command("a2", "COMPRESS GZIP"), "a2 BAD"));
  DeflateClient z(c);
  // The next command arrives compressed in the same packet as COMPRESS.
  c.send("a3 COMPRESS DEFLATE\r\n" + z.compress("a4 NOOP\r\n"));
  BOOST_TEST(c.line() == "a3 OK DEFLATE active");
  BOOST_TEST(contains(z.until_tagged("a4"), "a4 OK"));
  z.send("a5 COMPRESS DEFLATE\r\n");
  BOOST_TEST(contains(z.until_tagged("a5"), "a5 NO [COMPRESSIONACTIVE]"));
  // A large message both ways: literals past the direct-write threshold.
  std::string body;
  for (int i = 0; body.size() < 300 * 1024; ++i)
    body += "line " + std::to_string(i) + " of a long voicemail transcript\r\n";
  const std::string message = "Subject: big\r\n\r\n" + body;
  z.send("a6 APPEND INBOX {" + std::to_string(message.size()) + "+}\r\n" + message + "\r\n");
  BOOST_TEST(contains(z.until_tagged("a6"), "a6 OK [APPENDUID"));
  z.send("a7 SELECT INBOX\r\na8 FETCH 1 BODY.PEEK[]\r\n");
  BOOST_TEST(contains(z.until_tagged("a7"), "a7 OK"));
  const std::string fetched = z.until_tagged("a8");
  BOOST_TEST(contains(fetched, "BODY[] {" + std::to_string(message.size()) + "}\r\n" + message + ")"));
  BOOST_TEST(contains(fetched, "a8 OK"));
  // 32 MB of line in about 32 KB of DEFLATE: refused as too long, not buffered.
  z.send("a9 NOOP " + std::string(32 * 1024 * 1024, 'x') + "\r\na10 NOOP\r\n");
  BOOST_TEST(contains(z.until_tagged("a10"), "BAD [TOOBIG]"));
  z.send("a9 LOGOUT\r\n");
  BOOST_TEST(contains(z.until_tagged("a9"), "* BYE"));
}

BOOST_AUTO_TEST_CASE(input_that_is_not_deflate_ends_the_connection) {
  TestServer server;
  Client c(server.port());
  c.login();
  BOOST_TEST(contains(c.command("b1", "COMPRESS DEFLATE"), "b1 OK"));
  c.send("\xff\xff\xff\xff");  // a DEFLATE block of the reserved type 3
  BOOST_TEST(c.some().empty());
  BOOST_TEST(c.closed());
}

BOOST_AUTO_TEST_SUITE_END()
