// sip_fax_receiver: the fax machine behind a SIP gateway that answers
// (tests/sip/fax_terminal.hpp) as a program, for the end-to-end tests of
// faxes sent from mail. Prints "ready" once bound, then one JSON line per
// finished call (printed whole, with "invite_at" and "ended_at" in Unix
// seconds); takes up to --max-calls calls at once (64; beyond them: 486);
// runs until killed or N calls.
//
//   sip_fax_receiver --port P --out DIR [--busy] [--no-answer] [--no-fax] [--t38] [--refuse-t38] [--refuse-srtp]
//                    [--auth USER:PASS] [--calls N] [--station-id CSI] [--max-calls N] [--tcp]
//                    [--tls CERT_PEM KEY_PEM [--tls-client-ca CA_PEM]]
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string_view>

#include "../fax_terminal.hpp"

int main(int argc, char** argv) {
  umstore::test::FaxTerminalOptions o;
  std::uint16_t port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    auto take = [&]() -> std::string {
      if (!value) {
        std::cerr << "sip_fax_receiver: " << arg << " needs a value\n";
        std::exit(2);
      }
      ++i;
      return value;
    };
    if (arg == "--port") port = static_cast<std::uint16_t>(std::stoi(take()));
    else if (arg == "--out") o.out_dir = take();
    else if (arg == "--busy") o.busy = true;
    else if (arg == "--no-answer") o.no_answer = true;
    else if (arg == "--no-fax") o.no_fax = true;
    else if (arg == "--t38") o.t38 = true;
    else if (arg == "--refuse-t38") o.refuse_t38 = true;
    else if (arg == "--refuse-srtp") o.refuse_srtp = true;
    else if (arg == "--tcp") o.tcp = true;
    else if (arg == "--tls") {
      o.tls_certificate = take();
      value = i + 1 < argc ? argv[i + 1] : nullptr;
      o.tls_key = take();
    }
    else if (arg == "--tls-client-ca") o.tls_client_ca = take();
    else if (arg == "--calls") o.calls = static_cast<unsigned>(std::stoul(take()));
    else if (arg == "--station-id") o.station_id = take();
    else if (arg == "--max-calls") o.max_calls = std::max(1u, static_cast<unsigned>(std::stoul(take())));
    else if (arg == "--auth") {
      const std::string credentials = take();
      const auto colon = credentials.find(':');
      if (colon == std::string::npos) {
        std::cerr << "sip_fax_receiver: --auth takes USER:PASS\n";
        return 2;
      }
      o.auth_user = credentials.substr(0, colon);
      o.auth_password = credentials.substr(colon + 1);
    } else {
      std::cerr << "usage: sip_fax_receiver --port P --out DIR [--busy] [--no-answer] [--no-fax] [--t38] [--refuse-t38] [--refuse-srtp]"
                   " [--auth USER:PASS] [--calls N] [--station-id CSI] [--max-calls N] [--tcp]"
                   " [--tls CERT_PEM KEY_PEM [--tls-client-ca CA_PEM]]\n";
      return 2;
    }
  }
  if (port == 0 || o.out_dir.empty()) {
    std::cerr << "sip_fax_receiver: --port and --out are required\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  umstore::test::FaxTerminal terminal(o, port);
  if (terminal.port() != port) {
    std::cerr << "sip_fax_receiver: cannot bind 127.0.0.1:" << port << " (UDP)\n";
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  const std::atomic<bool> never{false};
  terminal.run(
      [](const umstore::test::ReceivedFax& r) {
        std::printf("%s\n", r.json().c_str());
        std::fflush(stdout);
      },
      never);
  return 0;
}
