#pragma once
// Reading recordings: a whole file straight into the byte vector a
// Recording keeps (they are megabytes: no intermediate string), or only
// the start of one.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace umstore::ingest {

// Throws IoError (names the file).
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);
// At most the first `max_bytes` (a magic number). Throws IoError.
std::string read_file_head(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace umstore::ingest
