#include "tiff_memory.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>

#include "codecs/audio.hpp"

namespace umstore::codecs::detail {
namespace {

std::string format_message(const char* module, const char* format, va_list args) {
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  std::string message = module && *module ? std::string(module) + ": " : std::string();
  return message + text;
}

// Returning 1 stops libtiff from also calling the process-wide handlers.
int record_error(TIFF*, void* user, const char* module, const char* format, va_list args) {
  auto* diagnostics = static_cast<TiffDiagnostics*>(user);
  if (diagnostics->first_error.empty()) diagnostics->first_error = format_message(module, format, args);
  return 1;
}

int record_warning(TIFF*, void* user, const char* module, const char* format, va_list args) {
  auto* diagnostics = static_cast<TiffDiagnostics*>(user);
  if (diagnostics->warnings.size() < 64) diagnostics->warnings.push_back(format_message(module, format, args));
  return 1;
}

struct OptionsFree {
  void operator()(TIFFOpenOptions* options) const { TIFFOpenOptionsFree(options); }
};

std::unique_ptr<TIFFOpenOptions, OptionsFree> make_options(TiffDiagnostics& diagnostics) {
  std::unique_ptr<TIFFOpenOptions, OptionsFree> options(TIFFOpenOptionsAlloc());
  if (!options) throw CodecError("TIFF: out of memory");
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), record_error, &diagnostics);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), record_warning, &diagnostics);
  TIFFOpenOptionsSetMaxSingleMemAlloc(options.get(), max_single_allocation);
  return options;
}

toff_t seek_to(std::uint64_t& position, std::uint64_t size, toff_t offset, int whence) {
  std::uint64_t base = 0;
  if (whence == SEEK_CUR) base = position;
  if (whence == SEEK_END) base = size;
  position = base + offset;
  return position;
}

// Reader procs.
tmsize_t reader_read(thandle_t handle, void* destination, tmsize_t count) {
  auto* cursor = static_cast<MemoryTiffReader::Cursor*>(handle);
  const std::uint64_t size = cursor->bytes.size();
  if (count <= 0 || cursor->position >= size) return 0;
  const auto n = static_cast<tmsize_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(count), size - cursor->position));
  std::memcpy(destination, cursor->bytes.data() + cursor->position, static_cast<std::size_t>(n));
  cursor->position += static_cast<std::uint64_t>(n);
  return n;
}
tmsize_t reader_write(thandle_t, void*, tmsize_t) { return -1; }
toff_t reader_seek(thandle_t handle, toff_t offset, int whence) {
  auto* cursor = static_cast<MemoryTiffReader::Cursor*>(handle);
  return seek_to(cursor->position, cursor->bytes.size(), offset, whence);
}
toff_t reader_size(thandle_t handle) { return static_cast<MemoryTiffReader::Cursor*>(handle)->bytes.size(); }

// Writer procs.
tmsize_t writer_read(thandle_t handle, void* destination, tmsize_t count) {
  auto* buffer = static_cast<MemoryTiffWriter::Buffer*>(handle);
  const std::uint64_t size = buffer->bytes.size();
  if (count <= 0 || buffer->position >= size) return 0;
  const auto n = static_cast<tmsize_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(count), size - buffer->position));
  std::memcpy(destination, buffer->bytes.data() + buffer->position, static_cast<std::size_t>(n));
  buffer->position += static_cast<std::uint64_t>(n);
  return n;
}
tmsize_t writer_write(thandle_t handle, void* source, tmsize_t count) {
  auto* buffer = static_cast<MemoryTiffWriter::Buffer*>(handle);
  if (count <= 0) return 0;
  const std::uint64_t end = buffer->position + static_cast<std::uint64_t>(count);
  if (end > (std::uint64_t{1} << 32)) return -1;  // classic TIFF offsets are 32-bit
  if (end > buffer->bytes.size()) buffer->bytes.resize(end);
  std::memcpy(buffer->bytes.data() + buffer->position, source, static_cast<std::size_t>(count));
  buffer->position = end;
  return count;
}
toff_t writer_seek(thandle_t handle, toff_t offset, int whence) {
  auto* buffer = static_cast<MemoryTiffWriter::Buffer*>(handle);
  return seek_to(buffer->position, buffer->bytes.size(), offset, whence);
}
toff_t writer_size(thandle_t handle) { return static_cast<MemoryTiffWriter::Buffer*>(handle)->bytes.size(); }

int no_close(thandle_t) { return 0; }
int no_map(thandle_t, void**, toff_t*) { return 0; }
void no_unmap(thandle_t, void*, toff_t) {}

std::string with_libtiff_detail(std::string_view name, std::string_view problem, const TiffDiagnostics& diagnostics) {
  std::string message = std::string(name) + ": TIFF: " + std::string(problem);
  if (!diagnostics.first_error.empty()) message += " (libtiff: " + diagnostics.first_error + ")";
  return message;
}

}  // namespace

MemoryTiffReader::MemoryTiffReader(std::span<const std::uint8_t> bytes, std::string_view name)
    : cursor_{bytes, 0}, name_(name) {
  const auto options = make_options(diagnostics_);
  // "m": the procs serve memory directly, so libtiff must not try to map a file.
  tiff_ = TIFFClientOpenExt(name_.c_str(), "rm", &cursor_, reader_read, reader_write, reader_seek, no_close,
                            reader_size, no_map, no_unmap, options.get());
  if (!tiff_) fail("cannot read the header or first directory");
}

MemoryTiffReader::~MemoryTiffReader() {
  if (tiff_) TIFFClose(tiff_);
}

void MemoryTiffReader::fail(std::string_view problem) const {
  throw CodecError(with_libtiff_detail(name_, problem, diagnostics_));
}

MemoryTiffWriter::MemoryTiffWriter(std::string_view name) : name_(name) {
  const auto options = make_options(diagnostics_);
  tiff_ = TIFFClientOpenExt(name_.c_str(), "wl", &buffer_, writer_read, writer_write, writer_seek, no_close,
                            writer_size, no_map, no_unmap, options.get());
  if (!tiff_) fail("cannot create an in-memory TIFF");
}

MemoryTiffWriter::~MemoryTiffWriter() {
  if (tiff_) TIFFClose(tiff_);
}

void MemoryTiffWriter::fail(std::string_view problem) const {
  throw CodecError(with_libtiff_detail(name_, problem, diagnostics_));
}

std::vector<std::uint8_t> MemoryTiffWriter::finish() {
  const int flushed = TIFFFlush(tiff_);
  TIFFClose(tiff_);
  tiff_ = nullptr;
  if (!flushed || !diagnostics_.first_error.empty()) fail("writing failed");
  return std::move(buffer_.bytes);
}

}  // namespace umstore::codecs::detail
