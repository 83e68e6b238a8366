// Conformance checks: generic RFC 5322 / RFC 2045-2046 rules for every part,
// VPIM v2 rules inside multipart/voice-message, Internet fax / TIFF profile S
// rules for fax images. Severity follows the RFC key word: a broken MUST is an
// error, a broken SHOULD (or a sender-side limit a receiver may live with) a
// warning. Optional features (Content-Duration, Message-Context) give no
// finding when absent.
#include "ascii.hpp"
#include "common/rfc5322_date.hpp"
#include "mime/conformance.hpp"
#include "tiff_summary.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace umstore::mime {
namespace {

constexpr std::size_t kMaxLineLength = 998;      // RFC 5322 §2.1.1
constexpr std::size_t kMaxEncodedLineLength = 76;  // RFC 2045 §6.7 (5)
constexpr std::size_t kMaxBoundaryLength = 70;   // RFC 2046 §5.1.1
constexpr std::size_t kMaxReportedFindings = 200;

class Checker {
 public:
  explicit Checker(std::string_view raw) : raw_(raw) {}

  ConformanceReport run() {
    ConformanceReport report;
    const Part root = parse_message(raw_);
    report.kind = classify_message(root);
    vpim_ = report.kind == MessageKind::vpim_voice;
    check_line_structure();
    check_top_header(root);
    check_part(root, "", false);
    report.findings = std::move(findings_);
    return report;
  }

 private:
  void add(Severity severity, std::string rule, std::string location, std::string text) {
    if (findings_.size() >= kMaxReportedFindings) return;
    findings_.push_back({severity, std::move(rule), std::move(location), std::move(text)});
  }
  void error(std::string rule, std::string location, std::string text) {
    add(Severity::error, std::move(rule), std::move(location), std::move(text));
  }
  void warning(std::string rule, std::string location, std::string text) {
    add(Severity::warning, std::move(rule), std::move(location), std::move(text));
  }

  static std::string where(std::string_view path) { return path.empty() ? "body" : "part " + std::string(path); }
  static std::string header_of(std::string_view path) {
    return path.empty() ? "header" : "part " + std::string(path) + " header";
  }

  // --- lines ------------------------------------------------------------
  void check_line_structure() {
    std::size_t crlf = 0, bare_lf = 0, bare_cr = 0, long_lines = 0, line_start = 0;
    for (std::size_t i = 0; i < raw_.size(); ++i) {
      if (raw_[i] == '\r' && (i + 1 >= raw_.size() || raw_[i + 1] != '\n')) ++bare_cr;
      if (raw_[i] != '\n') continue;
      const bool after_cr = i > 0 && raw_[i - 1] == '\r';
      after_cr ? ++crlf : ++bare_lf;
      const std::size_t length = i - line_start - (after_cr ? 1 : 0);
      if (length > kMaxLineLength) ++long_lines;
      line_start = i + 1;
    }
    if (raw_.size() - line_start > kMaxLineLength) ++long_lines;
    // LF-only is how files on disk usually look; only a mix is damage.
    if (bare_cr > 0 || (crlf > 0 && bare_lf > 0))
      error("RFC 5322 §2.3", "message",
            "CR and LF appear alone (" + std::to_string(bare_lf) + " bare LF, " + std::to_string(bare_cr) +
                " bare CR); they may only occur together as CRLF");
    if (long_lines > 0)
      error("RFC 5322 §2.1.1", "message",
            std::to_string(long_lines) + " line(s) longer than 998 characters; SMTP servers may break or refuse them");
  }

  // --- message header -----------------------------------------------------
  std::size_t count(const Part& part, std::string_view name) const {
    return static_cast<std::size_t>(std::count_if(part.headers.begin(), part.headers.end(),
                                                  [&](const HeaderField& f) { return ascii_iequals(f.name, name); }));
  }

  static std::string value_of(const Part& part, std::string_view name) {
    const auto raw = part.header(name);
    return raw ? std::string(ascii::trim(unfold(*raw))) : std::string();
  }

