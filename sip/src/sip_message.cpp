#include "sip_message.hpp"
#include "common/ascii.hpp"

#include <osipparser2/osip_parser.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace umstore::sip {
namespace {

// osip's to_str functions hand back malloc'ed strings.
std::string take_osip_string(char* s) {
  if (!s) return {};
  std::string out(s);
  osip_free(s);
  return out;
}

std::string or_empty(const char* s) { return s ? std::string(s) : std::string(); }

std::string uri_text(osip_uri_t* uri) {
  if (!uri) return {};
  char* s = nullptr;
  if (osip_uri_to_str(uri, &s) != 0) return {};
  return take_osip_string(s);
}

NameAddr name_addr_of(osip_from_t* f) {
  NameAddr out;
  if (!f) return out;
  out.display_name = or_empty(f->displayname);
  if (out.display_name.size() >= 2 && out.display_name.front() == '"' && out.display_name.back() == '"')
    out.display_name = out.display_name.substr(1, out.display_name.size() - 2);
  if (f->url) {
    out.uri = uri_text(f->url);
    out.user = or_empty(f->url->username);
    // tel:+15550100 keeps the number in the "host" slot for osip.
    if (out.user.empty() && f->url->scheme && osip_strcasecmp(f->url->scheme, "tel") == 0)
      out.user = or_empty(f->url->string ? f->url->string : f->url->host);
  }
  osip_generic_param_t* tag = nullptr;
  if (osip_from_get_tag(f, &tag) == 0 && tag) out.tag = or_empty(tag->gvalue);
  return out;
}

void init_parser_once() {
  static std::once_flag once;
  std::call_once(once, [] { parser_init(); });
}

}  // namespace

void SipMessage::Free::operator()(osip_message* m) const noexcept { osip_message_free(m); }

std::vector<std::string> split_header_list(std::string_view value) {
  std::vector<std::string> out;
  bool quoted = false;
  int angle = 0;
  std::string current;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '"' && (i == 0 || value[i - 1] != '\\')) quoted = !quoted;
    if (!quoted && c == '<') ++angle;
    if (!quoted && c == '>' && angle > 0) --angle;
    if (c == ',' && !quoted && angle == 0) {
      out.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  out.push_back(current);
  for (auto& s : out) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  }
  std::erase_if(out, [](const std::string& s) { return s.empty(); });
  return out;
}

std::optional<NameAddr> parse_name_addr(std::string_view value) {
  init_parser_once();
  osip_from_t* f = nullptr;
  if (osip_from_init(&f) != 0) return std::nullopt;
  const std::string text(value);
  std::optional<NameAddr> out;
  if (osip_from_parse(f, text.c_str()) == 0) out = name_addr_of(f);
  osip_from_free(f);
  return out;
}

std::optional<SipMessage> SipMessage::parse(std::string_view datagram) {
  init_parser_once();
  osip_message_t* m = nullptr;
  if (osip_message_init(&m) != 0) return std::nullopt;
  SipMessage msg(m);
  if (osip_message_parse(m, datagram.data(), datagram.size()) != 0) return std::nullopt;
  if (!m->call_id || !m->cseq || !m->cseq->number || !m->cseq->method || !m->from || !m->to ||
      osip_list_size(&m->vias) < 1)
    return std::nullopt;
  if (MSG_IS_REQUEST(m) && (!m->sip_method || !m->req_uri)) return std::nullopt;
  return msg;
}

bool SipMessage::is_request() const { return MSG_IS_REQUEST(msg_.get()); }
std::string SipMessage::method() const { return or_empty(msg_->sip_method); }
int SipMessage::status() const { return msg_->status_code; }

std::string SipMessage::call_id() const {
  char* s = nullptr;
  osip_call_id_to_str(msg_->call_id, &s);
  return take_osip_string(s);
}

