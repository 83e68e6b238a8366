#include "dns/resolver.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <unbound.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace umstore::dns {

std::string_view to_string(DnsStatus status) {
  switch (status) {
    case DnsStatus::found: return "found";
    case DnsStatus::no_data: return "no data";
    case DnsStatus::nxdomain: return "NXDOMAIN";
    case DnsStatus::temporary_failure: return "temporary failure";
  }
  return "?";
}

// libunbound's context, and who waits for its answers. Any thread may
// send queries; one at a time reads the answers (ub_process) for all of
// them, and the callback wakes the thread each answer belongs to.
struct Resolver::Context {
  ub_ctx* ctx = nullptr;
  std::mutex mutex;
  std::condition_variable answered;
  bool reading = false;  // a thread is in poll/ub_process
  ~Context() {
    if (ctx) ub_ctx_delete(ctx);
  }
};

namespace {

void set_option(ub_ctx* ctx, const char* name, const char* value) {
  if (int rc = ub_ctx_set_option(ctx, name, value); rc != 0) {
    throw std::runtime_error(std::string("DNS resolver option ") + name + " " + value + ": " + ub_strerror(rc));
  }
}

struct Pending {
  std::mutex& mutex;
  std::condition_variable& answered;
  bool done = false;
  int error = 0;
  ub_result* result = nullptr;
};

// Called inside ub_process, by whichever thread reads the answers.
void on_result(void* arg, int error, ub_result* result) {
  auto* pending = static_cast<Pending*>(arg);
  std::lock_guard lock(pending->mutex);
  pending->done = true;
  pending->error = error;
  pending->result = result;
  pending->answered.notify_all();
}

// A domain name in uncompressed wire format at `pos`, advancing `pos`.
std::string read_name(std::string_view rdata, std::size_t& pos) {
  std::string name;
  while (pos < rdata.size()) {
    const auto length = static_cast<unsigned char>(rdata[pos++]);
    if (length == 0) return name;
    if (length > 63 || pos + length > rdata.size()) break;
    if (!name.empty()) name += '.';
    name.append(rdata.substr(pos, length));
    pos += length;
  }
  throw std::runtime_error("malformed domain name in DNS record");
}

std::string read_character_string(std::string_view rdata, std::size_t& pos) {
  if (pos >= rdata.size()) throw std::runtime_error("truncated DNS record");
  const auto length = static_cast<unsigned char>(rdata[pos++]);
  if (pos + length > rdata.size()) throw std::runtime_error("truncated DNS record");
  std::string text(rdata.substr(pos, length));
  pos += length;
  return text;
}

std::uint16_t read_u16(std::string_view rdata, std::size_t& pos) {
  if (pos + 2 > rdata.size()) throw std::runtime_error("truncated DNS record");
  const auto value = static_cast<std::uint16_t>(static_cast<unsigned char>(rdata[pos]) << 8 |
                                                static_cast<unsigned char>(rdata[pos + 1]));
  pos += 2;
  return value;
}

// Maps each RDATA of a found answer; a malformed record is a temporary
// failure (a broken or truncated answer may be right on the next try).
template <class Record, class Parse>
DnsAnswer<Record> map_records(DnsAnswer<std::string>&& raw, Parse parse) {
  DnsAnswer<Record> answer{raw.status, {}, raw.ttl, std::move(raw.error), raw.secure};
  try {
    for (const std::string& rdata : raw.records) answer.records.push_back(parse(std::string_view(rdata)));
  } catch (const std::exception& e) {
    answer = {DnsStatus::temporary_failure, {}, 0, e.what()};
  }
  return answer;
}

}  // namespace

Resolver::Resolver(const DnsConfig& config) : context_(std::make_unique<Context>()), timeout_(config.timeout) {
  context_->ctx = ub_ctx_create();
  if (!context_->ctx) throw std::runtime_error("cannot create the DNS resolver (libunbound)");
  ub_ctx* ctx = context_->ctx;
  // Threads, not a forked worker process: the program may hold locks and fds.
  ub_ctx_async(ctx, 1);
  if (!config.trust_anchor_file.empty()) {
    if (int rc = ub_ctx_add_ta_file(ctx, config.trust_anchor_file.c_str()); rc != 0)
      throw std::runtime_error("DNSSEC trust anchors " + config.trust_anchor_file.string() + ": " + ub_strerror(rc));
  }
  if (config.server.empty()) {
    if (int rc = ub_ctx_resolvconf(ctx, nullptr); rc != 0) {
      throw std::runtime_error(std::string("cannot read /etc/resolv.conf: ") + ub_strerror(rc));
    }
    return;
  }
  const std::string forwarder = config.server + "@" + std::to_string(config.port);
  if (int rc = ub_ctx_set_fwd(ctx, forwarder.c_str()); rc != 0) {
    throw std::runtime_error("DNS server " + forwarder + ": " + ub_strerror(rc));
  }
  // A server on loopback is a deliberate choice here (a local cache or a
  // test server), which libunbound refuses by default.
  set_option(ctx, "do-not-query-localhost:", "no");
  // libunbound answers NXDOMAIN for test. itself (RFC 6761); a configured
  // server is the one to ask, as test setups and private networks use it.
  set_option(ctx, "local-zone:", "test. transparent");
  // Forget a failed server quickly, so a restarted one is used again.
  set_option(ctx, "infra-host-ttl:", "2");
}

Resolver::~Resolver() = default;

