#pragma once
// A small, strict argument parser: every subcommand declares its options,
// anything else is refused with a message that names it.
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::app {

class UsageError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::set<std::string> with_value;  // "--name" VALUE or "--name=VALUE"
  std::set<std::string> flags;       // "--password-stdin"
};

class CommandLine {
 public:
  CommandLine(std::span<const std::string> args, const OptionSpec& spec);

  const std::vector<std::string>& positionals() const noexcept { return positionals_; }
  std::optional<std::string> value(const std::string& option) const;
  bool flag(const std::string& option) const { return flags_.contains(option); }
  // With --help: prints `usage` to stdout and is true (the command then ends).
  bool printed_help(std::string_view usage) const;
  // The one positional argument a command needs; UsageError naming `what` otherwise.
  const std::string& single(const std::string& what) const;

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

// One line from standard input (asked for without echo on a terminal);
// UsageError when it is empty.
std::string read_password_from_stdin();

}  // namespace umstore::app
