// The SIP endpoint alone, for bench/sip/run-sip-bench.sh when no `umstore`
// binary is at hand: serves +15550100 from DIR, writes DIR/port, delivers
// through ingest::compose + the Maildir store, and on DIR/stop prints the
// process's CPU time. Built by hand; see the script.
#include <sys/resource.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "ingest/pipeline.hpp"
#include "mailstore/sqlite_account_store.hpp"
#include "sip/sip_server.hpp"

using namespace umstore;

namespace {
ingest::IngestSettings vm_settings() {
  ingest::IngestSettings settings;
  settings.domain = "vm.example.net";
  return settings;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::filesystem::path dir = argv[1];
  mailstore::SqliteAccountStore accounts(dir / "accounts.db");
  if (!accounts.find("+15550100")) accounts.add({"+15550100", "Bench", "", 0}, "x");
  auto store = mailstore::open_maildir_store(dir / "mail");
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  sip::SipServerConfig config;
  config.listen = asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  config.allowed_gateways = {asio::ip::make_address("127.0.0.1")};
  config.max_calls = 1000;
  config.requests_per_window = 100000;
  config.recordings_dir = dir / "recordings";
  config.deliver = [&](ingest::Recording r) {
    const auto m = ingest::compose(r, vm_settings());
    store->deliver(m.recipient_number, m.rfc822);
  };
  sip::SipServer server(io, config, accounts, *store);
  server.start();
  std::ofstream(dir / "port") << server.local_endpoint().port() << "\n";
  std::vector<std::jthread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });
  while (!std::filesystem::exists(dir / "stop")) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::cout << "cpu_seconds " << usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                                     (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
            << "\n";
  server.stop();
  work.reset();
  io.stop();
  return 0;
}
