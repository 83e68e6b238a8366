#pragma once
// Messages and UID lists the mailstore tests share.
#include <cstdint>
#include <string>
#include <vector>

#include "mailstore/message.hpp"

inline std::string message(int n) {
  return "From: caller@example.com\r\nSubject: voicemail " + std::to_string(n) + "\r\n\r\nbody " + std::to_string(n) +
         "\r\n";
}

inline std::vector<std::uint32_t> uids_of(const std::vector<umstore::mailstore::MessageInfo>& infos) {
  std::vector<std::uint32_t> uids;
  for (const auto& m : infos) uids.push_back(m.uid);
  return uids;
}
