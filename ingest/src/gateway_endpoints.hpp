#pragma once
// The /v1 endpoints and /metrics: plain functions from a request to a
// response, run on a blocking pool because submitting fsyncs.
#include <map>
#include <optional>
#include <string>

#include "ingest/http_api.hpp"

namespace umstore::ingest {

class IngestQueue;
class Router;

struct GatewayContext {
  IngestQueue& queue;
  const Router& router;
  const std::map<std::string, std::string>& tokens;     // bearer token -> gateway name
  const auth::GatewayTokens* issued;                     // issued in the console; may be null
  const std::map<std::string, std::string>& callbacks;  // gateway name -> default webhook URL
  const std::map<std::string, HttpApiConfig::GatewayEndpoint, std::less<>>& more;  // the program's, by path prefix
};

// The gateway a request's bearer token names (configured or issued); nullopt for none or an unknown one.
std::optional<std::string> gateway_for(const HttpRequest& request, const std::map<std::string, std::string>& tokens,
                                       const auth::GatewayTokens* issued);
// 401 with WWW-Authenticate, saying what is missing.
HttpResponse unauthorised(const std::map<std::string, std::string>& tokens, const auth::GatewayTokens* issued);

HttpResponse handle_gateway_request(const HttpRequest& request, std::string_view path, GatewayContext& context);
HttpResponse metrics_response(const IngestQueue& queue);

}  // namespace umstore::ingest
