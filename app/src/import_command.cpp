// umstore import DIR: migrates an archive of voicemail and fax files through
// the durable ingest queue, resumable and without duplicates (each file's
// path is its idempotency key).
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>

#include "commands.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest/recording_metadata.hpp"
#include "ingest/routing.hpp"
#include "mailstore/store.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kImportUsage = R"(usage: umstore [--data-dir DIR] import [--to NUMBER] ARCHIVE_DIR

Imports every recording below ARCHIVE_DIR into the mailboxes:
  - an Asterisk voicemail spool: CONTEXT/MAILBOX/FOLDER/msgNNNN.txt with
    msgNNNN.wav (or .WAV, .gsm, .au) next to it; the mailbox is the
    directory name (an extension or number, read with the [routing] rules);
  - spool-style pairs FILE + FILE.json ({"to": ..., "from": ..., "kind": ...}).
--to sends everything to one mailbox instead. Runs while no 'umstore serve'
uses the data directory. Interrupted imports resume when run again: a file
already imported is never imported twice. Shows a progress bar on a
terminal, progress lines otherwise; exits 1 when any file failed.
)";

struct ImportItem {
  fs::path media;
  ingest::Kind kind = ingest::Kind::Voice;
  ingest::RecordingMetadata metadata;
  std::string key;  // the path relative to the archive
};

std::string ini_value(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto eol = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, eol - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with(key) && line.substr(key.size()).starts_with('=')) return std::string(line.substr(key.size() + 1));
    pos = eol + 1;
  }
  return {};
}

// callerid="Carol Caller" <5550123>, or just 5550123.
void parse_callerid(const std::string& callerid, ingest::RecordingMetadata& m) {
  const auto lt = callerid.find('<'), gt = callerid.rfind('>');
  std::string number = callerid, name;
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) {
    number = callerid.substr(lt + 1, gt - lt - 1);
    name = callerid.substr(0, lt);
    name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
    while (!name.empty() && name.back() == ' ') name.pop_back();
  }
  if (number.empty() || number.find_first_not_of("+0123456789") != std::string::npos) number.clear();
  if (number.size() > 1 && number.front() == '+') m.from = number;
  else if (!number.empty() && number.front() != '+') m.from = number;
  m.caller_name = name;
}

std::optional<fs::path> media_next_to(const fs::path& txt) {
  for (const char* ext : {".wav", ".WAV", ".gsm", ".au", ".ulaw"}) {
    auto candidate = txt;
    candidate.replace_extension(ext);
    if (fs::is_regular_file(candidate)) return candidate;
  }
  return std::nullopt;
}

std::optional<ImportItem> asterisk_item(const fs::path& txt, const fs::path& root) {
  auto media = media_next_to(txt);
  if (!media) return std::nullopt;
  const std::string text = read_file(txt);
  ImportItem item;
  item.media = *media;
  item.key = fs::relative(*media, root).string();
  // CONTEXT/MAILBOX/FOLDER/msgNNNN.txt: the mailbox is two levels up.
  item.metadata.to = txt.parent_path().parent_path().filename().string();
  parse_callerid(ini_value(text, "callerid"), item.metadata);
  if (const auto t = ini_value(text, "origtime"); !t.empty()) item.metadata.received_at = ingest::parse_timestamp(t);
  return item;
}

std::optional<ImportItem> json_item(const fs::path& json_file, const fs::path& root) {
  fs::path media = json_file;
  media.replace_extension();  // FILE.json -> FILE
  if (!fs::is_regular_file(media)) return std::nullopt;
  ImportItem item;
  item.media = media;
  item.key = fs::relative(media, root).string();
  const auto fields = nlohmann::json::parse(read_file(json_file), nullptr, false);
  if (fields.is_discarded()) throw ingest::InvalidMetadata(json_file.string() + " is not valid JSON");
  item.metadata = ingest::parse_metadata(fields);
  const auto ext = media.extension().string();
  item.kind = item.metadata.kind.value_or(ext == ".tif" || ext == ".tiff" ? ingest::Kind::Fax : ingest::Kind::Voice);
  return item;
}

std::vector<ImportItem> scan_archive(const fs::path& root, std::vector<std::string>& problems) {
  std::vector<ImportItem> items;
  for (const auto& entry : fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied)) {
    if (!entry.is_regular_file()) continue;
    const auto& p = entry.path();
    const std::string name = p.filename().string();
    try {
      std::optional<ImportItem> item;
      if (name.starts_with("msg") && p.extension() == ".txt") item = asterisk_item(p, root);
      else if (p.extension() == ".json") item = json_item(p, root);
      if (item) items.push_back(std::move(*item));
    } catch (const std::exception& e) {
      problems.push_back(p.string() + ": " + e.what());
    }
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return items;
}