  void check_top_header(const Part& root) {
    check_origination_fields(root, "header");
    check_message_id(root);
    check_header_octets(root, "header");
    check_mime_version(root, "header");
    check_message_context(root);
    check_caller_id(root);
    if (vpim_) check_vpim_header(root);
  }

  void check_origination_fields(const Part& root, const std::string& location) {
    for (const std::string_view name : {"From", "Date"}) {
      if (count(root, name) == 0)
        error("RFC 5322 §3.6", location, "the message has no " + std::string(name) + " field; it is required");
    }
    for (const std::string_view name : {"From", "Date", "Sender", "Reply-To", "To", "Cc", "Message-ID", "Subject"}) {
      if (count(root, name) > 1)
        error("RFC 5322 §3.6", location, std::string(name) + " appears " + std::to_string(count(root, name)) +
                                              " times; it may appear at most once");
    }
    if (const auto date = root.header("Date"); date && !parse_rfc5322_date(ascii::trim(unfold(*date))))
      error("RFC 5322 §3.3", location, "Date \"" + printable(unfold(*date)) + "\" is not an RFC 5322 date-time");
    if (const auto from = root.header("From"); from && unfold(*from).find('@') == std::string::npos)
      error("RFC 5322 §3.4", location, "From \"" + printable(unfold(*from)) + "\" holds no address (local@domain)");
  }

  void check_message_id(const Part& root) {
    const auto id = root.header("Message-ID");
    if (!id) {
      if (vpim_)
        error("RFC 3801 §4.2 (Message-ID)", "header", "a VPIM message must carry a globally unique Message-ID");
      else
        warning("RFC 5322 §3.6.4", "header", "the message has no Message-ID; every message should have one");
      return;
    }
    const std::string value(ascii::trim(unfold(*id)));
    const std::size_t at = value.find('@');
    const bool valid = value.size() > 4 && value.front() == '<' && value.back() == '>' && at != std::string::npos &&
                       at > 1 && at + 2 < value.size() && value.find_first_of(" \t<>", 1) == value.size() - 1;
    if (!valid)
      error("RFC 5322 §3.6.4", "header", "Message-ID \"" + printable(value) + "\" is not of the form <left@right>");
  }

