#pragma once
#include <span>
#include <string>

namespace umstore::app {

// Each returns the process exit code: 0 success, 1 failure, 2 usage error.
int run_serve(std::span<const std::string> args);
int run_mailbox(std::span<const std::string> args);
int run_ingest(std::span<const std::string> args);
int run_convert(std::span<const std::string> args);
int run_import(std::span<const std::string> args);
int run_queue(std::span<const std::string> args);
int run_db(std::span<const std::string> args);
int run_dkim(std::span<const std::string> args);  // dkim keygen
int run_enum(std::span<const std::string> args);  // enum lookup
int run_privacy(std::span<const std::string> args);  // privacy erase
int run_aging(std::span<const std::string> args);    // aging run
int run_cluster(std::span<const std::string> args);
int run_index(std::span<const std::string> args);  // index rebuild
int run_admin(std::span<const std::string> args);  // admin add, admin list
int run_gateway(std::span<const std::string> args);  // gateway list, issue, revoke
// backup TARGET, or restore SOURCE when `restoring`.
int run_backup(std::span<const std::string> args, bool restoring);
// Exit code by severity instead: 0 clean, 1 warnings, 2 errors.
int run_validate(std::span<const std::string> args);

}  // namespace umstore::app
