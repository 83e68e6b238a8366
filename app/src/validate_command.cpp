// `umstore validate FILE...`: conformance findings for stored or received
// messages (VPIM v2, Internet fax, plain mail), exit code by severity.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "common/durable_file.hpp"
#include "mime/conformance.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kValidateUsage = R"(usage: umstore validate [--quiet] FILE.eml...

Checks each message against the rules that apply to it: RFC 5322 and MIME
(RFC 2045/2046) for every message, VPIM v2 (RFC 3801/3802/3803/3939) when it
holds multipart/voice-message, simple-mode Internet fax (RFC 3965, TIFF
profile S of RFC 3949) when it holds a fax image. Each finding names its
severity, the rule (RFC and section) and where it is:
  error: RFC 3801 §4.3 (Content-Disposition) [part 1 header] audio parts must ...
Files may use CRLF (as on the wire) or LF line ends.

  --quiet   print only the summary line of each file

Exit status: 0 no findings, 1 warnings only, 2 errors (or a FILE that cannot
be read, or a usage error).
)";

constexpr std::uintmax_t kMaxMessageBytes = 512u << 20;

enum ExitStatus : int { kClean = 0, kWarnings = 1, kErrors = 2 };

std::string plural(std::size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

int validate_file(const std::filesystem::path& path, bool quiet) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    std::cout << path.string() << ": cannot read: " << ec.message() << "\n";
    return kErrors;
  }
  if (size > kMaxMessageBytes) {
    std::cout << path.string() << ": " << size << " bytes is more than the 512 MiB umstore checks\n";
    return kErrors;
  }
  const std::string raw = read_file(path);
  const mime::ConformanceReport report = mime::check_message(raw);
  const auto errors = static_cast<std::size_t>(std::count_if(report.findings.begin(), report.findings.end(),
      [](const mime::Finding& f) { return f.severity == mime::Severity::error; }));
  const std::size_t warnings = report.findings.size() - errors;
  std::cout << path.string() << ": " << mime::describe(report.kind) << ": "
            << (report.findings.empty() ? std::string("conforms") : plural(errors, "error") + ", " + plural(warnings, "warning"))
            << "\n";
  if (!quiet)
    for (const mime::Finding& finding : report.findings) std::cout << "  " << mime::format_finding(finding) << "\n";
  return errors > 0 ? kErrors : warnings > 0 ? kWarnings : kClean;
}

}  // namespace

int run_validate(std::span<const std::string> args) {
  OptionSpec spec = with_global_options({});
  spec.flags.insert("--quiet");
  CommandLine cmd(args, spec);
  if (cmd.printed_help(kValidateUsage)) return 0;
  if (cmd.positionals().empty()) throw UsageError("validate needs at least one FILE");
  int status = kClean;
  for (const std::string& file : cmd.positionals()) status = std::max(status, validate_file(file, cmd.flag("--quiet")));
  return status;
}

}  // namespace umstore::app
