#pragma once
// SIGHUP: which settings a running server takes from a reread config file.
// The limits below change at once (new messages, commands and recordings
// are held to them); the rest need a restart, and the reload's log line
// names those that changed so nobody waits for them to apply.
#include <string>
#include <vector>

#include "settings.hpp"

namespace umstore::app {

struct SettingChange {
  std::string key;  // "[smtp] max_message_bytes"
  std::string before;
  std::string after;
};

// Reloadable settings that differ: the [smtp] limits and retry schedule, the
// [codecs] limits and the [sip] request rate.
std::vector<SettingChange> changed_limits(const Settings& before, const Settings& after);
// Keys that differ but keep their old value until the next restart.
std::vector<std::string> changed_needing_restart(const Settings& before, const Settings& after);

// "[smtp] max_message_bytes 52428800 -> 1000, ..." or "none".
std::string describe(const std::vector<SettingChange>& changes);

}  // namespace umstore::app
