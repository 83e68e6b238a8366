// THREAD and UID THREAD (RFC 5256 §3-4): ORDEREDSUBJECT and REFERENCES.
// Like SORT, the keys come from the header blocks the fetch cache keeps
// (Subject, Date, Message-ID, References, In-Reply-To), so threading a
// folder reads a message file only for a header not yet cached.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "fetch_cache.hpp"
#include "mime/imap_structure.hpp"
#include "sort_keys.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

constexpr std::size_t kMaxReferences = 100;

struct ThreadMessage {
  std::size_t index = 0;  // sequence number - 1
  std::uint32_t number = 0;  // as the response gives it: sequence number or UID
  std::int64_t sent = 0;
  BaseSubject subject;
  std::string message_id;               // without the angle brackets; "" when none
  std::vector<std::string> references;  // References, else In-Reply-To's first id
};

// The "<...>" message ids of a header field value, in order.
std::vector<std::string> message_ids(std::string_view value) {
  std::vector<std::string> ids;
  for (std::size_t open = value.find('<'); open != std::string_view::npos; open = value.find('<', open + 1)) {
    const auto close = value.find('>', open);
    if (close == std::string_view::npos) break;
    std::string id;
    for (const char c : value.substr(open + 1, close - open - 1))
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') id += c;  // folded ids
    if (!id.empty()) ids.push_back(std::move(id));
    open = close;
  }
  return ids;
}

// A thread tree node: a message, or a dummy standing for one that is
// referenced but not here (no message).
struct Node {
  const ThreadMessage* message = nullptr;
  std::size_t parent = kNone;
  std::vector<std::size_t> children;
  static constexpr std::size_t kNone = SIZE_MAX;
};

class ThreadTree {
 public:
  std::size_t add(const ThreadMessage* message = nullptr) {
    nodes_.push_back(Node{message, Node::kNone, {}});
    return nodes_.size() - 1;
  }
  Node& operator[](std::size_t n) { return nodes_[n]; }
  const Node& operator[](std::size_t n) const { return nodes_[n]; }

  bool is_ancestor(std::size_t maybe_ancestor, std::size_t n) const {
    for (std::size_t at = n; at != Node::kNone; at = nodes_[at].parent)
      if (at == maybe_ancestor) return true;
    return false;
  }
  // Makes `child` a child of `parent` (the last one), unless that would make a loop.
  void link(std::size_t parent, std::size_t child) {
    if (is_ancestor(child, parent)) return;
    unlink(child);
    nodes_[child].parent = parent;
    nodes_[parent].children.push_back(child);
  }
  void unlink(std::size_t child) {
    const std::size_t parent = nodes_[child].parent;
    if (parent == Node::kNone) return;
    auto& siblings = nodes_[parent].children;
    siblings.erase(std::find(siblings.begin(), siblings.end(), child));
    nodes_[child].parent = Node::kNone;
  }

  // The message a node sorts and groups by: itself, or a dummy's first child's.
  const ThreadMessage* representative(std::size_t n) const {
    while (!nodes_[n].message && !nodes_[n].children.empty()) n = nodes_[n].children.front();
    return nodes_[n].message;
  }
  // Sent date, then mailbox order (§2.2: ties keep the order of the mailbox).
  bool earlier(std::size_t a, std::size_t b) const {
    const auto* x = representative(a);
    const auto* y = representative(b);
    if (!x || !y) return x != nullptr;
    return x->sent != y->sent ? x->sent < y->sent : x->index < y->index;
  }
  // Sorts every set of siblings below `nodes`, depth first, then `nodes`.
  void sort(std::vector<std::size_t>& nodes) {
    for (const std::size_t n : nodes) sort(nodes_[n].children);
    std::stable_sort(nodes.begin(), nodes.end(), [this](std::size_t a, std::size_t b) { return earlier(a, b); });
  }

  // §4 thread-members / thread-nested for one node, without its parentheses.
  void render(std::size_t n, std::string& out) const {
    const Node& node = nodes_[n];
    if (node.message) out += std::to_string(node.message->number);
    if (node.children.size() == 1 && node.message) {
      out += ' ';
      render(node.children.front(), out);
      return;
    }
    if (node.message && !node.children.empty()) out += ' ';
    for (const std::size_t child : node.children) {
      out += '(';
      render(child, out);
      out += ')';
    }
  }