std::uint32_t SipMessage::cseq_number() const {
  std::uint32_t n = 0;
  const std::string_view text(msg_->cseq->number);
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

std::string SipMessage::cseq_method() const { return or_empty(msg_->cseq->method); }

std::string SipMessage::via_branch() const {
  auto* via = static_cast<osip_via_t*>(osip_list_get(&msg_->vias, 0));
  osip_generic_param_t* branch = nullptr;
  if (!via || osip_via_param_get_byname(via, const_cast<char*>("branch"), &branch) != 0 || !branch) return {};
  return or_empty(branch->gvalue);
}

std::string SipMessage::request_uri_user() const {
  if (!msg_->req_uri) return {};
  if (msg_->req_uri->username) return msg_->req_uri->username;
  if (msg_->req_uri->scheme && osip_strcasecmp(msg_->req_uri->scheme, "tel") == 0)
    return or_empty(msg_->req_uri->string ? msg_->req_uri->string : msg_->req_uri->host);
  return {};
}

NameAddr SipMessage::from() const { return name_addr_of(msg_->from); }
NameAddr SipMessage::to() const { return name_addr_of(msg_->to); }

std::string SipMessage::from_text() const {
  char* s = nullptr;
  osip_from_to_str(msg_->from, &s);
  return take_osip_string(s);
}

std::string SipMessage::to_text() const {
  char* s = nullptr;
  osip_to_to_str(msg_->to, &s);
  return take_osip_string(s);
}

std::optional<NameAddr> SipMessage::contact() const {
  auto* c = static_cast<osip_contact_t*>(osip_list_get(&msg_->contacts, 0));
  if (!c) return std::nullopt;
  return name_addr_of(c);
}

namespace {
std::uint16_t port_of(const char* text) {
  std::uint16_t port = 0;
  if (text) std::from_chars(text, text + std::strlen(text), port);
  return port;
}
}  // namespace

std::optional<std::pair<std::string, std::uint16_t>> SipMessage::contact_host_port() const {
  auto* c = static_cast<osip_contact_t*>(osip_list_get(&msg_->contacts, 0));
  if (!c || !c->url || !c->url->host) return std::nullopt;
  return std::pair(std::string(c->url->host), port_of(c->url->port));
}

std::optional<std::pair<std::string, std::uint16_t>> SipMessage::via_sent_by() const {
  auto* via = static_cast<osip_via_t*>(osip_list_get(&msg_->vias, 0));
  if (!via || !via->host) return std::nullopt;
  return std::pair(std::string(via->host), port_of(via->port));
}

std::vector<std::string> SipMessage::record_routes() const {
  std::vector<std::string> out;
  for (int i = 0; i < osip_list_size(&msg_->record_routes); ++i) {
    auto* rr = static_cast<osip_record_route_t*>(osip_list_get(&msg_->record_routes, i));
    char* s = nullptr;
    if (rr && osip_record_route_to_str(rr, &s) == 0) out.push_back(take_osip_string(s));
  }
  return out;
}

std::vector<std::string> SipMessage::header_values(std::string_view name) const {
  std::vector<std::string> out;
  const std::string key(name);
  for (int pos = 0;;) {
    osip_header_t* h = nullptr;
    const int found = osip_message_header_get_byname(msg_.get(), key.c_str(), pos, &h);
    if (found < 0 || !h) break;
    for (auto& v : split_header_list(or_empty(h->hvalue))) out.push_back(std::move(v));
    pos = found + 1;
  }
  return out;
}

std::string SipMessage::header(std::string_view name) const {
  auto values = header_values(name);
  return values.empty() ? std::string() : values.front();
}

std::string SipMessage::authorization() const {
  osip_authorization_t* auth = nullptr;
  if (osip_message_get_authorization(msg_.get(), 0, &auth) < 0 || !auth) return {};
  char* s = nullptr;
  if (osip_authorization_to_str(auth, &s) != 0) return {};
  return take_osip_string(s);
}

std::string SipMessage::reason() const { return or_empty(osip_message_get_reason_phrase(msg_.get())); }

std::vector<std::string> SipMessage::challenges(bool proxy) const {
  std::vector<std::string> out;
  auto* list = proxy ? &msg_->proxy_authenticates : &msg_->www_authenticates;
  for (int i = 0; i < osip_list_size(list); ++i) {
    auto* challenge = static_cast<osip_www_authenticate_t*>(osip_list_get(list, i));
    char* s = nullptr;
    if (challenge && osip_www_authenticate_to_str(challenge, &s) == 0) out.push_back(take_osip_string(s));
  }
  return out;
}

std::string SipMessage::content_type() const {
  const auto* ct = msg_->content_type;
  if (!ct || !ct->type || !ct->subtype) return {};
  std::string out = std::string(ct->type) + "/" + ct->subtype;
  out = ascii_lower(out);
  return out;
}

std::string SipMessage::body() const {
  auto* b = static_cast<osip_body_t*>(osip_list_get(&msg_->bodies, 0));
  if (!b || !b->body) return {};
  return std::string(b->body, b->length);
}

std::string SipMessage::response(int code, std::string_view reason, std::string_view to_tag,
                                 std::string_view extra_headers, std::string_view content_type,
                                 std::string_view body) const {
  std::string out = "SIP/2.0 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  for (int i = 0; i < osip_list_size(&msg_->vias); ++i) {
    char* s = nullptr;
    if (osip_via_to_str(static_cast<osip_via_t*>(osip_list_get(&msg_->vias, i)), &s) == 0)
      out += "Via: " + take_osip_string(s) + "\r\n";
  }
  char* s = nullptr;
  osip_from_to_str(msg_->from, &s);
  out += "From: " + take_osip_string(s) + "\r\n";
  s = nullptr;
  osip_to_to_str(msg_->to, &s);
  out += "To: " + take_osip_string(s);
  if (to().tag.empty() && !to_tag.empty() && code > 100) out += ";tag=" + std::string(to_tag);
  out += "\r\nCall-ID: " + call_id() + "\r\n";
  out += "CSeq: " + std::to_string(cseq_number()) + " " + cseq_method() + "\r\n";
  out += extra_headers;
  if (!content_type.empty()) out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

}  // namespace umstore::sip
