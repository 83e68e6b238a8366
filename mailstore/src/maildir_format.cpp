#include "maildir_format.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <mutex>
#include <random>
#include <system_error>

#include "common/durable_file.hpp"
#include "common/parse_number.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;
namespace {

// Maildir info letters, in the ASCII order the Maildir spec requires.
constexpr std::pair<char, Flag> kFlagLetters[] = {
    {'D', kDraft}, {'F', kFlagged}, {'R', kAnswered}, {'S', kSeen}, {'T', kDeleted}};

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  std::string out;
  for (const char c : std::string_view(buffer)) {
    if (c == '/') out += "\\057";
    else if (c == ':') out += "\\072";
    else out += c;
  }
  return out;
}

}  // namespace

std::string flag_letters(Flags flags) {
  std::string out;
  for (const auto& [letter, flag] : kFlagLetters)
    if (flags & flag) out += letter;
  return out;
}

Flags flags_from_letters(std::string_view letters) {
  Flags flags = 0;
  for (const auto& [letter, flag] : kFlagLetters)
    if (letters.find(letter) != std::string_view::npos) flags |= flag;
  return flags;
}

Flags flags_from_file_name(std::string_view name) {
  const auto colon = name.find(":2,");
  return colon == std::string_view::npos ? 0 : flags_from_letters(name.substr(colon + 3));
}

std::string_view base_of(std::string_view name) { return name.substr(0, name.find(':')); }

std::string file_name(std::string_view base, Flags flags) {
  return std::string(base) + ":2," + flag_letters(flags);
}

std::string log_flags(Flags flags, std::uint64_t modseq) {
  const std::string letters = flag_letters(flags);
  return (letters.empty() ? "-" : letters) + "/" + std::to_string(modseq);
}

std::pair<Flags, std::uint64_t> parse_log_flags(std::string_view token) {
  const auto slash = token.find('/');
  const std::uint64_t modseq =
      slash == std::string_view::npos ? 0 : parse_number<std::uint64_t>(token.substr(slash + 1)).value_or(0);
  return {flags_from_letters(token.substr(0, slash)), modseq};
}

std::string flags_line(std::uint32_t uid, Flags flags, std::uint64_t modseq) {
  return "F" + std::to_string(uid) + " " + log_flags(flags, modseq) + "\n";
}


// "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>": unique per the Maildir spec,
// and the size lets a rescan skip stat().
std::string unique_base(std::uint64_t size) {
  static const std::string host = host_name();
  static std::atomic<std::uint64_t> counter{0};
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return std::to_string(now.tv_sec) + ".M" + std::to_string(now.tv_nsec / 1000) + "P" + std::to_string(::getpid()) +
         "Q" + std::to_string(counter++) + "." + host + ",S=" + std::to_string(size);
}

std::vector<std::string> list_directory(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    // Dot files are the Maildir convention for "not a message"; a newline
    // would break the UID list's line format.
    if (name.empty() || name.front() == '.' || name.find('\n') != std::string::npos) continue;
    names.push_back(std::move(name));
  }
  if (ec) throw IoError("cannot read directory", dir, ec.value());
  return names;
}

std::string save_date_line(std::uint32_t uid, std::int64_t date) {
  return "S" + std::to_string(uid) + " " + std::to_string(date) + "\n";
}

std::string keyword_line(std::uint32_t uid, const std::vector<std::string>& keywords) {
  std::string line = "K" + std::to_string(uid);
  for (const auto& k : keywords) line += " " + k;
  return line + "\n";
}

std::string added_line(std::uint32_t uid, std::uint64_t size, std::int64_t date, Flags flags, std::uint64_t modseq,
                       std::string_view base) {
  return "+" + std::to_string(uid) + " " + std::to_string(size) + " " + std::to_string(date) + " " +
         log_flags(flags, modseq) + " " + std::string(base) + "\n";
}

std::uint32_t new_uid_validity() {
  // Time based, and strictly increasing within the process so a folder
  // deleted and re-created at once still gets a new UIDVALIDITY.
  static std::mutex mutex;
  static std::uint32_t last = 0;
  std::lock_guard lock(mutex);
  last = std::max(last + 1, static_cast<std::uint32_t>(std::time(nullptr)));
  return last;
}

std::string new_folder_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device random;
  std::string id;
  for (int word = 0; word < 4; ++word)
    for (std::uint32_t bits = random(), i = 0; i < 8; ++i, bits >>= 4) id += kHex[bits & 0xF];
  return id;
}

std::string log_header(std::uint32_t uid_validity, std::uint32_t uid_next, std::uint64_t highest_modseq,
                       std::uint32_t first_recent_uid) {
  return std::string(kLogMagic) + " V" + std::to_string(uid_validity) + " N" + std::to_string(uid_next) + " M" +
         std::to_string(highest_modseq) + " R" + std::to_string(first_recent_uid) + "\n";
}

// Writes a new file in tmp/ durably; the caller renames it into cur/.
}  // namespace umstore::mailstore::detail
