#include "ingest/spool_watcher.hpp"
#include "common/ascii.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "ingest/ingest_queue.hpp"
#include "ingest/recording_metadata.hpp"
#include "ingest/routing.hpp"

namespace umstore::ingest {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kLog = "spool";
constexpr std::uintmax_t kMaxFileBytes = 64u << 20;
constexpr std::uintmax_t kMaxMetadataBytes = 64u << 10;
constexpr std::size_t kMagicBytes = 16;  // enough for unsupported_format
constexpr int kRescanMs = 5000;

enum class Readiness { Ready, Busy };

// Ready when no process has the file open for writing. A read lease is
// refused (EAGAIN) exactly then; where leases are not allowed (another
// owner), a file unchanged for two seconds counts as written.
Readiness readiness(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return Readiness::Busy;
  if (::fcntl(fd.get(), F_SETLEASE, F_RDLCK) == 0) {
    ::fcntl(fd.get(), F_SETLEASE, F_UNLCK);
    return Readiness::Ready;
  }
  if (errno == EAGAIN) return Readiness::Busy;
  std::error_code ec;
  const auto age = fs::file_time_type::clock::now() - fs::last_write_time(path, ec);
  return !ec && age > std::chrono::seconds(2) ? Readiness::Ready : Readiness::Busy;
}

Kind kind_from_extension(const fs::path& file) {
  auto ext = file.extension().string();
  ext = ascii_lower(ext);
  return ext == ".tif" || ext == ".tiff" ? Kind::Fax : Kind::Voice;
}

}  // namespace

struct SpoolWatcher::Impl {
  fs::path incoming, done, failed;
  IngestQueue& queue;
  const Router& router;
  std::mutex mutex;
  std::set<std::string> submitted;  // names in incoming/ already in the queue
  std::multimap<std::string, std::string> followers;  // job id -> names of duplicate drops
  UniqueFd inotify, wakeup;
  std::jthread thread;

  Impl(fs::path dir, IngestQueue& q, const Router& r)
      : incoming(dir / "incoming"), done(dir / "done"), failed(dir / "failed"), queue(q), router(r) {}

  void start() {
    for (const auto& d : {incoming, done, failed}) create_directories_durably(d);
    inotify = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify) throw IoError("inotify_init1", incoming, errno);
    if (::inotify_add_watch(inotify.get(), incoming.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
      throw IoError("cannot watch", incoming, errno);
    wakeup = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    rescan();
    thread = std::jthread([this] { watch(); });
    log(LogLevel::Info, kLog, "watching {}", incoming.string());
  }

  void stop() {
    if (!thread.joinable()) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wakeup.get(), &one, sizeof one);
    thread.join();
  }