  std::size_t size() const { return nodes_.size(); }

 private:
  std::vector<Node> nodes_;
};

// §3 ORDEREDSUBJECT: messages with one base subject form a thread whose
// first (by sent date) is the parent of all the others.
std::vector<std::size_t> ordered_subject(ThreadTree& tree, const std::vector<ThreadMessage>& messages) {
  std::map<std::string, std::size_t> first_by_subject;
  std::vector<std::size_t> roots;
  std::vector<const ThreadMessage*> by_date;
  for (const auto& m : messages) by_date.push_back(&m);
  std::stable_sort(by_date.begin(), by_date.end(), [](const ThreadMessage* a, const ThreadMessage* b) {
    return a->sent != b->sent ? a->sent < b->sent : a->index < b->index;
  });
  for (const ThreadMessage* m : by_date) {
    const std::size_t node = tree.add(m);
    const auto [first, added] = first_by_subject.emplace(m->subject.text, node);
    if (added)
      roots.push_back(node);
    else
      tree.link(first->second, node);
  }
  return roots;
}

// §3 REFERENCES, steps 1-5 (step 6, sorting, is ThreadTree::sort).
std::vector<std::size_t> references(ThreadTree& tree, const std::vector<ThreadMessage>& messages) {
  // (1) a node per message id, linked along each References chain
  std::unordered_map<std::string, std::size_t> by_id;
  const auto node_for = [&](const std::string& id) {
    const auto [it, added] = by_id.emplace(id, 0);
    if (added) it->second = tree.add();
    return it->second;
  };
  for (const auto& m : messages) {
    std::size_t own;
    const auto known = m.message_id.empty() ? by_id.end() : by_id.find(m.message_id);
    if (m.message_id.empty() || (known != by_id.end() && tree[known->second].message))
      own = tree.add(&m);  // no id, or one already taken: an id of its own
    else {
      own = node_for(m.message_id);
      tree[own].message = &m;
    }
    std::size_t previous = Node::kNone;
    for (const auto& id : m.references) {
      const std::size_t at = node_for(id);
      // existing links stand: only a parentless node is linked
      if (previous != Node::kNone && previous != at && tree[at].parent == Node::kNone) tree.link(previous, at);
      previous = at;
    }
    // (1C) the message's own References are the authority on its parent
    tree.unlink(own);
    if (previous != Node::kNone && previous != own) tree.link(previous, own);
  }
  // (2) the root set
  std::vector<std::size_t> roots;
  for (std::size_t n = 0; n < tree.size(); ++n)
    if (tree[n].parent == Node::kNone) roots.push_back(n);
  // (3) prune dummies: none without children; below the root, a dummy's
  // children take its place; at the root, only a lone child does.
  const auto prune = [&](auto& self, std::vector<std::size_t> nodes, bool at_root) -> std::vector<std::size_t> {
    std::vector<std::size_t> out;
    for (const std::size_t n : nodes) {
      tree[n].children = self(self, tree[n].children, false);
      for (const std::size_t c : tree[n].children) tree[c].parent = n;
      if (tree[n].message) {
        out.push_back(n);
      } else if (!at_root || tree[n].children.size() == 1) {
        for (const std::size_t c : tree[n].children) {
          tree[c].parent = at_root ? Node::kNone : tree[n].parent;
          out.push_back(c);
        }
      } else if (!tree[n].children.empty()) {
        out.push_back(n);
      }
    }
    return out;
  };
  roots = prune(prune, roots, true);
  // (4) sort the roots, so the earliest of a subject heads the table
  tree.sort(roots);
  // (5) gather roots with the same base subject
  std::map<std::string, std::size_t> table;
  for (const std::size_t r : roots) {
    const auto* m = tree.representative(r);
    if (!m || m->subject.text.empty()) continue;
    const auto [it, added] = table.emplace(m->subject.text, r);
    if (added) continue;
    const std::size_t held = it->second;
    const bool prefer = (!tree[r].message && tree[held].message) ||
                        (tree[r].message && tree[held].message && tree[held].message->subject.reply_or_forward &&
                         !m->subject.reply_or_forward);
    if (prefer) it->second = r;
  }
  std::vector<std::size_t> merged;
  std::unordered_map<std::size_t, std::size_t> slot;  // root node -> its place in `merged`
  const auto keep = [&](std::size_t n) {
    if (slot.emplace(n, merged.size()).second) merged.push_back(n);
  };
  for (const std::size_t r : roots) {
    const auto* m = tree.representative(r);
    const auto it = m && !m->subject.text.empty() ? table.find(m->subject.text) : table.end();
    if (it == table.end() || it->second == r) {
      keep(r);
      continue;
    }
    std::size_t& held = it->second;
    if (!tree[r].message && !tree[held].message) {
      for (const std::size_t c : std::vector(tree[r].children)) tree.link(held, c);
    } else if (!tree[held].message || (m->subject.reply_or_forward && !tree[held].message->subject.reply_or_forward)) {
      tree.link(held, r);
    } else {
      const std::size_t dummy = tree.add();
      if (const auto at = slot.find(held); at != slot.end()) {
        merged[at->second] = dummy;  // the dummy takes the held root's place
        slot.emplace(dummy, at->second);
        slot.erase(held);
      }
      tree.link(dummy, held);
      tree.link(dummy, r);
      held = dummy;
    }
    keep(held);
  }
  return merged;
}

}  // namespace

