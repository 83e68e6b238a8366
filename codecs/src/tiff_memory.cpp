#include "tiff_memory.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>

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

// The procs libtiff calls with the handle's Memory.
template <typename Memory>
tmsize_t read_proc(thandle_t handle, void* destination, tmsize_t count) {
  auto* memory = static_cast<Memory*>(handle);
  const std::uint64_t size = memory->bytes.size();
  if (count <= 0 || memory->position >= size) return 0;
  const auto n = static_cast<tmsize_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(count), size - memory->position));
  std::memcpy(destination, memory->bytes.data() + memory->position, static_cast<std::size_t>(n));
  memory->position += static_cast<std::uint64_t>(n);
  return n;
}

template <typename Memory>
toff_t seek_proc(thandle_t handle, toff_t offset, int whence) {
  auto* memory = static_cast<Memory*>(handle);
  std::uint64_t base = 0;
  if (whence == SEEK_CUR) base = memory->position;
  if (whence == SEEK_END) base = memory->bytes.size();
  memory->position = base + offset;
  return memory->position;
}

template <typename Memory>
toff_t size_proc(thandle_t handle) {
  return static_cast<Memory*>(handle)->bytes.size();
}

template <typename Memory>
tmsize_t write_proc(thandle_t handle, void* source, tmsize_t count) {
  if constexpr (std::is_same_v<Memory, TiffInput>) {
    return -1;
  } else {
    auto* buffer = static_cast<TiffOutput*>(handle);
    if (count <= 0) return 0;
    const std::uint64_t end = buffer->position + static_cast<std::uint64_t>(count);
    if (end > (std::uint64_t{1} << 32)) return -1;  // classic TIFF offsets are 32-bit
    if (end > buffer->bytes.size()) buffer->bytes.resize(end);
    std::memcpy(buffer->bytes.data() + buffer->position, source, static_cast<std::size_t>(count));
    buffer->position = end;
    return count;
  }
}

int no_close(thandle_t) { return 0; }
int no_map(thandle_t, void**, toff_t*) { return 0; }
void no_unmap(thandle_t, void*, toff_t) {}

std::string with_libtiff_detail(std::string_view name, std::string_view problem, const TiffDiagnostics& diagnostics) {
  std::string message = std::string(name) + ": TIFF: " + std::string(problem);
  if (!diagnostics.first_error.empty()) message += " (libtiff: " + diagnostics.first_error + ")";
  return message;
}

}  // namespace

template <typename Memory>
MemoryTiff<Memory>::MemoryTiff(Memory memory, std::string_view name, const char* mode, std::string_view failure)
    : memory_(std::move(memory)), name_(name) {
  const auto options = make_options(diagnostics_);
  tiff_ = TIFFClientOpenExt(name_.c_str(), mode, &memory_, read_proc<Memory>, write_proc<Memory>, seek_proc<Memory>,
                            no_close, size_proc<Memory>, no_map, no_unmap, options.get());
  if (!tiff_) fail(failure);
}

template <typename Memory>
MemoryTiff<Memory>::~MemoryTiff() {
  if (tiff_) TIFFClose(tiff_);
}

template <typename Memory>
void MemoryTiff<Memory>::fail(std::string_view problem) const {
  throw CodecError(with_libtiff_detail(name_, problem, diagnostics_));
}

template class MemoryTiff<TiffInput>;
template class MemoryTiff<TiffOutput>;

// "m": the procs serve memory directly, so libtiff must not try to map a file.
MemoryTiffReader::MemoryTiffReader(std::span<const std::uint8_t> bytes, std::string_view name)
    : MemoryTiff(TiffInput{bytes, 0}, name, "rm", "cannot read the header or first directory") {}

MemoryTiffWriter::MemoryTiffWriter(std::string_view name)
    : MemoryTiff(TiffOutput{}, name, "wl", "cannot create an in-memory TIFF") {}

std::vector<std::uint8_t> MemoryTiffWriter::finish() {
  const int flushed = TIFFFlush(tiff_);
  TIFFClose(tiff_);
  tiff_ = nullptr;
  if (!flushed || !diagnostics_.first_error.empty()) fail("writing failed");
  return std::move(memory_.bytes);
}

}  // namespace umstore::codecs::detail
