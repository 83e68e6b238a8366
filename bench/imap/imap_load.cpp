// IMAP load generator for bench/imap/run.sh: the same command mix against
// any IMAP4rev1 server (umstore, Dovecot), one blocking connection per
// client thread (cheap for the client side: 10-100 clients), and an idle
// mode that parks many connections in IDLE for the memory measurement.
//
//   imap_load mix  PORT USER PASS CLIENTS SECONDS relogin|stay
//   imap_load idle PORT USER PASS CONNECTIONS
//
// mix prints "commands=N seconds=S ops_per_s=R errors=E". A session is
// LOGIN, SELECT INBOX, FETCH 1:* (UID FLAGS RFC822.SIZE header fields),
// two BODY.PEEK[] fetches, STORE +FLAGS/-FLAGS, UID SEARCH, LOGOUT; with
// "stay" the clients log in once and repeat everything between.
// idle prints "ready N" once all connections are in IDLE, then waits for a
// line on stdin (the measurement) and hangs up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

class ImapClient {
 public:
  explicit ImapClient(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed (raise ulimit -n)");
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect() failed");
    line();  // greeting
  }
  ~ImapClient() { ::close(fd_); }
  ImapClient(const ImapClient&) = delete;
  ImapClient& operator=(const ImapClient&) = delete;

  // Sends a command and reads through its tagged reply; true when OK.
  bool command(const std::string& text) {
    const std::string tag = "t" + std::to_string(++tag_);
    send(tag + " " + text + "\r\n");
    return until_tagged(tag);
  }
  void send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const auto n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("connection lost while sending");
      done += static_cast<std::size_t>(n);
    }
  }
  std::string line() {
    for (;;) {
      const auto end = buf_.find("\r\n", pos_);
      if (end != std::string::npos) {
        std::string l = buf_.substr(pos_, end - pos_);
        pos_ = end + 2;
        return l;
      }
      fill();
    }
  }

 private:
  bool until_tagged(const std::string& tag) {
    for (;;) {
      const std::string l = line();
      if (l.size() > 2 && l.back() == '}') {
        const auto open = l.rfind('{');
        if (open != std::string::npos) skip(std::stoull(l.substr(open + 1)));
        continue;
      }
      if (l.compare(0, tag.size() + 1, tag + " ") == 0) return l.compare(tag.size() + 1, 2, "OK") == 0;
    }
  }
  void skip(std::size_t n) {
    while (buf_.size() - pos_ < n) fill();
    pos_ += n;
  }
  void fill() {
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    } else if (pos_ > 65536) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char tmp[65536];
    const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) throw std::runtime_error("connection closed by the server");
    buf_.append(tmp, static_cast<std::size_t>(n));
  }

  int fd_ = -1;
  std::string buf_;
  std::size_t pos_ = 0;
  unsigned tag_ = 0;
};

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

struct Counters {
  std::atomic<std::uint64_t> commands{0};
  std::atomic<std::uint64_t> errors{0};
};

// The part of a session between SELECT and LOGOUT.
void work(ImapClient& c, std::mt19937& random, unsigned messages, Counters& counters) {
  const auto n = [&] { return std::to_string(1 + random() % messages); };
  const std::string one = n();
  const std::vector<std::string> commands{
      "FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])",
      "FETCH " + n() + " BODY.PEEK[]",
      "FETCH " + n() + " BODY.PEEK[]",
      "STORE " + one + " +FLAGS (\\Flagged)",
      "STORE " + one + " -FLAGS (\\Flagged)",
      "UID SEARCH UNSEEN FROM \"voice\"",
  };
  for (const auto& cmd : commands) {
    const bool ok = c.command(cmd);
    ++counters.commands;
    if (!ok) ++counters.errors;
  }
}

void login_select(ImapClient& c, const std::string& user, const std::string& pass, Counters& counters) {
  for (const std::string& cmd : {"LOGIN " + quoted(user) + " " + quoted(pass), std::string("SELECT INBOX")}) {
    const bool ok = c.command(cmd);
    ++counters.commands;
    if (!ok) ++counters.errors;
  }
}

int run_mix(unsigned short port, const std::string& user, const std::string& pass, unsigned clients,
            double seconds, bool relogin, unsigned messages) {
  Counters counters;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      std::mt19937 random(i + 1);
      try {
        if (relogin) {
          while (!stop) {
            ImapClient c(port);
            login_select(c, user, pass, counters);
            work(c, random, messages, counters);
            c.command("LOGOUT");
            ++counters.commands;
          }
        } else {
          ImapClient c(port);
          login_select(c, user, pass, counters);
          while (!stop) work(c, random, messages, counters);
          c.command("LOGOUT");
        }
      } catch (const std::exception& e) {
        ++counters.errors;
        std::fprintf(stderr, "client %u: %s\n", i, e.what());
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const std::uint64_t done = counters.commands.load();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop = true;
  for (auto& t : threads) t.join();
  std::printf("commands=%llu seconds=%.1f ops_per_s=%.0f errors=%llu\n", static_cast<unsigned long long>(done),
              elapsed, static_cast<double>(done) / elapsed, static_cast<unsigned long long>(counters.errors.load()));
  return counters.errors.load() ? 1 : 0;
}

int run_idle(unsigned short port, const std::string& user, const std::string& pass, unsigned connections) {
  std::vector<std::unique_ptr<ImapClient>> idle;
  idle.reserve(connections);
  Counters counters;
  for (unsigned i = 0; i < connections; ++i) {
    auto c = std::make_unique<ImapClient>(port);
    login_select(*c, user, pass, counters);
    c->send("i IDLE\r\n");
    if (c->line().rfind("+", 0) != 0) throw std::runtime_error("IDLE refused");
    idle.push_back(std::move(c));
  }
  std::printf("ready %u errors=%llu\n", connections, static_cast<unsigned long long>(counters.errors.load()));
  std::fflush(stdout);
  std::string ignored;
  std::getline(std::cin, ignored);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() == 7 && a[0] == "mix")
      return run_mix(static_cast<unsigned short>(std::stoi(a[1])), a[2], a[3], std::stoul(a[4]), std::stod(a[5]),
                     a[6] == "relogin", std::getenv("BENCH_MESSAGES") ? std::stoul(std::getenv("BENCH_MESSAGES")) : 40);
    if (a.size() == 5 && a[0] == "idle")
      return run_idle(static_cast<unsigned short>(std::stoi(a[1])), a[2], a[3], std::stoul(a[4]));
    std::fprintf(stderr,
                 "usage: imap_load mix PORT USER PASS CLIENTS SECONDS relogin|stay\n"
                 "       imap_load idle PORT USER PASS CONNECTIONS\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imap_load: %s\n", e.what());
    return 1;
  }
}
