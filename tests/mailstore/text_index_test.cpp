// The Maildir backend's full-text index (Folder::text_candidates): every
// message whose text contains a string is among the candidates, whatever
// happened to the index (deleted, damaged, lagging behind another writer).
#include <boost/test/unit_test.hpp>

#include <xapian.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "common/ascii.hpp"
#include "mailstore/folder_name.hpp"
#include "mailstore/mail_store.hpp"
#include "mailstore/message_text.hpp"
#include "temp_dir.hpp"
#include "test_messages.hpp"

using namespace umstore::mailstore;
namespace fs = std::filesystem;

namespace {

constexpr const char* kNumber = "+15550100";

const std::string& kPlain = kQuickBrownFox;
const std::string kLatin1 = latin1_message("Un caf=E9 cr=E8me, s'il vous pla=EEt.");
// "zebracorn transcript" in base64, in a text part two multiparts deep
const std::string kDeep =
    "From: c@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "--outer\r\nContent-Type: audio/32kadpcm\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
    "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
    "--inner\r\nContent-Type: text/html\r\n\r\n<p>nothing</p>\r\n"
    "--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "emVicmFjb3JuIHRyYW5zY3JpcHQ=\r\n--inner--\r\n--outer--\r\n";
// Subject "Grüße aus Köln" as an RFC 2047 word only
const std::string kEncodedSubject =
    "From: d@example.com\r\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n\r\nhello\r\n";

std::uint32_t documents_in(const fs::path& index) { return Xapian::Database(index.string()).get_doccount(); }

// Changes reach the index from a background thread, within a few hundred milliseconds.
void wait_for_documents(const fs::path& index, std::uint32_t count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::uint32_t now = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if ((now = documents_in(index)) == count) return;
    } catch (const Xapian::DatabaseOpeningError&) {  // not made yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_FAIL("the index " << index << " holds " << now << " documents, not " << count);
}

struct Indexed {
  TempDir dir;
  std::unique_ptr<MailStore> store = open_maildir_store(dir.path());
  FolderPtr inbox = store->user(kNumber)->open("INBOX");
  std::vector<std::uint32_t> uids;
  Indexed() {
    for (const auto* m : {&kPlain, &kLatin1, &kDeep, &kEncodedSubject}) uids.push_back(inbox->append(*m));
    wait_for_documents(index_dir(), 4);
  }
  fs::path index_dir() const { return dir.path() / kNumber / "INBOX" / "umstore-fts"; }
  std::vector<std::uint32_t> candidates(std::string_view needle) const {
    auto found = inbox->text_candidates(needle, uids);
    BOOST_REQUIRE(found);
    return found->possible;
  }
  // What a scan finds: the UIDs whose text contains the needle.
  std::vector<std::uint32_t> scan(std::string_view needle) const {
    std::vector<std::uint32_t> found;
    for (const std::uint32_t uid : uids) {
      const auto data = inbox->open_message(uid);
      const auto text = message_text(umstore::mime::parse_message(data->bytes()), data->bytes());
      const auto contains = [&](const std::string& part) {
        return umstore::ascii_lower(part).find(umstore::ascii_lower(needle)) != std::string::npos;
      };
      if (std::any_of(text.header.begin(), text.header.end(), contains) ||
          std::any_of(text.body.begin(), text.body.end(), contains))
        found.push_back(uid);
    }
    return found;
  }
  void require_superset_of_scan() const {
    for (const char* needle : {"quick", "QUICK BROWN", "k bro", "café", "crème", "zebracorn", "ebraco", "transcript",
                               "Grüße", "köln", "From", "example.com", "nothing", "absent"}) {
      const auto found = candidates(needle);
      for (const std::uint32_t uid : scan(needle))
        BOOST_TEST(std::binary_search(found.begin(), found.end(), uid), needle << ": UID " << uid << " missing");
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(text_index)

BOOST_AUTO_TEST_CASE(message_text_decodes_parts_and_charsets) {
  const auto text = message_text(umstore::mime::parse_message(kDeep), kDeep);
  BOOST_TEST(text.body.size() == 2u);  // the HTML and the plain text; not the audio
  BOOST_TEST(text.body.at(1) == "zebracorn transcript");
  const auto latin = message_text(umstore::mime::parse_message(kLatin1), kLatin1);
  BOOST_TEST(latin.body.at(0).find("café crème") != std::string::npos);
  const auto subject = message_text(umstore::mime::parse_message(kEncodedSubject), kEncodedSubject);
  BOOST_REQUIRE(subject.header.size() == 2u);
  BOOST_TEST(subject.header[1].find("Grüße aus Köln") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(appends_are_indexed_and_narrow_the_candidates) {
  Indexed s;  // waits for the four appends to be indexed
  BOOST_TEST(s.candidates("zebracorn") == std::vector<std::uint32_t>{s.uids[2]});
  BOOST_TEST(s.candidates("QUICK brown") == std::vector<std::uint32_t>{s.uids[0]});
  BOOST_TEST(s.candidates("café") == std::vector<std::uint32_t>{s.uids[1]});
  BOOST_TEST(s.candidates("grüße") == std::vector<std::uint32_t>{s.uids[3]});
  BOOST_TEST(s.candidates("absent").empty());
  BOOST_TEST(!s.inbox->text_candidates("ox", s.uids));  // no word of three bytes: read every message
  BOOST_TEST(!s.inbox->text_candidates("a b c", s.uids));
  s.require_superset_of_scan();
}

BOOST_AUTO_TEST_CASE(whole_words_are_proven_without_reading) {
  Indexed s;
  const auto in = [&](std::string_view needle) { return *s.inbox->text_candidates(needle, s.uids); };
  BOOST_TEST(in("ZebraCorn").in_body == std::vector<std::uint32_t>{s.uids[2]});  // base64, two multiparts deep
  BOOST_TEST(in("zebracorn").in_header.empty());
  BOOST_TEST(in("quick").in_body == std::vector<std::uint32_t>{s.uids[0]});
  BOOST_TEST(in("grüße").in_header == std::vector<std::uint32_t>{s.uids[3]});  // only in the decoded subject
  BOOST_TEST(in("grüße").in_body.empty());
  BOOST_TEST(in("ebraco").in_body.empty());  // inside a word: read to be sure
  BOOST_TEST(in("ebraco").possible == std::vector<std::uint32_t>{s.uids[2]});
  BOOST_TEST(in("quick brown").in_body.empty());  // not one word
  const std::vector<std::uint32_t> others{s.uids[0], s.uids[1]};
  BOOST_TEST(s.inbox->text_candidates("zebracorn", others)->in_body.empty());  // only those asked about
}

BOOST_AUTO_TEST_CASE(expunged_messages_leave_the_index) {
  Indexed s;
  s.inbox->change_flags(std::vector<std::uint32_t>{s.uids[2]}, FlagChange::Add, kDeleted);
  BOOST_TEST(s.inbox->expunge() == std::vector<std::uint32_t>{s.uids[2]});
  wait_for_documents(s.index_dir(), 3);
  s.uids.erase(s.uids.begin() + 2);
  BOOST_TEST(s.candidates("zebracorn").empty());
}

BOOST_AUTO_TEST_CASE(a_deleted_or_damaged_index_is_built_again) {
  Indexed s;
  fs::remove_all(s.index_dir());
  BOOST_TEST(s.candidates("zebracorn") == std::vector<std::uint32_t>{s.uids[2]});
  BOOST_TEST(documents_in(s.index_dir()) == 4u);
  for (const auto& file : fs::directory_iterator(s.index_dir())) {
    std::ofstream out(file.path(), std::ios::binary | std::ios::trunc);
    out << "not a xapian table";
  }
  BOOST_TEST(s.candidates("zebracorn") == std::vector<std::uint32_t>{s.uids[2]});
  s.require_superset_of_scan();
}

BOOST_AUTO_TEST_CASE(messages_the_index_lacks_are_indexed_by_the_search) {
  Indexed s;
  {
    // Another delivery agent drops a message into new/: the folder adopts
    // it at its next look, and the indexer never hears of it.
    std::ofstream out(s.dir.path() / kNumber / "INBOX" / "new" / "1700000000.hand.example", std::ios::binary);
    out << "From: e@example.com\r\nSubject: late\r\n\r\nzebracorn again\r\n";
  }
  s.uids = uids_of(s.inbox->snapshot());
  BOOST_REQUIRE(s.uids.size() == 5u);
  BOOST_TEST(documents_in(s.index_dir()) == 4u);
  BOOST_TEST(s.candidates("zebracorn") == (std::vector<std::uint32_t>{s.uids[2], s.uids[4]}));
  BOOST_TEST(documents_in(s.index_dir()) == 5u);
}

BOOST_AUTO_TEST_CASE(rebuild_indexes_every_message_and_copies_are_indexed) {
  Indexed s;
  BOOST_TEST(s.inbox->rebuild_text_index() == 4u);
  BOOST_TEST(documents_in(s.index_dir()) == 4u);
  BOOST_TEST(!fs::exists(s.index_dir().string() + ".new"));
  BOOST_TEST(!fs::exists(s.index_dir().string() + ".old"));
  s.store->user(kNumber)->create("Archive");
  const auto archive = s.store->user(kNumber)->open("Archive");
  const auto pairs = s.inbox->move_to(*archive, std::vector<std::uint32_t>{s.uids[2]});
  BOOST_REQUIRE(pairs.size() == 1u);
  wait_for_documents(s.dir.path() / kNumber / folder_directory_name("Archive") / "umstore-fts", 1);
  wait_for_documents(s.index_dir(), 3);
}

BOOST_AUTO_TEST_SUITE_END()
