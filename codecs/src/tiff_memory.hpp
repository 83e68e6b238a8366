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

// What libtiff reads from and writes to: a caller-owned span to read, or a
// growable buffer to write, with the position libtiff seeks to.
struct TiffInput {
  std::span<const std::uint8_t> bytes;
  std::uint64_t position = 0;
};
struct TiffOutput {
  std::vector<std::uint8_t> bytes;
  std::uint64_t position = 0;
};

// A libtiff handle over Memory (TiffInput or TiffOutput), closed before the
// memory goes.
template <typename Memory>
class MemoryTiff {
 public:
  ~MemoryTiff();
  MemoryTiff(const MemoryTiff&) = delete;
  MemoryTiff& operator=(const MemoryTiff&) = delete;

  TIFF* get() const { return tiff_; }
  const TiffDiagnostics& diagnostics() const { return diagnostics_; }
  // "<name>: TIFF: <problem> (libtiff: <first error>)"
  [[noreturn]] void fail(std::string_view problem) const;

 protected:
  // Opens with TIFFClientOpen's `mode`; throws CodecError saying `failure` if libtiff cannot.
  MemoryTiff(Memory memory, std::string_view name, const char* mode, std::string_view failure);

  Memory memory_;
  TiffDiagnostics diagnostics_;
  TIFF* tiff_ = nullptr;

 private:
  std::string name_;
};

// Read-only TIFF over a caller-owned span. Throws CodecError if libtiff cannot
// read the header and first directory.
class MemoryTiffReader : public MemoryTiff<TiffInput> {
 public:
  MemoryTiffReader(std::span<const std::uint8_t> bytes, std::string_view name);
};

// Write-only TIFF into a growable buffer; finish() closes it and returns the bytes.
class MemoryTiffWriter : public MemoryTiff<TiffOutput> {
 public:
  explicit MemoryTiffWriter(std::string_view name);
  std::vector<std::uint8_t> finish();
};

// Bytes cap for any single allocation libtiff makes on our behalf.
inline constexpr tmsize_t max_single_allocation = 256 << 20;

}  // namespace umstore::codecs::detail
