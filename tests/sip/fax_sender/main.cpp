// sip_fax_sender: a fax machine behind a SIP gateway (tests/sip/fax_call.hpp)
// as a program, for the end-to-end tests and bench/sip. Prints one JSON line
// with the outcome; exit status 0 when the sender's T.30 ended with OK.
//
//   sip_fax_sender --port SIP_PORT --tiff FILE [--to NUMBER] [--from NUMBER]
//                  [--call-id ID] [--t38] [--drop-every N] [--hang-up-after-pages N]
//                  [--tls-ca CA_FILE] [--srtp]
// --tls-ca: SIP over TLS to --port, the server's certificate verified
// against CA_FILE for 127.0.0.1; --srtp: G.711 in SRTP keyed by SDES.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string_view>

#include "../fax_call.hpp"

int main(int argc, char** argv) {
  umstore::test::FaxCallOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    auto take = [&]() -> std::string {
      if (!value) {
        std::cerr << "sip_fax_sender: " << arg << " needs a value\n";
        std::exit(2);
      }
      ++i;
      return value;
    };
    if (arg == "--port") o.server_port = static_cast<std::uint16_t>(std::stoi(take()));
    else if (arg == "--tiff") o.tiff = take();
    else if (arg == "--to") o.to = take();
    else if (arg == "--from") o.from = take();
    else if (arg == "--call-id") o.call_id = take();
    else if (arg == "--t38") o.t38 = true;
    else if (arg == "--tls-ca") o.tls_ca = take();
    else if (arg == "--srtp") o.srtp = true;
    else if (arg == "--drop-every") o.drop_every = static_cast<unsigned>(std::stoul(take()));
    else if (arg == "--hang-up-after-pages") o.hang_up_after_pages = static_cast<unsigned>(std::stoul(take()));
    else {
      std::cerr << "usage: sip_fax_sender --port SIP_PORT --tiff FILE [--to N] [--from N] [--call-id ID] [--t38]"
                   " [--drop-every N] [--hang-up-after-pages N] [--tls-ca CA_FILE] [--srtp]\n";
      return 2;
    }
  }
  if (o.server_port == 0 || o.tiff.empty()) {
    std::cerr << "sip_fax_sender: --port and --tiff are required\n";
    return 2;
  }
  const auto r = umstore::test::FaxCall(o).run();
  std::printf(
      "{\"answered\": %s, \"t38\": %s, \"bye_received\": %s, \"done\": %s, \"code\": %d, \"result\": \"%s\", "
      "\"pages_sent\": %d, \"failure\": \"%s\"}\n",
      r.answered ? "true" : "false", r.t38_accepted ? "true" : "false", r.bye_received ? "true" : "false",
      r.sender_done ? "true" : "false", r.code, r.code >= 0 ? t30_completion_code_to_str(r.code) : "",
      r.pages_sent, r.failure.c_str());
  return r.sender_done && r.code == T30_ERR_OK ? 0 : 1;
}
