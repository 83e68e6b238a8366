// Compliance scripts (in the spirit of Dovecot's imaptest scripts): every
// file in tests/imap/scripts runs against a fresh server over real sockets.
//
// Script lines (a leading N picks connection N, default 1; connections
// open and read the greeting on first use):
//   # ...              comment; blank lines are ignored
//   [N]C: tag text     sends "tag text" CRLF and reads up to the tagged reply
//                      ("$(name)" gives a value an S: line bound)
//   [N]D: data         literal data for the command above, one line each,
//                      joined by CRLF; the command's "{%}" or "~{%}" becomes
//                      the non-synchronizing literal "{size+}" with the data
//   [N]S: pattern      a line the last reply must hold, after the line the
//                      previous S: matched ("..." matches any text, "$(name)"
//                      a word, the same one everywhere in the script)
//   [N]X: pattern      a line the last reply must not hold anywhere
//   [N]W: pattern      waits (a few seconds at most) for a line the server
//                      sends unasked (IDLE, NOTIFY) that matches; the lines
//                      read join the last reply, for S: and X: lines after it
// In all of them \r \n \0 \\ and \xHH stand for any octet; other
// backslashes stay as written (\Seen).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>

#include "test_server.hpp"

using namespace umstore::imap::test;

namespace {

std::string unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char c = text[++i];
    if (c == 'r') out += '\r';
    else if (c == 'n') out += '\n';
    else if (c == '0') out += '\0';
    else if (c == '\\') out += '\\';
    else if (c == 'x' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += '\\';  // "\Seen" stays as written
      out += c;
    }
  }
  return out;
}

using Variables = std::map<std::string, std::string, std::less<>>;

// Exact match, where "..." stands for any text and "$(name)" for a word (no
// space or parenthesis) that binds the variable on its first use and must
// equal it afterwards. Bindings are kept only when the whole line matches.
bool glob_matches(std::string_view pattern, std::string_view text, Variables& vars) {
  if (pattern.empty()) return text.empty();
  if (pattern.starts_with("...")) {
    for (std::size_t from = 0; from <= text.size(); ++from)
      if (glob_matches(pattern.substr(3), text.substr(from), vars)) return true;
    return false;
  }
  if (pattern.starts_with("$(") && pattern.find(')') != std::string_view::npos) {
    const std::size_t end = pattern.find(')') + 1;
    const std::string name(pattern.substr(2, end - 3));
    if (const auto bound = vars.find(name); bound != vars.end())
      return text.starts_with(bound->second) &&
             glob_matches(pattern.substr(end), text.substr(bound->second.size()), vars);
    for (std::size_t n = 1; n <= text.size() && std::string_view(" ()").find(text[n - 1]) == std::string_view::npos;
         ++n) {
      Variables tried = vars;
      tried[name] = std::string(text.substr(0, n));
      if (glob_matches(pattern.substr(end), text.substr(n), tried)) {
        vars = std::move(tried);
        return true;
      }
    }
    return false;
  }
  return !text.empty() && text.front() == pattern.front() && glob_matches(pattern.substr(1), text.substr(1), vars);
}

std::vector<std::string> split_lines(const std::string& reply) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  for (auto end = reply.find("\r\n"); end != std::string::npos; end = reply.find("\r\n", begin)) {
    lines.push_back(reply.substr(begin, end - begin));
    begin = end + 2;
  }
  if (begin < reply.size()) lines.push_back(reply.substr(begin));
  return lines;
}

struct Connection {
  std::unique_ptr<Client> client;
  std::string pending_command;  // sent when the script moves past its D: lines
  std::string pending_data;
  bool has_data = false;
  std::vector<std::string> reply;
  std::size_t matched = 0;  // reply lines before this are used up by S:
};

class ScriptRun {
 public:
  ScriptRun(TestServer& server, std::string name) : server_(server), name_(std::move(name)) {}

