// The Maildir folder's view of the disk: reading and writing the UID list,
// and scanning new/ and cur/ for changes made by other tools.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <unordered_set>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "common/parse_number.hpp"
#include "maildir_folder.hpp"
#include "maildir_format.hpp"

namespace umstore::mailstore::detail {
namespace fs = std::filesystem;
namespace {

// Directory mtimes are coarse (a clock tick, a second on some file
// systems): a change by another tool in the same tick as one we already saw
// leaves the mtime as it was. So a directory changed this recently is not
// trusted: new/ (usually empty) is re-read on every sync, cur/ once more
// after the tick has surely passed, at most once per kRescanIntervalNs, and
// no more often than its cost allows: a folder receiving mail all the time
// stays recent, and reading a cur/ of 30,000 files under the folder's lock
// every second held every delivery to it up (bench/soak: the SMTP p50 rose
// with the mailbox). kScanShare caps the time rescans take at 1/50.
constexpr std::int64_t kRecentNs = 2'000'000'000;
constexpr std::int64_t kRescanIntervalNs = 1'000'000'000;
constexpr std::int64_t kScanShare = 50;

// Measures a cur/ scan into `cost_ns` when it ends.
class ScanTimer {
 public:
  explicit ScanTimer(std::int64_t& cost_ns) : cost_ns_(cost_ns), start_(std::chrono::steady_clock::now()) {}
  ~ScanTimer() {
    cost_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
  }
  ScanTimer(const ScanTimer&) = delete;
  ScanTimer& operator=(const ScanTimer&) = delete;