  void watch() {
    alignas(inotify_event) char buffer[16384];
    for (;;) {
      pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {wakeup.get(), POLLIN, 0}};
      const int ready = ::poll(fds, 2, kRescanMs);
      if (ready < 0 && errno != EINTR) return;
      if (fds[1].revents & POLLIN) return;
      if (ready == 0) {
        rescan();
        continue;
      }
      const ssize_t len = ::read(inotify.get(), buffer, sizeof buffer);
      if (len <= 0) continue;
      bool overflow = false;
      for (ssize_t off = 0; off < len;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buffer + off);
        if (ev->mask & IN_Q_OVERFLOW) overflow = true;
        else if (ev->len > 0) consider(ev->name);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
      if (overflow) rescan();
    }
  }

  void rescan() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(incoming, ec)) consider(entry.path().filename().string());
  }

  // Takes the pair FILE + FILE.json when both are there and written.
  void consider(std::string name) {
    try {
      if (name.starts_with('.')) return;
      if (name.ends_with(".json")) name.resize(name.size() - 5);
      if (name.empty() || name.ends_with(".error")) return;
      {
        std::lock_guard lock(mutex);
        if (submitted.contains(name)) return;
      }
      const fs::path file = incoming / name, metadata = incoming / (name + ".json");
      if (!fs::is_regular_file(file) || !fs::is_regular_file(metadata)) return;
      if (readiness(file) == Readiness::Busy || readiness(metadata) == Readiness::Busy) return;
      take(name, file, metadata);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, kLog, "{}: {} (will retry)", name, e.what());
    }
  }

  void take(const std::string& name, const fs::path& file, const fs::path& metadata_file) {
    RecordingMetadata metadata;
    Recording recording;
    Kind kind = kind_from_extension(file);
    try {
      if (fs::file_size(metadata_file) > kMaxMetadataBytes) throw InvalidMetadata("the .json file is larger than 64 KiB");
      const auto json = nlohmann::json::parse(read_file(metadata_file), nullptr, false);
      if (json.is_discarded()) throw InvalidMetadata("the .json file is not valid JSON");
      metadata = parse_metadata(json);
      if (metadata.kind) kind = *metadata.kind;
      const std::uintmax_t size = fs::file_size(file);
      if (size > kMaxFileBytes) throw InvalidMetadata("the file is larger than 64 MiB");
      if (size == 0) throw InvalidMetadata("the file is empty");
      // The queue takes the file itself (submit_file); here only its magic number is read.
      if (auto problem = unsupported_format(kind, read_file_head(file, kMagicBytes))) throw InvalidMetadata(*problem);
      recording = make_recording(kind, metadata, router.route(metadata.to), name, std::string_view());
    } catch (const InvalidMetadata& e) {
      return move_originals(name, false, e.what());
    } catch (const UnroutableNumber& e) {
      return move_originals(name, false, e.what());
    }
    SubmitOptions options;
    options.source = "spool";
    options.idempotency_key = metadata.id.empty() ? name : metadata.id;
    options.origin = name;
    {
      std::lock_guard lock(mutex);
      submitted.insert(name);
    }
    SubmitResult result;
    try {
      result = queue.submit_file(recording, file, options);
    } catch (...) {
      std::lock_guard lock(mutex);
      submitted.erase(name);  // so the next rescan tries it again
      throw;
    }
    log(LogLevel::Info, kLog, "{}: {} as id={}", name, result.duplicate ? "already queued" : "queued", result.id);
    if (result.duplicate) {
      // A retried drop (or a restart between the final status and the move):
      // this pair follows the job it duplicates to done/ or failed/.
      {
        std::lock_guard lock(mutex);
        followers.emplace(result.id, name);
      }
      if (auto status = queue.status(result.id); status && status->state != IngestState::Queued) on_final(*status);
    }
  }

  void on_final(const IngestStatus& status) {
    if (status.source != "spool") return;
    const bool delivered = status.state == IngestState::Delivered;
    std::vector<std::string> names;
    {
      std::lock_guard lock(mutex);
      auto [first, last] = followers.equal_range(status.id);
      for (auto it = first; it != last; ++it) names.push_back(it->second);
      followers.erase(first, last);
    }
    if (!status.origin.empty() && std::find(names.begin(), names.end(), status.origin) == names.end())
      names.push_back(status.origin);
    for (const auto& name : names)
      if (fs::exists(incoming / name)) move_originals(name, delivered, status.reason);
  }

  void move_originals(const std::string& name, bool delivered, const std::string& reason) {
    const fs::path& target = delivered ? done : failed;
    std::error_code ec;
    fs::rename(incoming / (name + ".json"), target / (name + ".json"), ec);
    fs::rename(incoming / name, target / name, ec);
    if (delivered) drop_cached_pages(target / name);  // kept for the gateway's records, not read again here
    // Written last, so a gateway that sees FILE.error finds the originals beside it.
    if (!delivered) replace_file_durably(failed / (name + ".error"), reason + "\n");
    fsync_directory(target);
    fsync_directory(incoming);
    {
      std::lock_guard lock(mutex);
      submitted.erase(name);
    }
    log(LogLevel::Info, kLog, "{} -> {}{}", name, delivered ? "done/" : "failed/", delivered ? "" : ": " + reason);
  }
};

SpoolWatcher::SpoolWatcher(fs::path dir, IngestQueue& queue, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(dir), queue, router)) {}
SpoolWatcher::~SpoolWatcher() { impl_->stop(); }
void SpoolWatcher::start() { impl_->start(); }
void SpoolWatcher::stop() { impl_->stop(); }
void SpoolWatcher::on_final(const IngestStatus& status) { impl_->on_final(status); }

std::vector<fs::path> erase_spool_caller(const fs::path& spool_dir, std::string_view caller_number, bool dry_run) {
  std::vector<fs::path> erased;
  for (const auto* folder : {"incoming", "done", "failed"}) {
    const fs::path dir = spool_dir / folder;
    std::error_code listing, ignored;
    for (const auto& entry : fs::directory_iterator(dir, listing)) {
      const fs::path& metadata = entry.path();
      if (metadata.extension() != ".json" || fs::file_size(metadata, ignored) > kMaxMetadataBytes) continue;
      nlohmann::json json;
      try {
        json = nlohmann::json::parse(read_file(metadata), nullptr, false);
      } catch (const IoError&) {
        continue;  // moved by the server meanwhile: found in done/ or failed/
      }
      const auto from = json.is_object() ? json.find("from") : json.end();
      if (from == json.end() || !from->is_string() || from->get<std::string>() != caller_number) continue;
      fs::path file = metadata;
      file.replace_extension();
      erased.push_back(file);
      if (dry_run) continue;
      for (const auto& path : {file, metadata, fs::path(file.string() + ".error")}) fs::remove(path, ignored);
    }
    if (!dry_run && !listing) fsync_directory(dir);
  }
  return erased;
}

}  // namespace umstore::ingest
