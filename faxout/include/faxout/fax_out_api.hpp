#pragma once
// The HTTP API for faxes (POST /v1/fax-out, GET /v1/fax-out/{id}), for
// applications holding a gateway token: the same outbox, policy and queue
// as faxes from email; the status instead of a DSN, and POSTed to the
// request's callback_url (else the gateway's [webhooks] URL) when it ends.
#include <string>
#include <string_view>

#include "faxout/fax_outbox.hpp"
#include "http/message.hpp"

namespace umstore::faxout {

// `path` starts with /v1/fax-out; `gateway` is whose token the request
// carried, `gateway_callback` its webhook URL when the request names none
// (may be empty). Runs on a blocking thread (renders, fsyncs).
http::Response handle_fax_out_request(const http::Request& request, std::string_view path, const std::string& gateway,
                                      std::string_view gateway_callback, Outbox& outbox);

}  // namespace umstore::faxout
