#pragma once
// What a fax job says about itself: the body of GET /v1/fax-out/{id} and of
// the webhook when it ends, and (with who sent it) of the admin API's view.
#include <nlohmann/json.hpp>

#include "faxout/fax_jobs.hpp"

namespace umstore::faxout {

nlohmann::json status_json(const FaxJob& job);

}  // namespace umstore::faxout
