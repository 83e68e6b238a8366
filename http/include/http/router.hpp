#pragma once
// Requests to handlers by method and path. A pattern is a path whose
// segments are literal or "{}" (any one segment, handed to the handler
// percent-decoded, in order): "/api/mailboxes/{}/messages".
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace umstore::http {

using PathParams = std::vector<std::string>;

template <typename Handler>
class Router {
 public:
  void add(std::string method, std::string_view pattern, Handler handler) {
    routes_.push_back({std::move(method), split(pattern), std::move(handler)});
  }

  struct Match {
    const Handler* handler = nullptr;  // null: `status` says why (404 no such path, 405 not with this method)
    PathParams params;
    int status = 404;
  };

  Match match(std::string_view method, std::string_view path) const {
    const auto segments = split(path);
    Match result;
    for (const auto& route : routes_) {
      PathParams params;
      if (!matches(route.segments, segments, params)) continue;
      if (route.method != method && !(method == "HEAD" && route.method == "GET")) {
        result.status = 405;
        continue;
      }
      return {&route.handler, std::move(params), 200};
    }
    return result;
  }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };

  static std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    while (!path.empty()) {
      if (path.front() == '/') {
        path.remove_prefix(1);
        continue;
      }
      const auto slash = path.find('/');
      out.emplace_back(path.substr(0, slash));
      if (slash == std::string_view::npos) break;
      path.remove_prefix(slash);
    }
    return out;
  }

  static bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& segments, PathParams& params) {
    if (pattern.size() != segments.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == "{}")
        params.push_back(percent_decode(segments[i]));
      else if (pattern[i] != segments[i])
        return false;
    }
    return true;
  }

  std::vector<Route> routes_;
};

}  // namespace umstore::http
