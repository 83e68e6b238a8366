#pragma once
// A real ImapServer over a real Maildir store in a temporary directory, and
// a small blocking IMAP client for scripted exchanges over 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "imap/imap_server.hpp"
#include "mailstore/mail_store.hpp"
#include "mailstore/sqlite_account_store.hpp"
#include "../net/loopback_socket.hpp"

namespace umstore::imap::test {

inline constexpr const char* kUser = "+15550100";
inline constexpr const char* kPassword = "secret pass";

inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

inline std::string text_message(std::string_view subject, std::string_view body = "Hello there.\n") {
  return crlf(std::string("From: \"Bob Caller\" <bob@example.org>\n"
                          "To: +15550100@vm.example.net, Carol <carol@example.org>\n"
                          "Subject: ") +
              std::string(subject) +
              "\n"
              "Date: Sat, 21 Nov 2026 19:40:01 +0000\n"
              "Message-ID: <" + std::string(subject) + "@example.org>\n"
              "\n" + std::string(body));
}

inline std::string voice_message() {
  return crlf(
      "From: \"Voice Mail\" <non-mail-user@vm.example.net>\n"
      "To: +15550100@vm.example.net\n"
      "Subject: Voice message from +1 555 0123\n"
      "Date: Sun, 22 Nov 2026 08:00:00 +0000\n"
      "Message-ID: <vm1@vm.example.net>\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/voice-message; version=2.0; boundary=\"VM-BOUNDARY\"\n"
      "Message-Context: voice-message\n"
      "\n"
      "--VM-BOUNDARY\n"
      "Content-Type: text/plain; charset=us-ascii\n"
      "\n"
      "Voice message from +1 555 0123 (0:02)\n"
      "--VM-BOUNDARY\n"
      "Content-Type: audio/32KADPCM\n"
      "Content-Transfer-Encoding: base64\n"
      "Content-Disposition: inline; voice=Voice-Message; filename=msg.726\n"
      "Content-Duration: 2\n"
      "\n"
      "AAECAwQFBgcICQoLDA0ODw==\n"
      "--VM-BOUNDARY--\n");
}

class TestServer {
 public:
  explicit TestServer(ImapServerConfig config = {}, std::uint64_t quota_bytes = 0) {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("umstore-imap-test-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    accounts_ = std::make_unique<mailstore::SqliteAccountStore>(dir_ / "accounts.db");
    accounts_->add({kUser, "Alice Example", "", quota_bytes}, kPassword);
    store_ = mailstore::open_maildir_store(dir_ / "mail");
    server_ = std::make_unique<ImapServer>(io_, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                                           std::move(config), *store_, *accounts_);
    server_->start();
    work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    asio::post(io_, [this] { server_->stop(); });
    work_.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    io_.stop();
    thread_.join();
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  unsigned short port() const { return server_->local_endpoint().port(); }
  mailstore::MailStore& store() { return *store_; }
  mailstore::UserMailboxPtr mailbox() { return store_->user(kUser); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  asio::io_context io_;
  std::unique_ptr<mailstore::AccountStore> accounts_;
  std::unique_ptr<mailstore::MailStore> store_;
  std::unique_ptr<ImapServer> server_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

// Blocking line client; every read gives up after a few seconds so a broken
// server fails the test instead of hanging it.
class Client {
 public:
  // `from`: the local address to connect from (127.0.0.2 is another client).
  explicit Client(unsigned short port, const char* from = "127.0.0.1")
      : fd_(umstore::test::connect_loopback(port, from)) {
    greeting = line();
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string_view data) { BOOST_REQUIRE(try_send(data)); }

  // False once the server no longer takes bytes (it closed).
  bool try_send(std::string_view data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One line without CRLF; "" when the connection closed or timed out.
  std::string line() {
    for (;;) {
      auto lf = buf_.find("\r\n");
      if (lf != std::string::npos) {
        std::string l = buf_.substr(0, lf);
        buf_.erase(0, lf + 2);
        return l;
      }
      if (!fill()) return {};
    }
  }

  // Exactly n octets (a literal the server sent).
  std::string octets(std::size_t n) {
    while (buf_.size() < n)
      if (!fill()) break;
    std::string out = buf_.substr(0, n);
    buf_.erase(0, out.size());
    return out;
  }

  // Sends "tag text" and returns everything up to and including the tagged
  // reply, literals included, as one string.
  std::string command(std::string_view tag, std::string_view text) {
    send(std::string(tag) + " " + std::string(text) + "\r\n");
    return until_tagged(tag);
  }

  // Whatever is buffered, else what one read brings; "" when closed.
  std::string some() {
    if (buf_.empty()) fill();
    std::string out;
    out.swap(buf_);
    return out;
  }

  std::string until_tagged(std::string_view tag) {
    std::string all;
    for (;;) {
      std::string l = line();
      if (l.empty() && closed_) return all;
      all += l + "\r\n";
      if (l.size() > 2 && l.back() == '}') {
        auto open = l.rfind('{');
        if (open != std::string::npos) {
          std::size_t n = std::stoul(l.substr(open + 1));
          all += octets(n);
          continue;
        }
      }
      if (l.starts_with(std::string(tag) + " ")) return all;
    }
  }

  void login() {
    auto r = command("L1", std::string("LOGIN ") + kUser + " \"" + kPassword + "\"");
    BOOST_REQUIRE_MESSAGE(r.find("L1 OK") != std::string::npos, r);
  }

  bool closed() const { return closed_; }
  std::string greeting;

 private:
  bool fill() {
    char tmp[8192];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
};

inline bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

}  // namespace umstore::imap::test
