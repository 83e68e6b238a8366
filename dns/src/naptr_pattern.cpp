#include "naptr_pattern.hpp"

#include <cstddef>

namespace umstore::dns {
namespace {

// A NAPTR record comes from a DNS server umstore does not run, and glibc's
// regcomp is not safe against a crafted pattern: its epsilon closures
// (calc_eclosure_iter) grow with the chains of empty transitions that
// groups, alternatives, anchors and repetitions make, and "X+" compiles X
// twice. Fuzzing found 255-byte patterns that kept it busy for seconds.
// So a pattern is parsed here first, by the ERE grammar, and refused
// unless every one of those is few. ENUM's own patterns ("^.*$",
// "^\+(.*)$", "^\+1(555)(.*)$") use a handful of each.
constexpr int kMaxDepth = 4;         // nested groups
constexpr int kMaxGroups = 9;        // \1..\9 are all a replacement can name
constexpr int kMaxAlternatives = 8;  // '|'
constexpr int kMaxRepetitions = 8;   // '*', '+', '?'
constexpr int kMaxAnchors = 4;       // '^', '$'
constexpr int kMaxNodes = 512;       // after '+' doubles what it repeats

class PatternCheck {
 public:
  explicit PatternCheck(std::string_view pattern) : text_(pattern) {}

  bool bounded() {
    const int nodes = alternatives(0);
    return ok_ && pos_ == text_.size() && nodes <= kMaxNodes;
  }

 private:
  // regex := branch ('|' branch)*; returns the nodes it compiles to.
  int alternatives(int depth) {
    int nodes = branch(depth);
    while (ok_ && peek() == '|') {
      ++pos_;
      if (++alternations_ > kMaxAlternatives) return fail();
      nodes += branch(depth) + 1;
    }
    return nodes;
  }

  // branch := piece+ (an empty branch is an empty transition: refused).
  int branch(int depth) {
    int nodes = 0;
    bool any = false;
    while (ok_ && pos_ < text_.size() && peek() != '|' && peek() != ')') {
      nodes += piece(depth);
      any = true;
      if (nodes > kMaxNodes) return fail();
    }
    if (!any) return fail();
    return nodes;
  }

  // piece := atom [ '*' | '+' | '?' ], one operator at most.
  int piece(int depth) {
    int nodes = atom(depth);
    const char op = peek();
    if (op != '*' && op != '+' && op != '?') return nodes;
    ++pos_;
    if (++repetitions_ > kMaxRepetitions) return fail();
    if (op == '+') nodes *= 2;  // regcomp compiles X+ as XX*
    const char next = peek();
    if (next == '*' || next == '+' || next == '?' || next == '{') return fail();
    return nodes + 1;
  }

  int atom(int depth) {
    const char c = text_[pos_++];
    switch (c) {
      case '(': {
        if (depth + 1 > kMaxDepth || ++groups_ > kMaxGroups) return fail();
        const int nodes = alternatives(depth + 1);
        if (!ok_ || peek() != ')') return fail();
        ++pos_;
        return nodes + 2;
      }
      case '[': return bracket();
      case '^':
      case '$': return ++anchors_ > kMaxAnchors ? fail() : 1;
      case '\\': return escaped();
      case ')':
      case '*':
      case '+':
      case '?':
      case '{':  // counted repetitions: "((a{99}){99}){99}" is a million states
        return fail();
      default: return 1;
    }
  }

  // '\' before punctuation is that character. Before a digit it is a
  // back-reference (matched by backtracking); before a letter or one of
  // <>`' a GNU extension (word and buffer anchors, classes): refused.
  int escaped() {
    if (pos_ == text_.size()) return fail();
    const char c = text_[pos_++];
    const bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    if (alnum || c == '<' || c == '>' || c == '`' || c == '\'') return fail();
    return 1;
  }

  // '[' ['^'] [']'] ... ']' with [:class:] names; [= =] and [. .] refused.
  int bracket() {
    if (peek() == '^') ++pos_;
    if (peek() == ']') ++pos_;
    while (pos_ < text_.size() && text_[pos_] != ']') {
      if (text_[pos_] == '[' && pos_ + 1 < text_.size()) {
        const char kind = text_[pos_ + 1];
        if (kind == '=' || kind == '.') return fail();
        if (kind == ':') {
          const auto end = text_.find(":]", pos_ + 2);
          if (end == std::string_view::npos) return fail();
          pos_ = end + 2;
          continue;
        }
      }
      ++pos_;
    }
    if (pos_ == text_.size()) return fail();
    ++pos_;
    return 1;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  int fail() {
    ok_ = false;
    pos_ = text_.size();
    return 0;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  bool ok_ = true;
  int groups_ = 0;
  int alternations_ = 0;
  int repetitions_ = 0;
  int anchors_ = 0;
};

}  // namespace

bool is_bounded_pattern(std::string_view pattern) { return PatternCheck(pattern).bounded(); }

}  // namespace umstore::dns
