// A mailbox's greeting, as the SIP endpoint plays it: an upload in any
// audio the codecs read is decoded as ingest decodes a gateway's recording
// (in the umstore-decode sandbox when [ingest] sandbox is on) to what the
// endpoint loads (8 kHz 16-bit mono WAV, at most 60 s: sip/src/call_media.cpp)
// and replaces the file where it looks (AdminServices::greeting_for)
// atomically, so a call finds the old greeting or the new one, never half of one.
#include "codecs/audio.hpp"
#include "ingest/decode_worker.hpp"
#include "common/durable_file.hpp"
#include "api.hpp"
#include "mailstore/account_store.hpp"

namespace umstore::admin {
namespace {

constexpr double kGreetingMaxSeconds = 60;  // longer greetings the SIP endpoint refuses to load

// The greeting file of an existing mailbox, or the response that refuses.
std::variant<std::filesystem::path, http::Response> greeting_file(const Call& call) {
  const std::string& number = call.params.at(0);
  if (!call.context.services.accounts.find(number)) return http::json_error(404, "there is no mailbox " + number);
  const auto& greeting_for = call.context.services.greeting_for;
  const auto path = greeting_for ? greeting_for(number) : std::nullopt;
  if (!path) return http::json_error(409, "greetings are off: set [sip] greeting_dir in the config file");
  return *path;
}

http::Response put_greeting(const Call& call) {
  auto file = greeting_file(call);
  if (auto* refused = std::get_if<http::Response>(&file)) return std::move(*refused);
  const auto& path = std::get<std::filesystem::path>(file);
  const std::string& number = call.params.at(0);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(call.request.body.data());
  codecs::PcmAudio audio;
  try {
    // At 8 kHz, in the decode sandbox when [ingest] sandbox is on: an upload is as untrusted as a gateway's file.
    audio = ingest::decode_voice(std::span(bytes, call.request.body.size()), "the greeting",
                                 codecs::AudioLimits{kGreetingMaxSeconds, kMaxGreetingUploadBytes},
                                 call.context.services.decode);
  } catch (const codecs::CodecError& e) {
    call.audit("greeting.upload", number, std::string("refused: ") + e.what());
    return http::json_error(422, e.what());
  }
  if (audio.samples.empty()) return http::json_error(422, "the greeting holds no audio");
  const auto wav = codecs::encode_wav_pcm16(audio);
  create_directories_durably(path.parent_path());
  replace_file_durably(path, std::string_view(reinterpret_cast<const char*>(wav.data()), wav.size()), 0640);
  call.audit("greeting.upload", number);
  return json_response(200, {{"number", number}, {"seconds", audio.duration_seconds()}, {"bytes", wav.size()}});
}

http::Response get_greeting(const Call& call) {
  auto file = greeting_file(call);
  if (auto* refused = std::get_if<http::Response>(&file)) return std::move(*refused);
  const auto& path = std::get<std::filesystem::path>(file);
  if (!std::filesystem::exists(path)) return http::json_error(404, "no greeting: callers hear the built-in one");
  return http::Response{200, "audio/wav", read_file(path), "Cache-Control: no-store\r\n"};
}

http::Response delete_greeting(const Call& call) {
  auto file = greeting_file(call);
  if (auto* refused = std::get_if<http::Response>(&file)) return std::move(*refused);
  const auto& path = std::get<std::filesystem::path>(file);
  if (!std::filesystem::remove(path)) return http::json_error(404, "no greeting to delete");
  fsync_directory(path.parent_path());
  call.audit("greeting.delete", call.params.at(0));
  return json_response(200, {{"number", call.params.at(0)}, {"status", "deleted; callers hear the built-in greeting"}});
}

}  // namespace

bool has_greeting(const AdminServices& services, std::string_view number) {
  const auto path = services.greeting_for ? services.greeting_for(number) : std::nullopt;
  return path && std::filesystem::exists(*path);
}

void add_greeting_routes(ApiRouter& router) {
  router.add("GET", "/api/mailboxes/{}/greeting", {get_greeting});
  router.add("PUT", "/api/mailboxes/{}/greeting", {put_greeting, true});
  router.add("DELETE", "/api/mailboxes/{}/greeting", {delete_greeting, true});
}

}  // namespace umstore::admin
