#pragma once
// What a gateway says about a recording (the same fields in a spool .json,
// an HTTP form or X-Umstore-* headers), validated once for all of them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "ingest/pipeline.hpp"

namespace umstore::ingest {

struct Route;

struct RecordingMetadata {
  std::string to;                    // the called number as the gateway wrote it
  std::string from;                  // calling number (E.164, national or extension), empty when withheld
  std::string caller_name;
  std::optional<std::chrono::system_clock::time_point> received_at;
  std::optional<Kind> kind;          // spool only: "voice" or "fax"
  std::string id;                    // spool only: the gateway's own id, used as idempotency key
};

class InvalidMetadata : public std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Fields: to (required), from, caller_name, received_at (RFC 3339 or Unix
// seconds), kind, id; every string at most 1 KiB. Throws InvalidMetadata.
RecordingMetadata parse_metadata(const nlohmann::json& fields);

// "2024-05-01T10:00:00Z", "2024-05-01T12:00:00+02:00", "1714557600".
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text);

// Why the bytes cannot be a recording of this kind (by their magic number),
// or nullopt when they look right.
std::optional<std::string> unsupported_format(Kind kind, std::string_view bytes);

Recording make_recording(Kind kind, const RecordingMetadata& metadata, const Route& route, std::string file_name,
                         std::string_view file);

}  // namespace umstore::ingest