std::string duration_text(double seconds) {
  const auto s = static_cast<long>(seconds);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), tty_(::isatty(STDOUT_FILENO) == 1), start_(Clock::now()) {}

  void show(std::size_t done, bool final = false) {
    const auto now = Clock::now();
    if (!final && now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5))) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const std::string eta = rate > 0 ? duration_text(static_cast<double>(total_ - done) / rate) : "?";
    if (tty_) {
      const std::size_t width = 30, filled = total_ ? width * done / total_ : width;
      std::cout << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] "
                << fmt::format("{}/{} {:.1f}/s ETA {}   ", done, total_, rate, eta) << (final ? "\n" : "") << std::flush;
    } else {
      std::cout << fmt::format("import: {}/{} done, {:.1f}/s, ETA {}\n", done, total_, rate, eta) << std::flush;
    }
  }

 private:
  std::size_t total_;
  bool tty_;
  Clock::time_point start_, last_{};
};

}  // namespace

int run_import(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--to"}, {}}));
  if (cmd.printed_help(kImportUsage)) return 0;
  const fs::path archive = cmd.single("ARCHIVE_DIR");
  if (!fs::is_directory(archive)) throw UsageError(archive.string() + " is not a directory");
  const Settings s = load_settings(cmd);
  create_directories_durably(s.data.run_dir());
  FileLock no_server(s.data.serve_lock(), FileLock::Mode::Try);
  if (!no_server.held())
    throw std::runtime_error("umstore serve is running on " + s.data.root.string() +
                             ": stop it for the import, or copy the files into its spool directory");

  std::vector<std::string> problems;
  std::vector<ImportItem> items = scan_archive(archive, problems);
  for (const auto& p : problems) std::cerr << "umstore import: skipped " << p << "\n";

  const auto [store, account_store] = mailstore::open_store(s.store());
  mailstore::AccountStore& accounts = *account_store;
  ingest::Router router(s.routing, accounts);
  ingest::IngestQueueConfig config = s.ingest_queue(Settings::QueueOwner::command);
  // Keys, not counts: a job resumed from an interrupted run may finish
  // before or after this run submits its duplicate. Declared before the
  // queue, whose stop (in its destructor too) still reports what it stores.
  std::mutex finished_mutex;
  std::set<std::string> finished;
  std::atomic<std::size_t> failed{0};
  auto mark_finished = [&](const std::string& key) {
    std::lock_guard lock(finished_mutex);
    finished.insert(key);
    return finished.size();
  };
  auto finished_count = [&] {
    std::lock_guard lock(finished_mutex);
    return finished.size();
  };
  ingest::IngestQueue queue(config, *store);
  queue.on_final([&](const ingest::IngestStatus& st) {
    if (st.source != "import") return;
    mark_finished(st.origin);
    if (st.state == ingest::IngestState::Failed) {
      ++failed;
      std::cerr << "\numstore import: " << st.origin << ": " << st.reason << "\n";
    }
  });
  set_log_level(LogLevel::Warning);
  queue.start();  // resumes what an interrupted run left queued

  Progress progress(items.size());
  std::size_t refused = 0;
  for (const auto& item : items) {
    ingest::SubmitOptions options;
    options.source = "import";
    options.idempotency_key = item.key;
    options.origin = item.key;
    try {
      const auto route = router.route(cmd.value("--to").value_or(item.metadata.to));
      const std::string bytes = read_file(item.media);
      const auto recording = ingest::make_recording(item.kind, item.metadata, route, item.key, bytes);
      const auto result = queue.submit(recording, options);
      if (result.duplicate) {
        const auto st = queue.status(result.id);
        if (st && st->state != ingest::IngestState::Queued) mark_finished(item.key);  // done in an earlier run
        if (st && st->state == ingest::IngestState::Failed) ++failed;
      }
    } catch (const std::exception& e) {
      ++refused;
      mark_finished(item.key);
      std::cerr << "\numstore import: " << item.key << ": " << e.what() << "\n";
    }
    progress.show(finished_count());
  }
  while (!queue.wait_idle(std::chrono::milliseconds(200))) progress.show(finished_count());
  progress.show(finished_count(), true);
  queue.stop();
  std::cout << fmt::format("imported {} of {} file(s); {} failed, {} refused\n", items.size() - failed - refused,
                           items.size(), failed.load(), refused);
  return failed + refused + problems.size() == 0 ? 0 : 1;
}

}  // namespace umstore::app
