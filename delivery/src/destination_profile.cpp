// Per-destination forms of relayed messages: see destination_profile.hpp.
#include "delivery/destination_profile.hpp"

#include <stdexcept>

#include "codecs/audio.hpp"
#include "common/enum_names.hpp"
#include "message_rewriting.hpp"
#include "mime/conformance.hpp"
#include "mime/voice_message.hpp"

namespace umstore::delivery {
namespace {

using namespace rewriting;

std::string domain_of(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : lower(trimmed(address.substr(at + 1)));
}

bool domain_matches(const std::string& pattern, const std::string& domain) {
  if (pattern.starts_with('.')) return domain.size() > pattern.size() && domain.ends_with(pattern);
  return domain == pattern;
}

DestinationForm unchanged(std::string_view raw, std::string note = {}) {
  DestinationForm form{std::string(raw), false, {}, std::nullopt};
  if (!note.empty()) form.notes.push_back(std::move(note));
  return form;
}

DestinationForm changed(std::string message, std::string note) {
  return DestinationForm{std::move(message), true, {std::move(note)}, std::nullopt};
}

DestinationForm voice_for(const mime::Part& root, std::string_view raw, const mime::Part& voice_message,
                          DestinationProfile profile, double max_seconds) {
  const bool top_level = &voice_message == &root;
  if (profile == DestinationProfile::vpim) {
    if (top_level) return unchanged(raw);
    return changed(as_pure_vpim(root, voice_message, raw),
                   "pure VPIM v2 for a VPIM system: " + std::to_string(root.children.size() - 1) +
                       " part(s) next to multipart/voice-message left out");
  }
  if (profile == DestinationProfile::playable && !top_level) return unchanged(raw);  // already has its copies
  try {
    const auto audio = voice_audio(voice_message, raw, max_seconds);
    if (!audio) return unchanged(raw, "no voice-message audio to convert; relayed as it came");
    if (profile == DestinationProfile::ivm && lower(header_text(root, "Sensitivity")) == "private") {
      DestinationForm refused = unchanged(raw);
      refused.refusal = "a Private voice message cannot go to an IVM system, which cannot keep it private";
      return refused;
    }
    if (profile == DestinationProfile::ivm)
      return changed(as_ivm(root, raw, *audio),
                     "IVM (RFC 4239) audio/basic, " + mime::format_duration(audio->duration_seconds()));
    return changed(with_playable_audio(root, raw, *audio, mailstore::PlayableAudio::wav),
                   "added a playable WAV (" + mime::format_duration(audio->duration_seconds()) + ")");
  } catch (const codecs::CodecError& e) {
    return unchanged(raw, std::string("voice audio cannot be decoded, relayed as it came: ") + e.what());
  }
}

constexpr EnumName<DestinationProfile> kProfileNames[] = {{DestinationProfile::playable, "playable"},
                                                          {DestinationProfile::vpim, "vpim"},
                                                          {DestinationProfile::ivm, "ivm"}};

}  // namespace

std::string_view to_string(DestinationProfile profile) { return name_of(kProfileNames, profile); }

std::optional<DestinationProfile> parse_destination_profile(std::string_view text) {
  return value_named(kProfileNames, lower(trimmed(text)));
}

std::optional<DestinationProfile> profile_for(const DestinationRules& rules, std::string_view address) {
  const std::string domain = domain_of(address);
  for (const auto& [pattern, profile] : rules.domains)
    if (domain_matches(pattern, domain)) return profile;
  return rules.otherwise;
}

DestinationRules parse_destination_rules(std::string_view text) {
  DestinationRules rules;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string entry = trimmed(text.substr(pos, end - pos));
    pos = end + 1;
    if (entry.empty()) continue;
    const std::size_t equals = entry.find('=');
    const std::string domain = equals == std::string::npos ? std::string() : lower(trimmed(entry.substr(0, equals)));
    const auto profile =
        equals == std::string::npos ? std::nullopt : parse_destination_profile(entry.substr(equals + 1));
    if (domain.empty() || !profile)
      throw std::invalid_argument("\"" + entry + "\" is not DOMAIN=PROFILE with PROFILE vpim, ivm or playable");
    if (domain == "*") rules.otherwise = profile;
    else rules.domains.emplace_back(domain, *profile);
  }
  return rules;
}

DestinationForm form_for_destination(std::string_view raw, DestinationProfile profile, double max_seconds) {
  const mime::Part root = mime::parse_message(raw);
  const mime::MessageKind kind = mime::classify_message(root);
  if (kind == mime::MessageKind::vpim_voice) {
    if (const mime::Part* voice_message = mime::find_voice_message(root))
      return voice_for(root, raw, *voice_message, profile, max_seconds);
  }
  if (kind == mime::MessageKind::internet_fax && profile == DestinationProfile::playable) {
    try {
      if (auto with_pdf = as_people_fax(root, raw, true))
        return changed(std::move(*with_pdf), "people's fax form with a PDF copy");
    } catch (const codecs::CodecError& e) {
      return unchanged(raw, std::string("fax image cannot be read, relayed as it came: ") + e.what());
    }
  }
  return unchanged(raw);
}

DestinationForm form_for_recipient(std::string_view raw, std::string_view recipient_address,
                                   const DestinationRules& rules) {
  const auto profile = profile_for(rules, recipient_address);
  if (!profile) return unchanged(raw);
  return form_for_destination(raw, *profile);
}

std::string relay_group(const DestinationRules& rules, std::string_view address) {
  const auto profile = profile_for(rules, address);
  return profile ? std::string(to_string(*profile)) : std::string();
}

}  // namespace umstore::delivery