  void line(std::size_t number, std::string_view text) {
    line_ = number;
    if (text.empty() || text.front() == '#') return;
    std::size_t n = 1;
    std::size_t at = 0;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) ++at;
    if (at > 0) n = std::stoul(std::string(text.substr(0, at)));
    if (text.size() < at + 2 || text[at + 1] != ':') return fail("unknown line: " + std::string(text));
    const char kind = text[at];
    std::string_view rest = text.substr(at + 2);
    if (rest.starts_with(' ')) rest.remove_prefix(1);
    Connection& c = connection(n);
    if (kind == 'D') {
      if (c.has_data) c.pending_data += "\r\n";
      c.pending_data += unescape(rest);
      c.has_data = true;
      return;
    }
    send_pending();
    if (kind == 'C') {
      c.pending_command = substitute(unescape(rest));
    } else if (kind == 'S') {
      const std::string pattern = unescape(rest);
      for (std::size_t i = c.matched; i < c.reply.size(); ++i)
        if (glob_matches(pattern, c.reply[i], vars_)) {
          c.matched = i + 1;
          return;
        }
      fail("expected \"" + pattern + "\" in\n" + joined(c.reply));
    } else if (kind == 'W') {
      const std::string pattern = unescape(rest);
      for (std::size_t i = c.matched; i < c.reply.size(); ++i)
        if (glob_matches(pattern, c.reply[i], vars_)) {
          c.matched = i + 1;
          return;
        }
      for (;;) {
        // An empty line is a line too (in a literal); a read that gave up is slow.
        const auto began = std::chrono::steady_clock::now();
        std::string got = c.client->line();
        if (got.empty() && std::chrono::steady_clock::now() - began > std::chrono::seconds(1)) return fail("waited in vain for \"" + pattern + "\" after\n" + joined(c.reply));
        c.reply.push_back(std::move(got));
        if (glob_matches(pattern, c.reply.back(), vars_)) {
          c.matched = c.reply.size();
          return;
        }
      }
    } else if (kind == 'X') {
      const std::string pattern = unescape(rest);
      for (const auto& l : c.reply)
        if (Variables scratch = vars_; glob_matches(pattern, l, scratch))
          return fail("unexpected \"" + l + "\" in\n" + joined(c.reply));
    } else {
      fail("unknown line kind");
    }
  }

  void finish() { send_pending(); }

 private:
  // "$(name)" in a command: the value an S: line bound.
  std::string substitute(std::string text) {
    for (auto at = text.find("$("); at != std::string::npos; at = text.find("$(", at)) {
      const auto end = text.find(')', at);
      const auto bound = end == std::string::npos ? vars_.end() : vars_.find(text.substr(at + 2, end - at - 2));
      if (bound == vars_.end()) {
        fail("unbound variable in " + text);
        return text;
      }
      text.replace(at, end + 1 - at, bound->second);
      at += bound->second.size();
    }
    return text;
  }

  Connection& connection(std::size_t n) {
    Connection& c = connections_[n];
    if (!c.client) c.client = std::make_unique<Client>(server_.port());
    return c;
  }

  void send_pending() {
    for (auto& [n, c] : connections_) {
      if (c.pending_command.empty()) continue;
      std::string command = std::move(c.pending_command);
      c.pending_command.clear();
      const auto tag = command.substr(0, command.find(' '));
      if (c.has_data) {
        const auto mark = command.find("{%}");
        if (mark == std::string::npos) return fail("D: lines without {%} in the command");
        // the data follows its literal header; the rest of the command after it
        command.replace(mark, 3, "{" + std::to_string(c.pending_data.size()) + "+}\r\n" + c.pending_data);
      }
      c.pending_data.clear();
      c.has_data = false;
      c.reply = split_lines(c.client->command(tag, command.substr(std::min(command.size(), tag.size() + 1))));
      c.matched = 0;
    }
  }

  static std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "  " + l + "\n";
    return out;
  }

  void fail(const std::string& what) { BOOST_ERROR(name_ << ":" << line_ << ": " << what); }

  TestServer& server_;
  std::string name_;
  std::size_t line_ = 0;
  std::map<std::size_t, Connection> connections_;
  Variables vars_;  // shared by all connections of the script
};

std::vector<std::filesystem::path> scripts() {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(UMSTORE_IMAP_SCRIPTS))
    if (entry.path().extension() == ".imap") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(compliance_scripts)

BOOST_AUTO_TEST_CASE(every_script_passes) {
  const auto files = scripts();
  BOOST_REQUIRE_MESSAGE(!files.empty(), "no scripts in " UMSTORE_IMAP_SCRIPTS);
  for (const auto& file : files) {
    BOOST_TEST_MESSAGE("script " << file.filename().string());
    TestServer server;
    ScriptRun run(server, file.filename().string());
    std::ifstream in(file);
    std::string text;
    for (std::size_t number = 1; std::getline(in, text); ++number) run.line(number, text);
    run.finish();
  }
}

BOOST_AUTO_TEST_SUITE_END()