  void check_header_octets(const Part& part, const std::string& location) {
    for (const HeaderField& f : part.headers) {
      const bool eight_bit =
          std::any_of(f.value.begin(), f.value.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
      if (eight_bit)
        warning("RFC 5322 §2.2, RFC 2047", location,
                std::string(f.name) + " holds raw 8-bit text; without SMTPUTF8 (RFC 6532) it must be an RFC 2047 encoded-word");
    }
  }

  void check_mime_version(const Part& part, const std::string& location) {
    const bool uses_mime = part.header("Content-Type") || part.header("Content-Transfer-Encoding");
    if (uses_mime && !part.header("MIME-Version"))
      error("RFC 2045 §4", location, "Content-Type is used but MIME-Version: 1.0 is missing");
  }

  void check_message_context(const Part& root) {
    if (count(root, "Message-Context") > 1)
      error("RFC 3458", "header", "Message-Context appears more than once; at most one is allowed");
    const std::string value = ascii_lower(value_of(root, "Message-Context"));
    static const std::vector<std::string> kKnown = {"voice-message", "fax-message", "pager-message",
                                                    "multimedia-message", "text-message", "none"};
    if (!value.empty() && std::find(kKnown.begin(), kKnown.end(), value) == kKnown.end())
      warning("RFC 3458", "header", "Message-Context \"" + printable(value) + "\" is not a registered value");
  }

  void check_caller_id(const Part& root) {
    const std::string value = value_of(root, "Caller-ID");
    if (value.empty()) return;
    const std::string_view digits = std::string_view(value).substr(0, value.find(','));
    const bool valid = !digits.empty() && std::all_of(digits.begin(), digits.end(), ascii::is_digit);
    if (!valid)
      warning("RFC 3939", "header",
              "Caller-ID \"" + printable(value) + "\" should be digits only (no '+', spaces or separators)");
  }

  void check_vpim_header(const Part& root) {
    const std::string version = value_of(root, "MIME-Version");
    if (!version.empty() && version.find("Voice 2.0") == std::string::npos)
      warning("RFC 3801 §4.2 (MIME-Version)", "header", "MIME-Version should carry the comment (Voice 2.0)");
    if (!root.header("To")) warning("RFC 3801 §4.2 (To)", "header", "no To field; senders should list the recipients");
    if (!root.header("Subject"))
      warning("RFC 3801 §4.2 (Subject)", "header", "no Subject; voice-only systems should insert e.g. \"Voice Message\"");
    if (root.header("Reply-To"))
      warning("RFC 3801 §4.2 (Reply-To)", "header", "VPIM senders should not send Reply-To");
    const std::string sensitivity = ascii_lower(value_of(root, "Sensitivity"));
    if (!sensitivity.empty() && sensitivity != "personal" && sensitivity != "private" &&
        sensitivity != "company-confidential")
      error("RFC 3801 §4.2.13 (Sensitivity)", "header",
            "Sensitivity \"" + printable(sensitivity) + "\" is not Personal, Private or Company-Confidential");
    const std::string importance = ascii_lower(value_of(root, "Importance"));
    if (!importance.empty() && importance != "low" && importance != "normal" && importance != "high")
      warning("RFC 3801 §4.2 (Importance)", "header",
              "Importance \"" + printable(importance) + "\" is not low, normal or high");
  }

  // --- parts -----------------------------------------------------------------
  void check_part(const Part& part, const std::string& path, bool in_voice_message) {
    check_content_type_syntax(part, path);
    check_transfer_encoding(part, path);
    if (part.is_multipart()) {
      check_multipart(part, path);
      const bool voice = part.content_type.is("multipart", "voice-message");
      for (std::size_t i = 0; i < part.children.size(); ++i) {
        const std::string child_path = path.empty() ? std::to_string(i + 1) : path + "." + std::to_string(i + 1);
        if (voice) check_voice_message_child(part.children[i], child_path);
        check_part(part.children[i], child_path, voice);
      }
      if (voice) check_voice_labels(part, path);
      return;
    }
    if (part.is_message()) {
      if (!part.children.empty()) check_encapsulated(part.children.front(), path.empty() ? "1" : path);
      return;
    }
    check_leaf_body(part, path);
    if (part.content_type.is("image", "tiff") || part.content_type.is("image", "tiff-fx"))
      check_fax_image(part, path, in_voice_message);
  }

  void check_content_type_syntax(const Part& part, const std::string& path) {
    const auto raw = part.header("Content-Type");
    if (!raw) return;
    const std::string value = unfold(*raw);
    const std::string_view media = ascii::trim(std::string_view(value).substr(0, value.find(';')));
    const std::size_t slash = media.find('/');
    const auto is_token = [](std::string_view t) { return !t.empty() && std::all_of(t.begin(), t.end(), ascii::is_token_char); };
    if (slash == std::string_view::npos || !is_token(media.substr(0, slash)) || !is_token(media.substr(slash + 1)))
      error("RFC 2045 §5.1", header_of(path),
            "Content-Type \"" + printable(media) + "\" is not type/subtype; readers treat the part as text/plain");
  }

  void check_transfer_encoding(const Part& part, const std::string& path) {
    const std::string& cte = part.transfer_encoding;
    static const std::vector<std::string> kKnown = {"7bit", "8bit", "binary", "quoted-printable", "base64"};
    if (std::find(kKnown.begin(), kKnown.end(), cte) == kKnown.end()) {
      error("RFC 2045 §6.1", header_of(path), "Content-Transfer-Encoding \"" + printable(cte) + "\" is unknown");
      return;
    }
    if ((part.is_multipart() || part.is_message()) && (cte == "base64" || cte == "quoted-printable"))
      error("RFC 2045 §6.4", header_of(path),
            part.content_type.type + "/" + part.content_type.subtype + " must not be " + cte + "-encoded");
  }

  void check_multipart(const Part& part, const std::string& path) {
    const auto boundary = part.content_type.params.get("boundary");
    if (!boundary || boundary->empty()) {
      error("RFC 2046 §5.1.1", header_of(path), "multipart without a boundary parameter; its parts cannot be found");
      return;
    }
    if (boundary->size() > kMaxBoundaryLength)
      error("RFC 2046 §5.1.1", header_of(path), "boundary is longer than 70 characters");
    if (part.children.empty()) {
      error("RFC 2046 §5.1.1", where(path), "no body part starts with the boundary \"" + printable(*boundary) + "\"");
      return;
    }
    const std::string_view body = part.body(raw_);
    const std::string close = "--" + *boundary + "--";
    const std::size_t found = body.find(close);
    const bool closed = found != std::string_view::npos && (found == 0 || body[found - 1] == '\n');
    if (!closed)
      error("RFC 2046 §5.1.1", where(path), "the closing delimiter \"" + printable(close) + "\" is missing; the message may be truncated");
    if (part.content_type.is("multipart", "voice-message")) {
      const auto version = part.content_type.params.get("version");
      if (!version)
        warning("RFC 3801 §4.4 (multipart/voice-message)", header_of(path),
                "multipart/voice-message without version=2.0 is a VPIM v1 (RFC 1911) message");
      else if (*version != "2.0")
        warning("RFC 3801 §4.4 (multipart/voice-message)", header_of(path), "multipart/voice-message version \"" + printable(*version) + "\" is not 2.0");
    }
  }

  void check_leaf_body(const Part& part, const std::string& path) {
    const std::string_view body = part.body(raw_);
    const std::string& cte = part.transfer_encoding;
    if (cte == "7bit" &&
        std::any_of(body.begin(), body.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80 || c == 0; }))
      error("RFC 2045 §2.7", where(path), "declared 7bit but holds 8-bit or NUL octets; declare 8bit or encode it");
    if (cte == "8bit" && body.find('\0') != std::string_view::npos)
      error("RFC 2045 §2.8", where(path), "8bit data must not contain NUL octets; use base64");
    if (cte == "base64") check_base64(body, path);
    if (cte == "quoted-printable" && longest_line(body) > kMaxEncodedLineLength)
      error("RFC 2045 §6.7", where(path), "quoted-printable lines must be at most 76 characters");
  }

