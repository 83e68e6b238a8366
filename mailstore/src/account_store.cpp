#include "mailstore/account_store.hpp"

namespace umstore::mailstore {

std::string_view to_string(PlayableAudio playable) {
  switch (playable) {
    case PlayableAudio::mp3: return "mp3";
    case PlayableAudio::none: return "none";
    case PlayableAudio::wav: break;
  }
  return "wav";
}

std::optional<PlayableAudio> parse_playable(std::string_view text) {
  if (text == "wav") return PlayableAudio::wav;
  if (text == "mp3") return PlayableAudio::mp3;
  if (text == "none") return PlayableAudio::none;
  return std::nullopt;
}

}  // namespace umstore::mailstore
