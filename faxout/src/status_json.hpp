#pragma once
// What a fax job says to the application that asked for it: the body of
// GET /v1/fax-out/{id} and of the webhook when it ends.
#include <nlohmann/json.hpp>

#include "faxout/fax_jobs.hpp"

namespace umstore::faxout {

nlohmann::json status_json(const FaxJob& job);

}  // namespace umstore::faxout