  void check_base64(std::string_view body, const std::string& path) {
    std::size_t symbols = 0, invalid = 0;
    bool padding = false, data_after_padding = false;
    for (const char c : body) {
      if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
      if (c == '=') {
        padding = true;
        ++symbols;
        continue;
      }
      const bool alphabet = ascii::is_alpha(c) || ascii::is_digit(c) || c == '+' || c == '/';
      if (!alphabet) ++invalid;
      else if (padding) data_after_padding = true;
      ++symbols;
    }
    if (invalid > 0)
      error("RFC 2045 §6.8", where(path),
            std::to_string(invalid) + " characters outside the base64 alphabet; the data is damaged");
    if (symbols % 4 != 0 || data_after_padding)
      error("RFC 2045 §6.8", where(path), "base64 data is truncated or padded wrongly (length not a multiple of 4)");
    if (longest_line(body) > kMaxEncodedLineLength)
      error("RFC 2045 §6.8", where(path), "base64 lines must be at most 76 characters");
  }

  // --- VPIM ------------------------------------------------------------------
  void check_voice_message_child(const Part& child, const std::string& path) {
    const ContentType& type = child.content_type;
    if (type.type == "audio") {
      check_vpim_audio(child, path);
    } else if (type.type == "image" || type.is("message", "rfc822")) {
      // profiled; fax images are checked by check_fax_image
    } else if (type.is("text", "plain") || type.is("text", "directory")) {
      warning("RFC 3801 §4.4 (multipart/voice-message)", where(path),
              type.type + "/" + type.subtype + " inside multipart/voice-message should not be sent; some VPIM systems reject it");
    } else {
      error("RFC 3801 §4.4 (multipart/voice-message)", where(path),
            type.type + "/" + type.subtype + " is not allowed inside multipart/voice-message (audio, image, message/rfc822 only)");
    }
  }

