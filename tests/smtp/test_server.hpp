#pragma once
// A real SmtpServer on 127.0.0.1:<free port> with a temporary mailstore and
// account database, plus the clients the tests talk to it with.
#include <asio.hpp>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"
#include "smtp/smtp_server.hpp"

namespace umstore::smtp::test {

inline constexpr std::string_view kDomain = "vm.example.net";
inline constexpr std::string_view kNumber = "+15550100";
inline constexpr std::size_t kMaxMessage = 2u << 20;

class TestServer {
 public:
  // `adjust` may change the configuration before the server starts.
  explicit TestServer(bool with_tls = false, const std::function<void(SmtpServerConfig&)>& adjust = {});
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  unsigned short port() const { return port_; }
  const std::filesystem::path& directory() const { return dir_; }
  mailstore::AccountStore& accounts() { return *accounts_; }
  mailstore::MailStore& store() { return *store_; }

  // Bytes of every message in the number's INBOX, ascending UID.
  std::vector<std::string> inbox(std::string_view number = kNumber);

 private:
  std::filesystem::path dir_;
  std::unique_ptr<mailstore::MailStore> store_;
  std::unique_ptr<mailstore::AccountStore> accounts_;
  asio::io_context io_;
  std::unique_ptr<SmtpServer> server_;
  std::thread thread_;
  unsigned short port_ = 0;
};

// Runs a shell command; returns its exit status and stdout+stderr.
struct ProcessResult {
  int status = -1;
  std::string output;
};
ProcessResult run_process(const std::string& command);

// A raw SMTP conversation over a plain socket: for what real clients
// would never send (pipelined groups, bad syntax, overlong lines).
class RawClient {
 public:
  // `from`: the local address to connect from (127.0.0.2 is another client).
  explicit RawClient(unsigned short port, std::string_view from = "127.0.0.1");
  void send(std::string_view bytes);
  // One complete reply, multi-line replies joined with "\r\n".
  std::string read_reply();
  std::string command(std::string_view line);  // sends line + CRLF, reads the reply
  std::string read_until_closed();              // what arrives until the peer closes

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::string buffer_;
};

std::string write_temp_file(const std::filesystem::path& path, std::string_view content);

}  // namespace umstore::smtp::test
