// umstore: the unified messaging store program. Subcommands wire the
// libraries together; no protocol or storage logic lives here.
#include <iostream>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "commands.hpp"

namespace {

constexpr const char* kUsage = R"(usage: umstore [--data-dir DIR] [--config FILE] COMMAND ...
       umstore --version

commands:
  serve      run the SMTP, IMAP and HTTP servers
  mailbox    add, list, remove, export mailboxes and set passwords
  ingest     deliver a voicemail recording or a fax image to a mailbox
  import     migrate an archive of recordings (Asterisk voicemail spool, FILE + FILE.json)
  queue      list, show, retry and delete messages in the SMTP delivery queue
  db         the PostgreSQL backend: migrate its schema, copy the embedded store into it
  dkim       make a DKIM signing key and print the DNS record to publish (dkim keygen)
  enum       what ENUM publishes for a number, and where voice and fax for it would go
  privacy    erase a caller's messages everywhere, or a whole mailbox, for real (privacy erase)
  aging      move old voice and fax messages to Trash and purge Trash now (aging run)
  cluster    the nodes sharing the PostgreSQL database: heartbeats and jobs held
  index      rebuild the full-text index IMAP SEARCH BODY/TEXT uses
  admin      add and list the accounts of the admin console (password and TOTP)
  gateway    list, issue and revoke the gateway API's bearer tokens
  convert    transcode audio (WAV/AU/... <-> audio/32KADPCM) or fax (TIFF -> TIFF-F)
  validate   check messages against VPIM v2, Internet fax and MIME rules
  backup     copy the data directory, consistently, while the server runs
  restore    put a backup into an empty data directory

Run 'umstore COMMAND --help' for the options of each command.
The data directory defaults to $UMSTORE_DATA_DIR, else /var/lib/umstore.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Global options may come before the command: move them after it.
  std::vector<std::string> globals;
  while (!args.empty() && (args.front() == "--data-dir" || args.front() == "--config")) {
    if (args.size() < 2) {
      std::cerr << "umstore: option " << args.front() << " needs a value\n";
      return 2;
    }
    globals.insert(globals.end(), args.begin(), args.begin() + 2);
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args.front() == "--help" || args.front() == "-h" || args.front() == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args.front() == "--version" || args.front() == "version") {
    std::cout << "umstore " << UMSTORE_VERSION << "\n";
    return 0;
  }
  const std::string command = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  rest.insert(rest.end(), globals.begin(), globals.end());
  try {
    if (command == "serve") return umstore::app::run_serve(rest);
    if (command == "mailbox") return umstore::app::run_mailbox(rest);
    if (command == "ingest") return umstore::app::run_ingest(rest);
    if (command == "import") return umstore::app::run_import(rest);
    if (command == "convert") return umstore::app::run_convert(rest);
    if (command == "queue") return umstore::app::run_queue(rest);
    if (command == "db") return umstore::app::run_db(rest);
    if (command == "dkim") return umstore::app::run_dkim(rest);
    if (command == "enum") return umstore::app::run_enum(rest);
    if (command == "privacy") return umstore::app::run_privacy(rest);
    if (command == "aging") return umstore::app::run_aging(rest);
    if (command == "cluster") return umstore::app::run_cluster(rest);
    if (command == "index") return umstore::app::run_index(rest);
    if (command == "admin") return umstore::app::run_admin(rest);
    if (command == "gateway") return umstore::app::run_gateway(rest);
    if (command == "validate") return umstore::app::run_validate(rest);
    if (command == "backup") return umstore::app::run_backup(rest, false);
    if (command == "restore") return umstore::app::run_backup(rest, true);
    std::cerr << "umstore: unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const umstore::app::UsageError& e) {
    std::cerr << "umstore " << command << ": " << e.what() << "\n(see 'umstore " << command << " --help')\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "umstore " << command << ": " << e.what() << "\n";
    return 1;
  }
}
