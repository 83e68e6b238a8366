#include "webhook_post.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <istream>
#include <ostream>

namespace umstore::ingest {

std::optional<std::string> post_json(std::string_view url, std::string_view body, std::chrono::milliseconds timeout) {
  try {
    const Poco::URI uri{std::string(url)};
    if (uri.getScheme() != "http") return "only http:// callback URLs are supported: " + std::string(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.set("User-Agent", "umstore");
    request.setKeepAlive(false);
    session.sendRequest(request).write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    // Read a bounded amount so the connection closes cleanly; the body is not used.
    char sink[4096];
    in.read(sink, sizeof sink);
    const int status = static_cast<int>(response.getStatus());
    if (status / 100 == 2) return std::nullopt;
    return "HTTP " + std::to_string(status) + " " + response.getReason();
  } catch (const Poco::Exception& e) {
    return e.displayText();
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

}  // namespace umstore::ingest
