// Faxes sent from mail: SipServer::send_fax() (the TIFF checked on a
// worker, the call placed on the strand as an OutboundCall), what a gateway
// URI names, and how the ways a call ends count for the queue.
#include <fstream>

#include "codecs/fax.hpp"
#include "common/ascii.hpp"
#include "outbound_call.hpp"
#include "sip_message.hpp"

namespace umstore::sip {

std::optional<GatewayAddress> parse_gateway_uri(std::string_view uri) {
  GatewayAddress out;
  if (ascii_istarts_with(uri, "sips:")) {
    out.sips = out.tls = out.tcp = true;
    out.port = 5061;
    uri.remove_prefix(5);
  } else if (ascii_istarts_with(uri, "sip:")) {
    uri.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto params_at = uri.find(';');
  std::string_view params = params_at == std::string_view::npos ? std::string_view() : uri.substr(params_at);
  uri = uri.substr(0, params_at);
  if (const auto at = uri.find('@'); at != std::string_view::npos) uri.remove_prefix(at + 1);
  std::string_view port;
  if (uri.starts_with('[')) {
    const auto close = uri.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(uri.substr(1, close - 1));
    if (close + 1 < uri.size() && uri[close + 1] == ':') port = uri.substr(close + 2);
  } else {
    const auto colon = uri.find(':');
    out.host = std::string(uri.substr(0, colon));
    if (colon != std::string_view::npos) port = uri.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  if (!port.empty()) {
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
      if (value > 65535) return std::nullopt;
    }
    if (value == 0) return std::nullopt;
    out.port = static_cast<std::uint16_t>(value);
    out.port_given = true;
  }
  const auto lower = ascii_lower(params);
  if (lower.find(";transport=tls") != std::string::npos) {
    out.tls = out.tcp = true;
    if (!out.port_given) out.port = 5061;
  } else if (lower.find(";transport=tcp") != std::string::npos) {
    out.tcp = true;
  } else if (lower.find(";transport=") != std::string::npos && lower.find(";transport=udp") == std::string::npos) {
    return std::nullopt;  // sctp, ws: not ours
  }
  if (out.sips && lower.find(";transport=") != std::string::npos && lower.find(";transport=tls") == std::string::npos)
    return std::nullopt;  // sips: over UDP or TCP
  return out;
}

std::optional<std::string> gateway_srv_name(std::string_view uri) {
  const auto address = parse_gateway_uri(uri);
  if (!address || address->port_given) return std::nullopt;
  asio::error_code ec;
  (void)asio::ip::make_address(address->host, ec);
  if (!ec) return std::nullopt;  // an IP address: nothing to look up
  return std::string(address->tls ? "_sips._tcp." : address->tcp ? "_sip._tcp." : "_sip._udp.") + address->host;
}

FaxCallOutcome outcome_of_status(int status) {
  switch (status) {
    case 486: case 600: return FaxCallOutcome::busy;
    case 408: case 480: case 487: return FaxCallOutcome::no_answer;
    case 503: return FaxCallOutcome::unreachable;
    default: return FaxCallOutcome::refused;
  }
}

std::string_view to_string(FaxCallOutcome outcome) {
  switch (outcome) {
    case FaxCallOutcome::sent: return "sent";
    case FaxCallOutcome::busy: return "busy";
    case FaxCallOutcome::no_answer: return "no_answer";
    case FaxCallOutcome::refused: return "refused";
    case FaxCallOutcome::t30_failed: return "t30_failed";
    case FaxCallOutcome::unreachable: return "unreachable";
  }
  return "unknown";
}

bool FaxCallResult::retry_may_help() const { return outcome != FaxCallOutcome::refused && outcome != FaxCallOutcome::sent; }

// ---- placing the call ----------------------------------------------------

void SipEndpoint::dial_fax(OutboundFax fax, FaxGateway gateway, std::function<void(FaxCallResult)> done,
                           unsigned pages_total) {
  auto call = std::make_shared<OutboundCall>(shared_from_this(), std::move(fax), std::move(gateway), std::move(done),
                                             pages_total);
  if (stopped) return call->finish(FaxCallOutcome::unreachable, "stopped");
  if (calls.size() + outbound.size() >= config.max_calls)
    return call->finish(FaxCallOutcome::busy,
                        "this endpoint already has " + std::to_string(config.max_calls) + " calls ([sip] max_calls)");
  outbound.emplace(call->call_id, call);
  count_calls();
  call->start();
}

void SipServer::send_fax(OutboundFax fax, FaxGateway gateway, std::function<void(FaxCallResult)> done) {
  // The TIFF is read on a worker: its pages are counted and a bad file is
  // refused before any call is placed.
  asio::post(endpoint_->workers, [endpoint = endpoint_, fax = std::move(fax), gateway = std::move(gateway),
                                  done = std::move(done)]() mutable {
    unsigned pages = 0;
    try {
      std::ifstream in(fax.tiff, std::ios::binary);
      if (!in) throw std::runtime_error("cannot open it");
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      pages = static_cast<unsigned>(
          codecs::inspect_tiff(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
                               fax.tiff.filename().string())
              .pages.size());
      if (pages == 0) throw std::runtime_error("it has no pages");
    } catch (const std::exception& e) {
      FaxCallResult r;
      r.outcome = FaxCallOutcome::refused;
      r.sip_reason = "cannot read the TIFF " + fax.tiff.string() + ": " + e.what();
      return done(std::move(r));
    }
    asio::post(endpoint->strand, [endpoint, fax = std::move(fax), gateway = std::move(gateway),
                                  done = std::move(done), pages]() mutable {
      endpoint->dial_fax(std::move(fax), std::move(gateway), std::move(done), pages);
    });
  });
}

}  // namespace umstore::sip