net::Task<void> Session::cmd_thread(const Command& cmd) {
  const bool uid = is_uid_command(cmd);
  // THREAD algorithm charset search-key...
  const bool by_references = !cmd.args.empty() && cmd.args[0].is_atom("REFERENCES");
  if (cmd.args.size() < 3 || !(by_references || cmd.args[0].is_atom("ORDEREDSUBJECT")) ||
      !cmd.args[1].is_astring()) {
    reply(cmd, "BAD", "THREAD needs ORDEREDSUBJECT or REFERENCES, a charset and search keys");
    co_return;
  }
  std::vector<Arg> with_charset{Arg{Arg::Kind::Atom, "CHARSET", {}}};
  with_charset.insert(with_charset.end(), cmd.args.begin() + 1, cmd.args.end());
  const auto key = search_key_or_reply(cmd, with_charset);
  if (!key) co_return;
  const auto& sel = *selected_;
  const std::uint32_t uid_validity = ctx_.fetch_cache ? sel.folder->uid_validity() : 0;
  std::vector<ThreadMessage> messages;
  for (const std::size_t i : matching_indexes(*key)) {
    const auto& info = sel.messages[i];
    const std::string block = header_block(ctx_.fetch_cache, *sel.folder, uid_validity, info.uid);
    const auto root = mime::parse_message(block);
    ThreadMessage m;
    m.index = i;
    m.number = uid ? info.uid : static_cast<std::uint32_t>(i + 1);
    m.sent = sent_date(root, info);
    m.subject = base_subject(mime::header_value(root, "Subject").value_or(""));
    if (by_references) {
      const auto ids = message_ids(mime::header_value(root, "Message-ID").value_or(""));
      if (!ids.empty()) m.message_id = ids.front();
      m.references = message_ids(mime::header_value(root, "References").value_or(""));
      // The nearest ancestors are last; a bound keeps crafted chains from making deep trees.
      if (m.references.size() > kMaxReferences)
        m.references.erase(m.references.begin(), m.references.end() - kMaxReferences);
      if (m.references.empty()) {
        auto in_reply_to = message_ids(mime::header_value(root, "In-Reply-To").value_or(""));
        if (!in_reply_to.empty()) m.references.push_back(std::move(in_reply_to.front()));
      }
    }
    messages.push_back(std::move(m));
  }
  ThreadTree tree;
  auto roots = by_references ? references(tree, messages) : ordered_subject(tree, messages);
  tree.sort(roots);
  std::string line = "THREAD";
  if (!roots.empty()) line += ' ';
  for (const std::size_t r : roots) {
    line += '(';
    tree.render(r, line);
    line += ')';
  }
  untagged(line);
  reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
