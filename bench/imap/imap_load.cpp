// IMAP load generator for bench/imap/run.sh: the same commands against any
// IMAP4rev1 server with QRESYNC, SORT and THREAD (umstore, Dovecot), one
// blocking connection per client thread (cheap for the client side: 10-100
// clients), and an idle mode that parks many connections in IDLE for the
// memory measurement.
//
//   imap_load mix    PORT USER PASS CLIENTS SECONDS relogin|stay
//   imap_load append PORT USER PASS CLIENTS SECONDS MAILBOX
//   imap_load sort   PORT USER PASS MAILBOX REPEATS
//   imap_load idle   PORT USER PASS CONNECTIONS
//
// mix prints "commands=N seconds=S ops_per_s=R errors=E". A session is
// LOGIN, ENABLE QRESYNC, SELECT INBOX, FETCH 1:* (UID FLAGS RFC822.SIZE
// header fields), two BODY.PEEK[] fetches, STORE +FLAGS/-FLAGS, UID SEARCH,
// SORT, THREAD, a QRESYNC resync (SELECT INBOX (QRESYNC (UIDVALIDITY
// MODSEQ)) from the mod-sequence the session last saw), LOGOUT; with "stay"
// the clients log in once and repeat everything between.
// append: each client APPENDs a 3 KB message to MAILBOX (created first)
// again and again; prints the rate and the latency percentiles of APPEND.
// sort: SELECT MAILBOX, then SORT (DATE) of ALL REPEATS times; prints the
// SELECT's time, the first SORT's and the median of the rest.
// idle prints "ready N" once all connections are in IDLE, then waits for a
// line on stdin (the measurement) and hangs up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

  // Sends a command and reads through its tagged reply; true when OK. The
  // untagged lines (literals skipped) and the tagged one go to *lines.
  bool command(const std::string& text, std::vector<std::string>* lines = nullptr) {
    const std::string tag = next_tag();
    send(tag + " " + text + "\r\n");
    return until_tagged(tag, lines);
  }
  // A command ending in one synchronizing literal (APPEND).
  bool command_with_literal(const std::string& text, const std::string& literal) {
    const std::string tag = next_tag();
    send(tag + " " + text + " {" + std::to_string(literal.size()) + "}\r\n");
    if (line().rfind("+", 0) != 0) return until_tagged(tag, nullptr);
    send(literal + "\r\n");
    return until_tagged(tag, nullptr);
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
  std::string next_tag() { return "t" + std::to_string(++tag_); }
  bool until_tagged(const std::string& tag, std::vector<std::string>* lines) {
    for (;;) {
      const std::string l = line();
      if (l.size() > 2 && l.back() == '}') {
        const auto open = l.rfind('{');
        if (open != std::string::npos) skip(std::stoull(l.substr(open + 1)));
        continue;
      }
      if (lines) lines->push_back(l);
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

// What a QRESYNC resync starts from: the mailbox's UIDVALIDITY and the
// highest mod-sequence the session has seen.
struct SyncState {
  std::string uid_validity = "1", modseq = "1";
  void read(const std::vector<std::string>& lines) {
    for (const auto& l : lines) {
      take(l, "[UIDVALIDITY ", uid_validity);
      take(l, "[HIGHESTMODSEQ ", modseq);
    }
  }
  static void take(const std::string& line, const std::string& code, std::string& into) {
    const auto at = line.find(code);
    if (at == std::string::npos) return;
    const auto start = at + code.size();
    into = line.substr(start, line.find(']', start) - start);
  }
};

bool count(bool ok, Counters& counters) {
  ++counters.commands;
  if (!ok) ++counters.errors;
  return ok;
}

// The part of a session between SELECT and LOGOUT.
void work(ImapClient& c, std::mt19937& random, unsigned messages, SyncState& sync, Counters& counters) {
  const auto n = [&] { return std::to_string(1 + random() % messages); };
  const std::string one = n();
  const std::vector<std::string> commands{
      "FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])",
      "FETCH " + n() + " BODY.PEEK[]",
      "FETCH " + n() + " BODY.PEEK[]",
      "STORE " + one + " +FLAGS (\\Flagged)",
      "STORE " + one + " -FLAGS (\\Flagged)",
      "UID SEARCH UNSEEN FROM \"voice\"",
      "UID SORT (REVERSE DATE) UTF-8 ALL",
      "UID THREAD REFERENCES UTF-8 ALL",
  };
  for (const auto& cmd : commands) count(c.command(cmd), counters);
  // The resync a phone does when it comes back: what changed since it last looked.
  std::vector<std::string> lines;
  if (count(c.command("SELECT INBOX (QRESYNC (" + sync.uid_validity + " " + sync.modseq + "))", &lines), counters))
    sync.read(lines);
}

void login(ImapClient& c, const std::string& user, const std::string& pass, Counters& counters) {
  count(c.command("LOGIN " + quoted(user) + " " + quoted(pass)), counters);
}

void login_select(ImapClient& c, const std::string& user, const std::string& pass, SyncState& sync,
                  Counters& counters) {
  login(c, user, pass, counters);
  count(c.command("ENABLE QRESYNC"), counters);
  std::vector<std::string> lines;
  if (count(c.command("SELECT INBOX", &lines), counters)) sync.read(lines);
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
            SyncState sync;
            login_select(c, user, pass, sync, counters);
            work(c, random, messages, sync, counters);
            c.command("LOGOUT");
            ++counters.commands;
          }
        } else {
          ImapClient c(port);
          SyncState sync;
          login_select(c, user, pass, sync, counters);
          while (!stop) work(c, random, messages, sync, counters);
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

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// A voicemail-sized notification with a 3 KB body, different per client and append.
std::string append_message(unsigned client, unsigned n) {
  std::string m = "From: Bench Caller <caller@example.org>\r\nTo: +15550100@example.org\r\n"
                  "Subject: append " + std::to_string(client) + "." + std::to_string(n) +
                  "\r\nDate: Sun, 6 Dec 2026 05:00:00 +0000\r\nMessage-ID: <a" + std::to_string(client) + "." +
                  std::to_string(n) + "@bench>\r\n\r\n";
  for (int i = 0; i < 40; ++i) m += std::string(74, static_cast<char>('a' + (i + n) % 26)) + "\r\n";
  return m;
}

int run_append(unsigned short port, const std::string& user, const std::string& pass, unsigned clients,
               double seconds, const std::string& mailbox) {
  {
    ImapClient c(port);
    Counters ignored;
    login(c, user, pass, ignored);
    c.command("CREATE " + quoted(mailbox));  // NO when it exists: fine
    c.command("LOGOUT");
  }
  Counters counters;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (unsigned i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      try {
        ImapClient c(port);
        login(c, user, pass, counters);
        for (unsigned n = 0; !stop; ++n) {
          const std::string message = append_message(i, n);
          const auto t = Clock::now();
          count(c.command_with_literal("APPEND " + quoted(mailbox), message), counters);
          if (!stop) latencies[i].push_back(ms_since(t));
        }
        c.command("LOGOUT");
      } catch (const std::exception& e) {
        ++counters.errors;
        std::fprintf(stderr, "client %u: %s\n", i, e.what());
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  const double elapsed = ms_since(start) / 1000;
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::printf("appends=%zu seconds=%.1f ops_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f errors=%llu\n", all.size(),
              elapsed, static_cast<double>(all.size()) / elapsed, percentile(all, 0.5), percentile(all, 0.9),
              percentile(all, 0.99), static_cast<unsigned long long>(counters.errors.load()));
  return counters.errors.load() ? 1 : 0;
}

int run_sort(unsigned short port, const std::string& user, const std::string& pass, const std::string& mailbox,
             unsigned repeats) {
  ImapClient c(port);
  Counters counters;
  login(c, user, pass, counters);
  auto t = Clock::now();
  std::vector<std::string> lines;
  count(c.command("SELECT " + quoted(mailbox), &lines), counters);
  const double select_ms = ms_since(t);
  std::string exists = "?";
  for (const auto& l : lines)
    if (l.size() > 9 && l.compare(l.size() - 7, 7, " EXISTS") == 0) exists = l.substr(2, l.size() - 9);
  std::vector<double> times;
  std::size_t results = 0;
  for (unsigned i = 0; i <= repeats; ++i) {
    lines.clear();
    t = Clock::now();
    count(c.command("SORT (DATE) UTF-8 ALL", &lines), counters);
    times.push_back(ms_since(t));
    for (const auto& l : lines)
      if (l.rfind("* SORT", 0) == 0) results = static_cast<std::size_t>(std::count(l.begin(), l.end(), ' ')) - 1;
  }
  const double first = times.front();
  times.erase(times.begin());
  c.command("LOGOUT");
  std::printf("messages=%s select_ms=%.0f first_sort_ms=%.0f sort_p50_ms=%.0f sorted=%zu errors=%llu\n",
              exists.c_str(), select_ms, first, percentile(times, 0.5), results,
              static_cast<unsigned long long>(counters.errors.load()));
  return counters.errors.load() ? 1 : 0;
}

int run_idle(unsigned short port, const std::string& user, const std::string& pass, unsigned connections) {
  std::vector<std::unique_ptr<ImapClient>> idle;
  idle.reserve(connections);
  Counters counters;
  for (unsigned i = 0; i < connections; ++i) {
    auto c = std::make_unique<ImapClient>(port);
    SyncState sync;
    login_select(*c, user, pass, sync, counters);
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
    if (a.size() == 7 && a[0] == "append")
      return run_append(static_cast<unsigned short>(std::stoi(a[1])), a[2], a[3], std::stoul(a[4]), std::stod(a[5]),
                        a[6]);
    if (a.size() == 6 && a[0] == "sort")
      return run_sort(static_cast<unsigned short>(std::stoi(a[1])), a[2], a[3], a[4], std::stoul(a[5]));
    if (a.size() == 5 && a[0] == "idle")
      return run_idle(static_cast<unsigned short>(std::stoi(a[1])), a[2], a[3], std::stoul(a[4]));
    std::fprintf(stderr,
                 "usage: imap_load mix    PORT USER PASS CLIENTS SECONDS relogin|stay\n"
                 "       imap_load append PORT USER PASS CLIENTS SECONDS MAILBOX\n"
                 "       imap_load sort   PORT USER PASS MAILBOX REPEATS\n"
                 "       imap_load idle   PORT USER PASS CONNECTIONS\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imap_load: %s\n", e.what());
    return 1;
  }
}