  void check_vpim_audio(const Part& audio, const std::string& path) {
    const std::string& cte = audio.transfer_encoding;
    if (cte == "7bit" || cte == "8bit" || cte == "quoted-printable")
      error("RFC 3801 §4.2 (Content-Transfer-Encoding)", header_of(path),
            "audio must be base64 (or binary over BINARYMIME), not " + cte);
    if (!audio.content_type.is("audio", "32kadpcm"))
      warning("RFC 3801 §4.4 (audio/32KADPCM)", header_of(path),
              audio.content_type.type + "/" + audio.content_type.subtype +
                  " instead of audio/32KADPCM: only systems that agreed on it can play it");
    if (audio.disposition.type.empty()) {
      error("RFC 3801 §4.3 (Content-Disposition)", header_of(path),
            "audio parts must carry Content-Disposition: inline; voice=...");
    } else {
      if (audio.disposition.type != "inline")
        warning("RFC 3801 §4.3 (Content-Disposition)", header_of(path),
                "audio parts are played in order and should be inline, not " + printable(audio.disposition.type));
      check_voice_parameter(audio, path);
    }
    const std::string body = decode_body(audio, raw_);
    if (body.empty()) error("RFC 3801 §4.4 (audio/32KADPCM)", where(path), "the audio part is empty");
    check_content_duration(audio, path, body.size());
  }

  void check_voice_parameter(const Part& audio, const std::string& path) {
    const auto voice = audio.disposition.params.get("voice");
    if (!voice) {
      warning("RFC 3801 §4.3 (voice=)", header_of(path), "no voice= parameter says whether this is the message, a spoken name or a subject");
      return;
    }
    static const std::vector<std::string> kKnown = {"voice-message", "voice-message-notification",
                                                    "originator-spoken-name", "recipient-spoken-name", "spoken-subject"};
    if (std::find(kKnown.begin(), kKnown.end(), ascii_lower(*voice)) == kKnown.end())
      warning("RFC 3801 §4.3 (voice=)", header_of(path), "voice=" + printable(*voice) + " is not a registered value");
  }

  void check_content_duration(const Part& audio, const std::string& path, std::size_t decoded_octets) {
    const auto raw = audio.header("Content-Duration");
    if (!raw) return;  // RFC 3803: optional
    const std::string value(ascii::trim(unfold(*raw)));
    const bool digits = !value.empty() && value.size() <= 10 && std::all_of(value.begin(), value.end(), ascii::is_digit);
    if (!digits || std::stoll(value) > 2147483647LL) {
      error("RFC 3803", header_of(path), "Content-Duration \"" + printable(value) + "\" is not a number of seconds (1 to 10 digits)");
      return;
    }
    if (!audio.content_type.is("audio", "32kadpcm") || decoded_octets == 0) return;
    const double actual = static_cast<double>(decoded_octets) / 4000.0;  // RFC 3802: 4000 octets per second
    const double stated = static_cast<double>(std::stoll(value));
    if (std::abs(stated - actual) > std::max(2.0, actual * 0.1))
      warning("RFC 3803", header_of(path),
              "Content-Duration says " + value + " s but the audio lasts " + std::to_string(std::lround(actual)) + " s");
  }

  void check_voice_labels(const Part& voice_message, const std::string& path) {
    std::map<std::string, int> seen;
    for (const Part& child : voice_message.children)
      if (const auto voice = child.disposition.params.get("voice")) ++seen[ascii_lower(*voice)];
    for (const auto& [label, times] : seen)
      if (times > 1)
        warning("RFC 3801 §4.3 (voice=)", where(path),
                "voice=" + label + " appears " + std::to_string(times) + " times at one level; there should be at most one");
    const bool has_content = std::any_of(voice_message.children.begin(), voice_message.children.end(), [](const Part& c) {
      return c.content_type.type == "audio" || c.content_type.type == "image" || c.is_message();
    });
    if (!has_content) error("RFC 3801 §4.4 (multipart/voice-message)", where(path), "the voice message holds no audio, fax or forwarded message");
  }

  // --- encapsulated messages ----------------------------------------------------
  void check_encapsulated(const Part& inner, const std::string& path) {
    const std::string location = "part " + path + " (forwarded message)";
    if (!inner.header("From") && !inner.header("Subject") && !inner.header("Date"))
      error("RFC 3801 §4.8", location, "a forwarded message needs at least one of From, Subject or Date");
    if (vpim_ && !inner.header("Content-Type"))
      warning("RFC 3801 §4.8", location, "a forwarded VPIM message should carry MIME-Version and Content-Type");
    check_mime_version(inner, location);
    check_part(inner, path, false);
  }

