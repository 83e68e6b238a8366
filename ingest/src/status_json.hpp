#pragma once
// The JSON form of a job's status: GET /v1/messages/{id} and webhook bodies.
#include <nlohmann/json.hpp>

#include "ingest/ingest_queue.hpp"

namespace umstore::ingest {

nlohmann::json status_json(const IngestStatus& status);

}  // namespace umstore::ingest