 private:
  std::int64_t& cost_ns_;
  std::chrono::steady_clock::time_point start_;
};

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Splits off the first space-separated field.
std::string_view next_field(std::string_view& rest) {
  const auto space = rest.find(' ');
  const std::string_view field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return field;
}

}  // namespace

// --- the log ------------------------------------------------------------------

void MaildirFolder::add_entry(Entry entry) const {
  mirror_.uid_next = std::max(mirror_.uid_next, entry.uid + 1);
  const std::uint64_t seconds = seconds_of_base(entry.base);
  mirror_.total_size += entry.size;
  mirror_.total_seconds += seconds;
  quota_->adjust(static_cast<std::int64_t>(entry.size), 1, static_cast<std::int64_t>(seconds));
  mirror_.uid_by_base[entry.base] = entry.uid;
  const std::uint32_t uid = entry.uid;
  if (const auto it = mirror_.entries.find(uid); it != mirror_.entries.end()) {
    mirror_.by_modseq.erase({it->second.modseq, uid});
    count_flags(it->second.flags, -1);
  }
  mirror_.by_modseq.emplace(entry.modseq, uid);
  count_flags(entry.flags, 1);
  mirror_.entries.insert_or_assign(uid, std::move(entry));
}

void MaildirFolder::count_flags(Flags flags, int sign) const {
  if (!(flags & kSeen)) mirror_.unseen += static_cast<std::uint32_t>(sign);
  if (flags & kDeleted) mirror_.deleted += static_cast<std::uint32_t>(sign);
}

void MaildirFolder::set_flags(Entry& e, Flags flags) const {
  count_flags(e.flags, -1);
  e.flags = flags;
  count_flags(flags, 1);
}

void MaildirFolder::set_modseq(Entry& e, std::uint64_t modseq) const {
  mirror_.by_modseq.erase({e.modseq, e.uid});
  e.modseq = modseq;
  mirror_.by_modseq.emplace(modseq, e.uid);
}

void MaildirFolder::clear_entries() const {
  mirror_.entries.clear();
  mirror_.by_modseq.clear();
  mirror_.uid_by_base.clear();
  mirror_.unseen = mirror_.deleted = 0;
}

void MaildirFolder::uncount_all() const {
  quota_->adjust(-static_cast<std::int64_t>(mirror_.total_size), -static_cast<std::int64_t>(mirror_.entries.size()),
                 -static_cast<std::int64_t>(mirror_.total_seconds));
  mirror_.total_size = 0;
  mirror_.total_seconds = 0;
}

void MaildirFolder::erase_entry(std::uint32_t uid, std::uint64_t modseq) const {
  mirror_.expunged[uid] = modseq;
  const auto it = mirror_.entries.find(uid);
  if (it == mirror_.entries.end()) return;
  const std::uint64_t seconds = seconds_of_base(it->second.base);
  mirror_.total_size -= it->second.size;
  mirror_.total_seconds -= seconds;
  quota_->adjust(-static_cast<std::int64_t>(it->second.size), -1, -static_cast<std::int64_t>(seconds));
  forget_metadata(it->second.base);  // gone from the disk with the message, whoever removed it
  mirror_.uid_by_base.erase(it->second.base);
  mirror_.by_modseq.erase({it->second.modseq, uid});
  count_flags(it->second.flags, -1);
  mirror_.entries.erase(it);
}

bool MaildirFolder::apply_log_line(std::string_view line) const {
  if (line.empty()) return false;
  const char kind = line.front();
  std::string_view rest = line.substr(1);
  const auto uid = parse_number<std::uint32_t>(next_field(rest));
  if (!uid || *uid == 0) return false;  // unknown or damaged line: the directory scan repairs
  switch (kind) {
    case '+': {
      const auto size = parse_number<std::uint64_t>(next_field(rest));
      const auto date = parse_number<std::int64_t>(next_field(rest));
      const auto [flags, modseq] = parse_log_flags(next_field(rest));
      if (!size || !date || rest.empty()) return false;
      if (mirror_.entries.count(*uid) != 0 || mirror_.uid_by_base.count(std::string(rest)) != 0) return false;
      mirror_.highest_modseq = std::max(mirror_.highest_modseq, modseq);
      const std::uint64_t known_modseq = std::max<std::uint64_t>(1, modseq);  // 1 for records from before CONDSTORE
      add_entry(Entry{*uid, std::string(rest), file_name(rest, flags), *size, *date, flags, {}, known_modseq});
      return true;
    }
    case '-': {
      mirror_.uid_next = std::max(mirror_.uid_next, *uid + 1);
      const auto modseq = parse_number<std::uint64_t>(next_field(rest));
      if (modseq) mirror_.highest_modseq = std::max(mirror_.highest_modseq, *modseq);
      else mirror_.expunges_known_since = mirror_.highest_modseq;  // a record from before CONDSTORE: when is unknown
      const bool known = mirror_.entries.count(*uid) != 0;
      erase_entry(*uid, modseq.value_or(mirror_.highest_modseq));
      return known;
    }
    case 'F': {
      const auto it = mirror_.entries.find(*uid);
      if (it == mirror_.entries.end()) return false;
      const auto [flags, modseq] = parse_log_flags(next_field(rest));
      set_flags(it->second, flags);
      it->second.file = file_name(it->second.base, it->second.flags);
      if (modseq != 0) set_modseq(it->second, modseq);
      mirror_.highest_modseq = std::max(mirror_.highest_modseq, modseq);
      return true;
    }
    case 'R':
      // Claimed \Recent: no message changes, so no session needs telling.
      mirror_.first_recent_uid = std::max(mirror_.first_recent_uid, *uid);
      return false;
    case 'S': {
      const auto it = mirror_.entries.find(*uid);
      const auto saved = parse_number<std::int64_t>(next_field(rest));
      if (it != mirror_.entries.end() && saved) it->second.saved = *saved;
      return false;  // follows its "+" record, which told the sessions
    }
    case 'K': {
      const auto it = mirror_.entries.find(*uid);
      if (it == mirror_.entries.end()) return false;
      it->second.keywords.clear();
      while (!rest.empty()) it->second.keywords.emplace_back(next_field(rest));
      return true;
    }
    default:
      return false;
  }
}

bool MaildirFolder::catch_up_log() const {
  const fs::path path = dir_ / kLogFile;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    // A folder made by hand or by another tool: start a UID list for it.
    replace_file_durably(path, log_header(new_uid_validity(), 1, mirror_.highest_modseq, 1));
    fd = UniqueFd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  }
  if (!fd) throw IoError("cannot open UID list", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw IoError("cannot stat UID list", path, errno);

  bool changed = false;
  if (st.st_ino != mirror_.log_ino || st.st_size < mirror_.log_offset) {
    // First load, or another process compacted the log: read it whole.
    changed = mirror_.log_ino != 0;
    uncount_all();
    clear_entries();
    mirror_.log_offset = 0;
    mirror_.log_lines = 0;
    mirror_.log_ino = st.st_ino;
  }
  if (st.st_size == mirror_.log_offset && mirror_.log_offset != 0) return changed;

  std::string data(static_cast<std::size_t>(st.st_size - mirror_.log_offset), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::pread(fd.get(), data.data() + got, data.size() - got, mirror_.log_offset + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("cannot read UID list", path, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  const std::size_t complete = data.rfind('\n') + 1;  // npos + 1 == 0
  std::string_view lines(data.data(), complete);
  if (mirror_.log_offset == 0) {
    const std::string_view header = lines.substr(0, lines.find('\n'));
    std::string_view rest = header.substr(std::min(header.size(), kLogMagic.size()));
    const bool magic_ok = header.substr(0, kLogMagic.size()) == kLogMagic && !rest.empty() && rest.front() == ' ';
    if (!magic_ok) rest = {};
    else rest.remove_prefix(1);
    const std::string_view v = next_field(rest);
    const std::string_view n = next_field(rest);
    const auto validity = v.size() > 1 && v[0] == 'V' ? parse_number<std::uint32_t>(v.substr(1)) : std::nullopt;
    const auto next = n.size() > 1 && n[0] == 'N' ? parse_number<std::uint32_t>(n.substr(1)) : std::nullopt;
    mirror_.first_recent_uid = 1;
    while (!rest.empty()) {  // optional fields, absent in logs from older versions
      const std::string_view field = next_field(rest);
      if (field.size() < 2) continue;
      if (field[0] == 'M')
        mirror_.highest_modseq = std::max(mirror_.highest_modseq, parse_number<std::uint64_t>(field.substr(1)).value_or(0));
      else if (field[0] == 'R')
        mirror_.first_recent_uid = std::max(mirror_.first_recent_uid, parse_number<std::uint32_t>(field.substr(1)).value_or(1));
    }
    // A compacted log keeps no removals: only those after it was written are known.
    mirror_.expunged.clear();
    mirror_.expunges_known_since = mirror_.highest_modseq;
    if (complete == 0 || !validity || !next) {
      // Unreadable: start over with a new UIDVALIDITY (clients then
      // resynchronise) and let the directory scan give every file a UID.
      log(LogLevel::Error, "mailstore", "UID list {} is damaged; assigning new UIDs", path.string());
      replace_file_durably(path, log_header(new_uid_validity(), 1, mirror_.highest_modseq, 1));
      mirror_.log_ino = 0;
      mirror_.stamps = Stamps{};
      return catch_up_log() || true;
    }
    mirror_.uid_validity = *validity;
    mirror_.uid_next = std::max<std::uint32_t>(1, *next);
    lines.remove_prefix(std::min(lines.size(), header.size() + 1));
    mirror_.log_lines = 1;
    changed = true;
  }
  while (!lines.empty()) {
    const auto end = lines.find('\n');
    changed = apply_log_line(lines.substr(0, end)) || changed;
    lines.remove_prefix(end + 1);
    ++mirror_.log_lines;
  }
  mirror_.log_offset += static_cast<off_t>(complete);
  if (complete < data.size()) {
    // A torn last line from a crash; we hold the lock, so no writer is
    // active: cut it off so the next record starts on a line of its own.
    if (::ftruncate(fd.get(), mirror_.log_offset) != 0) throw IoError("cannot repair UID list", path, errno);
    fsync_fd(fd.get(), path);
  }
  return changed;
}

std::uint64_t MaildirFolder::next_modseq() const {
  const auto now_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  mirror_.highest_modseq = std::max(mirror_.highest_modseq + 1, now_us);
  return mirror_.highest_modseq;
}

void MaildirFolder::write_log(std::string_view lines, LogSync sync) const {
  if (lines.empty()) return;
  const fs::path path = dir_ / kLogFile;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd) throw IoError("cannot open UID list", path, errno);
  write_all(fd.get(), lines, path);
  if (sync == LogSync::Durable) fsync_fd(fd.get(), path);
  mirror_.log_offset += static_cast<off_t>(lines.size());
  mirror_.log_lines += static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n'));
}

void MaildirFolder::compact_log_if_needed() const {
  if (mirror_.log_lines <= 2 * mirror_.entries.size() + 1024) return;
  std::string content = log_header(mirror_.uid_validity, mirror_.uid_next, mirror_.highest_modseq, mirror_.first_recent_uid);
  for (const auto& [uid, e] : mirror_.entries) {
    content += added_line(uid, e.size, e.date, e.flags, e.modseq, e.base);
    if (e.saved != 0) content += save_date_line(uid, e.saved);
    if (!e.keywords.empty()) content += keyword_line(uid, e.keywords);
  }
  const fs::path path = dir_ / kLogFile;
  replace_file_durably(path, content);
  mirror_.expunged.clear();  // bounded memory; clients asking from before get expunged_complete = false
  mirror_.expunges_known_since = mirror_.highest_modseq;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw IoError("cannot stat UID list", path, errno);
  mirror_.log_ino = st.st_ino;
  mirror_.log_offset = st.st_size;
  mirror_.log_lines = static_cast<std::size_t>(std::count(content.begin(), content.end(), '\n'));
}

// --- directory scans --------------------------------------------------------------

MaildirFolder::Stamps MaildirFolder::current_stamps() const {
  const auto stamp = [](const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return FileStamp{};
    return FileStamp{st.st_ino, st.st_size, mtime_ns(st)};
  };
  return Stamps{stamp(dir_ / kLogFile), stamp(dir_ / "new"), stamp(dir_ / "cur")};
}

void MaildirFolder::remember_stamps() const { mirror_.stamps = current_stamps(); }

void MaildirFolder::forget_disk_state() const noexcept {
  mirror_.log_ino = 0;
  mirror_.stamps = Stamps{};
  mirror_.last_cur_scan_ns = 0;
}

bool MaildirFolder::new_scan_due(const Stamps& now) const {
  return now.new_dir != mirror_.stamps.new_dir || now_ns() - now.new_dir.mtime_ns < kRecentNs;
}

bool MaildirFolder::cur_scan_due(const Stamps& now) const {
  if (now.cur_dir != mirror_.stamps.cur_dir || now.cur_dir.mtime_ns < 0) return true;
  const std::int64_t t = now_ns();
  return mirror_.last_cur_scan_ns < now.cur_dir.mtime_ns + kRecentNs &&
         t - mirror_.last_cur_scan_ns >= std::max(kRescanIntervalNs, kScanShare * mirror_.last_cur_scan_cost_ns);
}

bool MaildirFolder::scan_directories() const {
  const Stamps now = current_stamps();
  const bool cur_changed = cur_scan_due(now);
  const bool new_changed = new_scan_due(now);
  std::string records;
  std::vector<std::pair<std::string, std::string>> unknown;  // base, file in cur/
  std::uint64_t modseq = 0;  // one for everything this scan finds
  const auto scan_modseq = [&] {
    if (modseq == 0) modseq = next_modseq();
    return modseq;
  };

  if (new_changed) {
    // Mail dropped into new/ by other tools: move it to cur/ (the Maildir
    // way of saying "the store has seen it").
    bool moved = false;
    for (const auto& name : list_directory(dir_ / "new")) {
      const std::string base(base_of(name));
      const std::string target = file_name(base, flags_from_file_name(name));
      if (::rename((dir_ / "new" / name).c_str(), (dir_ / "cur" / target).c_str()) != 0) continue;
      moved = true;
      const auto known = mirror_.uid_by_base.find(base);
      if (known != mirror_.uid_by_base.end()) mirror_.entries[known->second].file = target;
      else if (!cur_changed) unknown.emplace_back(base, target);
    }
    if (moved) {
      fsync_directory(dir_ / "cur");
      fsync_directory(dir_ / "new");
    }
  }
  bool changed = false;
  if (cur_changed) {
    mirror_.last_cur_scan_ns = now_ns();
    const ScanTimer timer(mirror_.last_cur_scan_cost_ns);
    std::unordered_set<std::uint32_t> seen;
    std::vector<std::string> names = list_directory(dir_ / "cur");
    std::sort(names.begin(), names.end());  // names start with the delivery time: UIDs in arrival order
    for (const auto& name : names) {
      const std::string base(base_of(name));
      const auto known = mirror_.uid_by_base.find(base);
      if (known == mirror_.uid_by_base.end()) {
        unknown.emplace_back(base, name);
        mirror_.uid_by_base.emplace(base, 0);  // a second file with the same base is ignored
        continue;
      }
      if (known->second == 0 || !seen.insert(known->second).second) continue;
      Entry& e = mirror_.entries[known->second];
      if (e.file == name) continue;
      // Another tool changed the flags in the file name.
      e.file = name;
      const Flags flags = flags_from_file_name(name);
      if (flags != e.flags) {
        set_flags(e, flags);
        set_modseq(e, scan_modseq());
        records += flags_line(e.uid, flags, e.modseq);
        changed = true;
      }
    }
    for (const auto& [base, name] : unknown) mirror_.uid_by_base.erase(base);
    std::vector<std::uint32_t> vanished;
    for (const auto& [uid, e] : mirror_.entries)
      if (seen.count(uid) == 0) vanished.push_back(uid);
    for (const std::uint32_t uid : vanished) {
      erase_entry(uid, scan_modseq());
      records += "-" + std::to_string(uid) + " " + std::to_string(modseq) + "\n";
      changed = true;
    }
  }
  for (const auto& [base, name] : unknown) {
    if (mirror_.uid_by_base.count(base) != 0) continue;
    if (mirror_.uid_next == UINT32_MAX) throw IoError("no UIDs left in folder", dir_, EOVERFLOW);
    struct stat st {};
    if (::stat((dir_ / "cur" / name).c_str(), &st) != 0) continue;
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    const std::uint32_t uid = mirror_.uid_next;
    const Flags flags = flags_from_file_name(name);
    add_entry(Entry{uid, base, name, size, static_cast<std::int64_t>(st.st_mtim.tv_sec), flags, {}, scan_modseq()});
    records += added_line(uid, size, st.st_mtim.tv_sec, flags, modseq, base);
    changed = true;
  }
  write_log(records);
  return changed;
}

}  // namespace umstore::mailstore::detail
