#include "mailstore/account_store.hpp"

#include "common/enum_names.hpp"

namespace umstore::mailstore {
namespace {

constexpr EnumName<PlayableAudio> kPlayableNames[] = {
    {PlayableAudio::wav, "wav"}, {PlayableAudio::mp3, "mp3"}, {PlayableAudio::none, "none"}};

}  // namespace

std::string_view to_string(PlayableAudio playable) { return name_of(kPlayableNames, playable); }

std::optional<PlayableAudio> parse_playable(std::string_view text) { return value_named(kPlayableNames, text); }

}  // namespace umstore::mailstore
