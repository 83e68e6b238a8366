#include "privacy/mailbox_export.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/durable_file.hpp"
#include "mime/message_summary.hpp"

namespace umstore::privacy {
namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_write_free)>;

// IMAP names use "/" for hierarchy; "." and ".." segments (which the store
// refuses anyway) must never climb out of the archive's root.
std::string archive_path(std::string_view folder) {
  std::string out;
  std::size_t start = 0;
  while (start <= folder.size()) {
    auto slash = folder.find('/', start);
    if (slash == std::string_view::npos) slash = folder.size();
    std::string segment(folder.substr(start, slash - start));
    if (segment.empty() || segment == "." || segment == "..") segment = "_" + segment + "_";
    out += (out.empty() ? "" : "/") + segment;
    start = slash + 1;
  }
  return out;
}

nlohmann::json flag_names(const mailstore::MessageInfo& info) {
  nlohmann::json flags = nlohmann::json::array();
  const std::pair<mailstore::Flag, const char*> names[] = {{mailstore::kSeen, "\\Seen"}, {mailstore::kAnswered, "\\Answered"},
                                                           {mailstore::kFlagged, "\\Flagged"}, {mailstore::kDeleted, "\\Deleted"},
                                                           {mailstore::kDraft, "\\Draft"}};
  for (const auto& [flag, name] : names)
    if (info.flags & flag) flags.push_back(name);
  for (const auto& keyword : info.keywords) flags.push_back(keyword);
  return flags;
}

class ArchiveFile {
 public:
  ArchiveFile(int fd, ArchiveFormat format, const std::filesystem::path& for_errors)
      : archive_(archive_write_new(), &archive_write_free), name_(for_errors) {
    check(format == ArchiveFormat::Zip ? archive_write_set_format_zip(archive_.get())
                                       : archive_write_set_format_pax_restricted(archive_.get()));
    if (format == ArchiveFormat::TarGz) check(archive_write_add_filter_gzip(archive_.get()));
    check(archive_write_open_fd(archive_.get(), fd));
  }

  void add(const std::string& path, std::string_view data, std::int64_t mtime) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), &archive_entry_free);
    archive_entry_set_pathname(entry.get(), path.c_str());
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0600);
    archive_entry_set_mtime(entry.get(), mtime, 0);
    check(archive_write_header(archive_.get(), entry.get()));
    if (archive_write_data(archive_.get(), data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
      check(ARCHIVE_FATAL);
  }

  void finish() { check(archive_write_close(archive_.get())); }

 private:
  void check(int rc) const {
    if (rc != ARCHIVE_OK)
      throw std::runtime_error("cannot write " + name_.string() + ": " +
                               (archive_error_string(archive_.get()) ? archive_error_string(archive_.get()) : "libarchive error"));
  }

  ArchivePtr archive_;
  std::filesystem::path name_;
};

}  // namespace

ArchiveFormat archive_format_for(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  if (name.ends_with(".zip")) return ArchiveFormat::Zip;
  if (name.ends_with(".tar.gz") || name.ends_with(".tgz")) return ArchiveFormat::TarGz;
  return ArchiveFormat::Tar;
}

ExportCounts write_mailbox_archive(mailstore::UserMailbox& mailbox, int fd, ArchiveFormat format,
                                   const std::filesystem::path& for_errors) {
  ArchiveFile out(fd, format, for_errors);
  ExportCounts counts;
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& entry : mailbox.list()) {
    mailstore::FolderPtr folder;
    try {
      folder = mailbox.open(entry.name);
    } catch (const mailstore::FolderNotFound&) {
      continue;
    }
    for (const auto& info : folder->snapshot()) {
      const auto data = folder->open_message(info.uid);
      if (!data) continue;  // expunged meanwhile
      const std::string path = "messages/" + archive_path(entry.name) + "/" + std::to_string(info.uid) + ".eml";
      out.add(path, data->bytes(), info.internal_date);
      const auto summary = mime::summarise_message(data->bytes());
      nlohmann::json item = {{"file", path},        {"folder", entry.name},          {"uid", info.uid},
                             {"flags", flag_names(info)}, {"internal_date", info.internal_date},
                             {"size", info.size},   {"kind", summary.kind},          {"caller", summary.caller},
                             {"caller_name", summary.caller_name}, {"date", summary.date},
                             {"subject", summary.subject}};
      if (summary.seconds) item["duration_seconds"] = *summary.seconds;
      if (summary.pages) item["pages"] = *summary.pages;
      messages.push_back(std::move(item));
      ++counts.messages;
      counts.bytes += data->bytes().size();
    }
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const nlohmann::json manifest = {{"mailbox", mailbox.number()}, {"exported_at", now}, {"messages", std::move(messages)}};
  out.add("manifest.json", manifest.dump(2) + "\n", now);
  out.finish();
  return counts;
}

ExportCounts export_mailbox(mailstore::UserMailbox& mailbox, const std::filesystem::path& file) {
  std::filesystem::path partial = file;
  partial += ".partial";
  const UniqueFd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw std::runtime_error("cannot create " + partial.string() + ": " + std::strerror(errno));
  const auto counts = write_mailbox_archive(mailbox, fd.get(), archive_format_for(file), partial);
  fsync_fd(fd.get(), partial);
  std::filesystem::rename(partial, file);
  fsync_directory(file.has_parent_path() ? file.parent_path() : std::filesystem::path("."));
  return counts;
}

}  // namespace umstore::privacy
