#pragma once
// libtiff over memory buffers, with per-handle error capture (libtiff >= 4.5
// TIFFOpenOptions handlers), so no global handler is touched and concurrent
// callers never see each other's messages.
#include <tiffio.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::codecs::detail {

// What libtiff said while a handle was open.
struct TiffDiagnostics {
  std::string first_error;
  std::vector<std::string> warnings;
};

// Read-only TIFF over a caller-owned span. Throws CodecError if libtiff cannot
// read the header and first directory.
class MemoryTiffReader {
 public:
  MemoryTiffReader(std::span<const std::uint8_t> bytes, std::string_view name);
  ~MemoryTiffReader();
  MemoryTiffReader(const MemoryTiffReader&) = delete;
  MemoryTiffReader& operator=(const MemoryTiffReader&) = delete;

  TIFF* get() const { return tiff_; }
  const TiffDiagnostics& diagnostics() const { return diagnostics_; }
  // "<name>: TIFF: <problem> (libtiff: <first error>)"
  [[noreturn]] void fail(std::string_view problem) const;

  struct Cursor {
    std::span<const std::uint8_t> bytes;
    std::uint64_t position = 0;
  };

 private:
  Cursor cursor_;
  std::string name_;
  TiffDiagnostics diagnostics_;
  TIFF* tiff_ = nullptr;
};

// Write-only TIFF into a growable buffer; finish() closes it and returns the bytes.
class MemoryTiffWriter {
 public:
  explicit MemoryTiffWriter(std::string_view name);
  ~MemoryTiffWriter();
  MemoryTiffWriter(const MemoryTiffWriter&) = delete;
  MemoryTiffWriter& operator=(const MemoryTiffWriter&) = delete;

  TIFF* get() const { return tiff_; }
  [[noreturn]] void fail(std::string_view problem) const;
  std::vector<std::uint8_t> finish();

  struct Buffer {
    std::vector<std::uint8_t> bytes;
    std::uint64_t position = 0;
  };

 private:
  Buffer buffer_;
  std::string name_;
  TiffDiagnostics diagnostics_;
  TIFF* tiff_ = nullptr;
};

// Bytes cap for any single allocation libtiff makes on our behalf.
inline constexpr tmsize_t max_single_allocation = 256 << 20;

}  // namespace umstore::codecs::detail
