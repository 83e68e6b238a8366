#include "test_server.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <stdexcept>

#include "mailstore/sqlite_account_store.hpp"
#include "net/tls.hpp"

namespace umstore::smtp::test {

TestServer::TestServer(bool with_tls, const std::function<void(SmtpServerConfig&)>& adjust) {
  static int counter = 0;
  dir_ = std::filesystem::temp_directory_path() /
         ("umstore-smtp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  store_ = mailstore::open_maildir_store(dir_ / "mail");
  accounts_ = std::make_unique<mailstore::SqliteAccountStore>(dir_ / "accounts.db");
  accounts_->add({std::string(kNumber), "Test User", "", 0}, "secret");

  SmtpServerConfig config;
  config.hostname = "mx.example.net";
  config.local_domains = {std::string(kDomain), "fax.example.net"};
  config.max_message_bytes = kMaxMessage;
  config.max_recipients = 5;
  if (with_tls) {
    net::ensure_self_signed_certificate(dir_ / "cert.pem", dir_ / "key.pem", "mx.example.net");
    config.tls = net::make_server_tls_context(dir_ / "cert.pem", dir_ / "key.pem");
  }
  if (adjust) adjust(config);
  server_ = std::make_unique<SmtpServer>(io_, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                                         std::move(config), *store_, *accounts_);
  server_->start();
  port_ = server_->local_endpoint().port();
  thread_ = std::thread([this] { io_.run(); });
}

TestServer::~TestServer() {
  server_->stop();
  io_.stop();
  thread_.join();
  server_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> TestServer::inbox(std::string_view number) {
  auto folder = store_->user(number)->open("INBOX");
  std::vector<std::string> out;
  for (const auto& info : folder->snapshot())
    if (auto data = folder->open_message(info.uid)) out.emplace_back(data->bytes());
  return out;
}

ProcessResult run_process(const std::string& command) {
  ProcessResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::array<char, 4096> chunk{};
  while (std::size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe)) result.output.append(chunk.data(), n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

RawClient::RawClient(unsigned short port, std::string_view from) : socket_(io_) {
  socket_.open(asio::ip::tcp::v4());
  socket_.bind({asio::ip::make_address(from), 0});
  socket_.connect({asio::ip::make_address("127.0.0.1"), port});
}

void RawClient::send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }

std::string RawClient::read_reply() {
  std::string reply;
  for (;;) {
    std::size_t n = asio::read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n");
    std::string line = buffer_.substr(0, n - 2);
    buffer_.erase(0, n);
    if (!reply.empty()) reply += "\r\n";
    reply += line;
    if (line.size() < 4 || line[3] == ' ') return reply;
  }
}

std::string RawClient::command(std::string_view line) {
  send(std::string(line) + "\r\n");
  return read_reply();
}

std::string RawClient::read_until_closed() {
  std::string out = std::move(buffer_);
  buffer_.clear();
  std::error_code ec;
  std::array<char, 256> chunk{};
  while (!ec) {
    std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
    out.append(chunk.data(), n);
  }
  return out;
}

std::string write_temp_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return path.string();
}

}  // namespace umstore::smtp::test
