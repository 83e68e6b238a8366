#pragma once
// How the Maildir backend's file-system errors leave the library (internal):
// as the backend-neutral TemporaryFailure, so no caller needs IoError.
#include "common/durable_file.hpp"
#include "mailstore/folder.hpp"

namespace umstore::mailstore::detail {

[[noreturn]] inline void throw_temporary_failure(const IoError& e) {
  throw TemporaryFailure(std::string("the message store cannot be written or read right now (") + e.what() +
                         "); try again later");
}

}  // namespace umstore::mailstore::detail