  // --- fax ---------------------------------------------------------------------
  void check_fax_image(const Part& image, const std::string& path, bool in_voice_message) {
    if (in_voice_message && image.content_type.is("image", "tiff") && !image.content_type.params.get("application"))
      error("RFC 3801 §4.4 (image/tiff)", header_of(path), "a fax inside a VPIM message must be image/tiff; application=faxbw");
    const std::string data = decode_body(image, raw_);
    const TiffSummary tiff = summarise_tiff(data);
    if (!tiff.is_tiff) {
      error("RFC 3302", where(path), "the image is not a TIFF file (" + tiff.problem + ")");
      return;
    }
    for (const std::string& reason : tiff.beyond_profile_s)
      warning("RFC 3965 §2.2, RFC 3949 §3", where(path),
              "TIFF is not profile S (" + reason + "); simple-mode fax recipients only have to read profile S");
  }

  static std::size_t longest_line(std::string_view text) {
    std::size_t longest = 0, start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::size_t length = end - start;
      if (length > 0 && text[start + length - 1] == '\r') --length;
      longest = std::max(longest, length);
      start = end + 1;
    }
    return longest;
  }

  // Values quoted back to the user: no control characters, bounded length.
  static std::string printable(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 80)) out.push_back(static_cast<unsigned char>(c) < 32 || c == 127 ? '?' : c);
    if (text.size() > 80) out += "...";
    return out;
  }

  std::string_view raw_;
  bool vpim_ = false;
  std::vector<Finding> findings_;
};

bool is_fax_image(const Part& part) {
  return part.content_type.is("image", "tiff") || part.content_type.is("image", "tiff-fx");
}

bool has_voice_label(const Part& part) {
  const auto voice = part.disposition.params.get("voice");
  return part.content_type.type == "audio" && voice && ascii_iequals(*voice, "Voice-Message");
}

}  // namespace

std::string_view describe(MessageKind kind) {
  switch (kind) {
    case MessageKind::vpim_voice: return "VPIM v2 voice message";
    case MessageKind::other_voice: return "voice message (not VPIM)";
    case MessageKind::internet_fax: return "Internet fax message";
    case MessageKind::plain: break;
  }
  return "plain mail";
}

const Part* find_voice_message(const Part& root) {
  if (root.content_type.is("multipart", "voice-message")) return &root;
  if (!root.content_type.is("multipart", "mixed")) return nullptr;
  for (const Part& child : root.children)
    if (child.content_type.is("multipart", "voice-message")) return &child;
  return nullptr;
}

MessageKind classify_message(const Part& root) {
  if (find_voice_message(root)) return MessageKind::vpim_voice;
  const auto context = root.header("Message-Context");
  const std::string context_value = context ? ascii_lower(ascii::trim(unfold(*context))) : std::string();
  // Only the top level counts: an audio file forwarded inside a message is not a voicemail.
  const auto any_top = [&root](bool (*test)(const Part&)) {
    return root.is_multipart() ? std::any_of(root.children.begin(), root.children.end(), test) : test(root);
  };
  if (context_value == "voice-message" || any_top(has_voice_label)) return MessageKind::other_voice;
  if (context_value == "fax-message" || any_top(is_fax_image)) return MessageKind::internet_fax;
  return MessageKind::plain;
}

bool ConformanceReport::has_errors() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::error; });
}

bool ConformanceReport::has_warnings() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::warning; });
}

ConformanceReport check_message(std::string_view raw) {
  if (raw.empty()) return {MessageKind::plain, {{Severity::error, "RFC 5322 §3.6", "message", "the message is empty"}}};
  return Checker(raw).run();
}

std::string format_finding(const Finding& finding) {
  return std::string(finding.severity == Severity::error ? "error" : "warning") + ": " + finding.rule + " [" +
         finding.location + "] " + finding.text;
}

}  // namespace umstore::mime