DnsAnswer<std::string> Resolver::query(std::string_view name, RrType type) {
  const std::string qname(name);
  Context& context = *context_;
  Pending pending{context.mutex, context.answered};
  int id = 0;
  if (int rc = ub_resolve_async(context.ctx, qname.c_str(), static_cast<int>(type), 1, &pending, on_result, &id);
      rc != 0) {
    return {DnsStatus::temporary_failure, {}, 0, std::string("DNS query failed: ") + ub_strerror(rc)};
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::unique_lock lock(context.mutex);
  while (!pending.done) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      // Cancelled, the callback will not run. Otherwise libunbound has
      // taken the answer off its queue and the callback is about to run:
      // wait for it, `pending` must outlive it.
      if (ub_cancel(context.ctx, id) == UB_NOERROR) {
        return {DnsStatus::temporary_failure, {}, 0,
                "no DNS answer for " + qname + " within " + std::to_string(timeout_.count()) + " ms"};
      }
      context.answered.wait(lock, [&] { return pending.done; });
      break;
    }
    if (context.reading) {
      context.answered.wait_until(lock, deadline);
      continue;
    }
    context.reading = true;
    lock.unlock();
    pollfd fd{ub_fd(context.ctx), POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left.count())) > 0) ub_process(context.ctx);
    lock.lock();
    context.reading = false;
    context.answered.notify_all();  // another waiter takes over reading
  }
  lock.unlock();
  if (pending.error != 0) {
    return {DnsStatus::temporary_failure, {}, 0, std::string("DNS query failed: ") + ub_strerror(pending.error)};
  }
  std::unique_ptr<ub_result, decltype(&ub_resolve_free)> result(pending.result, ub_resolve_free);
  DnsAnswer<std::string> answer;
  answer.ttl = static_cast<std::uint32_t>(result->ttl);
  answer.secure = result->secure != 0;
  if (result->bogus) {
    // A signature that does not check out is an attack or a broken zone: not an answer to act on.
    answer.status = DnsStatus::temporary_failure;
    answer.error = "DNSSEC validation failed for " + qname + (result->why_bogus ? std::string(": ") + result->why_bogus : "");
  } else if (result->rcode == 3) {
    answer.status = DnsStatus::nxdomain;
  } else if (result->rcode != 0) {
    answer.status = DnsStatus::temporary_failure;
    answer.error = "DNS server answered rcode " + std::to_string(result->rcode) + " for " + qname;
  } else if (!result->havedata) {
    answer.status = DnsStatus::no_data;
  } else {
    answer.status = DnsStatus::found;
    for (int i = 0; result->data[i] != nullptr; ++i) answer.records.emplace_back(result->data[i], result->len[i]);
  }
  return answer;
}

DnsAnswer<std::string> Resolver::txt(std::string_view name) {
  return map_records<std::string>(query(name, RrType::txt), [](std::string_view rdata) {
    std::string text;
    for (std::size_t pos = 0; pos < rdata.size();) text += read_character_string(rdata, pos);
    return text;
  });
}

DnsAnswer<std::string> Resolver::addresses(std::string_view name, RrType type) {
  const int family = type == RrType::aaaa ? AF_INET6 : AF_INET;
  const std::size_t size = type == RrType::aaaa ? 16 : 4;
  return map_records<std::string>(query(name, type), [family, size](std::string_view rdata) {
    char text[INET6_ADDRSTRLEN] = {};
    if (rdata.size() != size || !inet_ntop(family, rdata.data(), text, sizeof text)) {
      throw std::runtime_error("malformed address record");
    }
    return std::string(text);
  });
}

DnsAnswer<std::string> Resolver::ptr(std::string_view name) {
  return map_records<std::string>(query(name, RrType::ptr), [](std::string_view rdata) {
    std::size_t pos = 0;
    return read_name(rdata, pos);
  });
}

DnsAnswer<MxRecord> Resolver::mx(std::string_view name) {
  return map_records<MxRecord>(query(name, RrType::mx), [](std::string_view rdata) {
    std::size_t pos = 0;  // a braced list is evaluated left to right: the fields in wire order
    return MxRecord{.preference = read_u16(rdata, pos), .exchange = read_name(rdata, pos)};
  });
}

DnsAnswer<NaptrRecord> Resolver::naptr(std::string_view name) {
  return map_records<NaptrRecord>(query(name, RrType::naptr), [](std::string_view rdata) {
    std::size_t pos = 0;
    return NaptrRecord{.order = read_u16(rdata, pos),
                       .preference = read_u16(rdata, pos),
                       .flags = read_character_string(rdata, pos),
                       .services = read_character_string(rdata, pos),
                       .regexp = read_character_string(rdata, pos),
                       .replacement = read_name(rdata, pos)};
  });
}

DnsAnswer<SrvRecord> Resolver::srv(std::string_view name) {
  return map_records<SrvRecord>(query(name, RrType::srv), [](std::string_view rdata) {
    std::size_t pos = 0;
    return SrvRecord{.priority = read_u16(rdata, pos),
                     .weight = read_u16(rdata, pos),
                     .port = read_u16(rdata, pos),
                     .target = read_name(rdata, pos)};
  });
}

DnsAnswer<TlsaRecord> Resolver::tlsa(std::string_view name) {
  return map_records<TlsaRecord>(query(name, RrType::tlsa), [](std::string_view rdata) {
    if (rdata.size() < 3) throw std::runtime_error("truncated TLSA record");
    return TlsaRecord{static_cast<std::uint8_t>(rdata[0]), static_cast<std::uint8_t>(rdata[1]),
                      static_cast<std::uint8_t>(rdata[2]), std::string(rdata.substr(3))};
  });
}

}  // namespace umstore::dns
