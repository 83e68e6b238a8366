#pragma once
// The HTTP API for faxes (POST /v1/fax-out, GET /v1/fax-out/{id}), for
// applications holding a gateway token: the same outbox, policy and queue
// as faxes from email; the status instead of a DSN.
#include <string>
#include <string_view>

#include "faxout/fax_outbox.hpp"
#include "http/message.hpp"

namespace umstore::faxout {

// `path` starts with /v1/fax-out; `gateway` is whose token the request
// carried. Runs on a blocking thread (renders, fsyncs).
http::Response handle_fax_out_request(const http::Request& request, std::string_view path, const std::string& gateway,
                                      Outbox& outbox);

}  // namespace umstore::faxout
