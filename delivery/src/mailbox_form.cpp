// Messages umstore composed, in the form a mailbox asks for: see
// form_for_mailbox in local_delivery_policy.hpp.
#include <algorithm>

#include "codecs/audio.hpp"
#include "delivery/local_delivery_policy.hpp"
#include "message_rewriting.hpp"
#include "mime/voice_message.hpp"

namespace umstore::delivery {
namespace {

using namespace rewriting;
using mailstore::PlayableAudio;

bool has_child(const mime::Part& root, std::string_view type, std::string_view subtype) {
  return std::any_of(root.children.begin(), root.children.end(),
                     [&](const mime::Part& child) { return child.content_type.is(type, subtype); });
}

// The voice message with exactly the playable copy `playable` asks for.
std::optional<std::string> voice_for_mailbox(const mime::Part& root, std::string_view raw,
                                             const mime::Part& voice_message, PlayableAudio playable,
                                             double max_seconds) {
  const bool top_level = &voice_message == &root;
  const bool has_wav = has_child(root, "audio", "wav");
  const bool has_mp3 = has_child(root, "audio", "mpeg");
  if (playable == PlayableAudio::none) {
    if (top_level) return std::nullopt;
    return as_pure_vpim(root, voice_message, raw);
  }
  const bool wanted_there = playable == PlayableAudio::wav ? has_wav && !has_mp3 : has_mp3 && !has_wav;
  if (wanted_there) return std::nullopt;
  const auto audio = voice_audio(voice_message, raw, max_seconds);
  if (!audio) return std::nullopt;
  if (top_level) return with_playable_audio(root, raw, *audio, playable);
  const std::string pure = as_pure_vpim(root, voice_message, raw);
  const mime::Part pure_root = mime::parse_message(pure);
  return with_playable_audio(pure_root, pure, *audio, playable, transcript_parts(root, raw));
}

// form.message holds the composed message and becomes the mailbox's form.
void shape_for_mailbox(MailboxForm& form, const MailboxProfile& mailbox, double max_playable_seconds) {
  const std::string_view composed = form.message;
  const mime::Part root = mime::parse_message(composed);
  form.kind = mime::classify_message(root);
  form.folder = folder_for(form.kind, mailbox);
  try {
    if (form.kind == mime::MessageKind::vpim_voice) {
      if (const mime::Part* voice_message = mime::find_voice_message(root)) {
        if (auto rewritten = voice_for_mailbox(root, composed, *voice_message, mailbox.playable, max_playable_seconds)) {
          form.message = std::move(*rewritten);
          form.notes.push_back("playable copy: " + std::string(mailstore::to_string(mailbox.playable)));
        }
      }
    } else if (form.kind == mime::MessageKind::internet_fax) {
      if (auto people = as_people_fax(root, composed, mailbox.fax_pdf)) {
        form.message = std::move(*people);
        form.notes.push_back(mailbox.fax_pdf ? "people's fax form with a PDF copy" : "people's fax form");
      }
    }
  } catch (const codecs::CodecError& e) {
    form.notes.push_back(std::string("stored as composed: ") + e.what());
  }
}

}  // namespace

MailboxForm form_for_mailbox(std::string_view composed, const MailboxProfile& mailbox, double max_playable_seconds) {
  MailboxForm form;
  form.message = std::string(composed);
  shape_for_mailbox(form, mailbox, max_playable_seconds);
  return form;
}

MailboxForm form_for_mailbox(std::string&& composed, const MailboxProfile& mailbox, double max_playable_seconds) {
  MailboxForm form;
  form.message = std::move(composed);
  shape_for_mailbox(form, mailbox, max_playable_seconds);
  return form;
}

}  // namespace umstore::delivery
