#include "pg_schema.hpp"

#include <array>
#include <string_view>

namespace umstore::mailstore::pg {
namespace {

// Never edit a migration once released: add the next one.
constexpr std::array<std::string_view, 10> kMigrations = {
    // 1: messages and accounts.
    R"sql(
CREATE TABLE accounts (
  number        text PRIMARY KEY CHECK (number ~ '^\+[0-9]{2,15}$'),
  name          text NOT NULL,
  email         text NOT NULL DEFAULT '',
  password_hash text NOT NULL,          -- Argon2id, libsodium's string form
  playable      text NOT NULL DEFAULT 'wav' CHECK (playable IN ('wav', 'mp3', 'none')),
  fax_pdf       boolean NOT NULL DEFAULT false,
  file_by_kind  boolean NOT NULL DEFAULT false,
  created       timestamptz NOT NULL DEFAULT now()
);

-- One row per E.164 mailbox with messages; usage is updated in the same
-- transaction as every append and expunge, so quota checks see every node.
CREATE TABLE mailboxes (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number        text NOT NULL UNIQUE,
  quota_bytes   bigint NOT NULL DEFAULT 0,   -- 0 = unlimited
  used_bytes    bigint NOT NULL DEFAULT 0,
  used_messages bigint NOT NULL DEFAULT 0
);

CREATE TABLE folders (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  mailbox_id     bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
  guid           text NOT NULL UNIQUE DEFAULT replace(gen_random_uuid()::text, '-', ''),  -- Folder::id()
  name           text NOT NULL,             -- IMAP name, UTF-8, '/' hierarchy
  special_use    text NOT NULL DEFAULT '',
  uid_validity   bigint NOT NULL,
  uid_next       bigint NOT NULL DEFAULT 1,  -- allocated inside the append transaction
  highest_modseq bigint NOT NULL DEFAULT 1,
  first_recent   bigint NOT NULL DEFAULT 1,  -- \Recent: UIDs from here are unclaimed
  UNIQUE (mailbox_id, name)
);

-- IMAP subscriptions are names, not folders: a client may subscribe to a
-- name that does not exist (yet), and a subscription outlives its folder.
CREATE TABLE subscriptions (
  mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
  name       text NOT NULL,
  PRIMARY KEY (mailbox_id, name)
);

-- Bodies are content-addressed: a voicemail sent to 200 mailboxes is stored
-- once; the last reference removes it.
CREATE TABLE bodies (
  sha256     bytea PRIMARY KEY,
  size       bigint NOT NULL,
  data       bytea NOT NULL,
  refs       bigint NOT NULL DEFAULT 0
);
CREATE INDEX bodies_unreferenced ON bodies (sha256) WHERE refs <= 0;

CREATE TABLE messages (
  folder_id     bigint NOT NULL REFERENCES folders ON DELETE CASCADE,
  uid           bigint NOT NULL,
  modseq        bigint NOT NULL,
  flags         smallint NOT NULL DEFAULT 0,
  keywords      text[] NOT NULL DEFAULT '{}',
  internal_date bigint NOT NULL,             -- seconds since the epoch, UTC
  save_date     bigint NOT NULL,
  size          bigint NOT NULL,
  body_sha256   bytea NOT NULL REFERENCES bodies,
  header        bytea NOT NULL,              -- the header block, for FETCH without the body
  metadata      jsonb NOT NULL DEFAULT '{}', -- ENVELOPE, BODYSTRUCTURE, sort keys: computed once at append
  PRIMARY KEY (folder_id, uid)
);
CREATE INDEX messages_modseq ON messages (folder_id, modseq);

-- What changed, for reading changes since a mod-sequence (IMAP resync,
-- QRESYNC VANISHED). Appends and flag changes are the messages' own modseq;
-- expunges leave a row here.
CREATE TABLE expunged (
  folder_id bigint NOT NULL REFERENCES folders ON DELETE CASCADE,
  uid       bigint NOT NULL,
  modseq    bigint NOT NULL,
  PRIMARY KEY (folder_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);

-- Exactly-once local delivery: a job retried after a crash finds its copy.
CREATE TABLE deliveries (
  mailbox_id bigint NOT NULL REFERENCES mailboxes ON DELETE CASCADE,
  key        text NOT NULL,                  -- SMTP queue id or ingest id
  folder_id  bigint NOT NULL,
  uid        bigint NOT NULL,
  delivered  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (mailbox_id, key)
);
)sql",
    // 2: delivery keys age out once no retry can ask for them (MailTables::append).
    R"sql(
CREATE INDEX deliveries_age ON deliveries (delivered);
)sql",
    // 3: message aging: a mailbox's own days (NULL: the configured default).
    R"sql(
ALTER TABLE accounts ADD COLUMN age_days integer CHECK (age_days >= 0),
                     ADD COLUMN trash_days integer CHECK (trash_days >= 0);
)sql",
    // 4: quotas in messages and seconds of voice beside bytes; a message's
    // seconds (its audio Content-Duration) are kept so expunge gives them back.
    // Messages stored before this count no seconds.
    R"sql(
ALTER TABLE mailboxes ADD COLUMN quota_messages bigint NOT NULL DEFAULT 0,
                      ADD COLUMN quota_seconds  bigint NOT NULL DEFAULT 0,
                      ADD COLUMN used_seconds   bigint NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN seconds bigint NOT NULL DEFAULT 0;
)sql",
    // 5: full-text search (pg_text_search.hpp): each body's searchable text,
    // NULL until computed (bodies stored before this step get theirs from
    // the first search of their folder or `umstore index rebuild`), and a
    // trigram index on it where pg_trgm can be created. Without the rights
    // or the extension, the step still applies and searches read the
    // messages (the server logs why); `umstore index rebuild` tries again.
    R"sql(
ALTER TABLE bodies ADD COLUMN search_text text;
CREATE INDEX bodies_without_text ON bodies (sha256) WHERE search_text IS NULL;
-- From a body to its messages: the search's join, and the check of the
-- foreign key when unreferenced bodies are deleted.
CREATE INDEX messages_body ON messages (body_sha256);
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXECUTE format('CREATE INDEX bodies_search_text ON bodies USING gin (search_text %I.gin_trgm_ops)',
                 (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                  WHERE e.extname = 'pg_trgm'));
EXCEPTION WHEN insufficient_privilege OR undefined_file OR undefined_object OR feature_not_supported THEN
  RAISE WARNING 'no full-text index (%): searches read every message', SQLERRM;
END
$$;
)sql",
    // 6: the search text marks the header's end and the parts' bounds, and
    // holds U+FFFD for what it cannot hold (pg_text_search.hpp), so that the
    // database's match is the search's answer; text of the earlier form is
    // computed again by the first search of its folder or `umstore index rebuild`.
    // From a body to its messages without reading them: a search's join
    // names thousands of bodies, a page of messages each.
    R"sql(
UPDATE bodies SET search_text = NULL WHERE search_text IS NOT NULL;
DROP INDEX messages_body;
CREATE INDEX messages_body ON messages (body_sha256) INCLUDE (folder_id, uid);
)sql",
    R"sql(
-- Stores one message in one round trip (MailTables::append): a statement
-- each took six on the wire, and on a busy database the round trips, not
-- the work, were most of an append's cost. One statement is also its own
-- transaction: every step below commits together or not at all.
-- o_outcome: 'stored' (o_uid, o_modseq), 'earlier' (the delivery key was
-- stored before: o_uid and o_folder are that copy's; nothing charged),
-- 'full' (over quota: nothing stored) or 'gone' (no such mailbox). A
-- folder removed or renamed since the caller looked it up, or a kept UID
-- the folder has given out already, raises UM001 and leaves nothing charged.
CREATE FUNCTION umstore_store_message(
    p_folder bigint, p_name text, p_mailbox bigint, p_uid bigint, p_body bytea, p_search_text text,
    p_flags smallint, p_keywords text, p_internal_date bigint, p_header bytea, p_seconds bigint,
    p_key text, p_enforce_quota boolean, p_channel text,
    OUT o_outcome text, OUT o_uid bigint, OUT o_modseq bigint, OUT o_folder text)
LANGUAGE plpgsql AS $$
DECLARE
  v_size bigint := length(p_body);
BEGIN
  -- The mailbox row's lock orders deliveries to one mailbox, so a delivery
  -- under the same key that committed first is seen by the look below
  -- (each statement of a function reads what committed before it began).
  PERFORM 1 FROM mailboxes WHERE id = p_mailbox FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'gone';
    RETURN;
  END IF;
  IF p_key IS NOT NULL THEN
    SELECT d.uid, f.name INTO o_uid, o_folder FROM deliveries d JOIN folders f ON f.id = d.folder_id
      WHERE d.mailbox_id = p_mailbox AND d.key = p_key;
    IF FOUND THEN
      o_outcome := 'earlier';
      RETURN;
    END IF;
  END IF;
  UPDATE mailboxes SET used_bytes = used_bytes + v_size, used_messages = used_messages + 1,
                       used_seconds = used_seconds + p_seconds
    WHERE id = p_mailbox AND (NOT p_enforce_quota OR (
      (quota_bytes = 0 OR used_bytes + v_size <= quota_bytes)
      AND (quota_messages = 0 OR used_messages + 1 <= quota_messages)
      AND (p_seconds = 0 OR quota_seconds = 0 OR used_seconds + p_seconds <= quota_seconds)));
  IF NOT FOUND THEN
    o_outcome := 'full';
    RETURN;
  END IF;
  UPDATE folders SET uid_next = CASE WHEN p_uid > 0 THEN p_uid + 1 ELSE uid_next + 1 END,
                     highest_modseq = highest_modseq + 1
    WHERE id = p_folder AND name = p_name AND (p_uid = 0 OR uid_next <= p_uid)
    RETURNING uid_next - 1, highest_modseq INTO o_uid, o_modseq;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'folder "%" was removed or renamed, or has given out UID % already', p_name, p_uid
      USING ERRCODE = 'UM001';
  END IF;
  -- Content-addressed: a second copy only counts a reference.
  INSERT INTO bodies (sha256, size, data, refs, search_text)
    VALUES (sha256(p_body), v_size, p_body, 1, p_search_text)
    ON CONFLICT (sha256) DO UPDATE SET refs = bodies.refs + 1,
      search_text = coalesce(bodies.search_text, EXCLUDED.search_text);
  INSERT INTO messages (folder_id, uid, modseq, flags, keywords, internal_date, save_date, size, body_sha256,
                        header, seconds)
    VALUES (p_folder, o_uid, o_modseq, p_flags, string_to_array(p_keywords, ' '), p_internal_date,
            floor(extract(epoch FROM now()))::bigint, v_size, sha256(p_body), p_header, p_seconds);
  IF p_key IS NOT NULL THEN
    INSERT INTO deliveries (mailbox_id, key, folder_id, uid) VALUES (p_mailbox, p_key, p_folder, o_uid);
  END IF;
  PERFORM pg_notify(p_channel, p_folder::text);
  o_outcome := 'stored';
END
$$;
-- A STORE's write in one round trip, after an unlocked read of the flags
-- (MailTables::change_flags): the new flags go in only if every message
-- still has the mod-sequence the read saw; otherwise o_modseq is 0 and the
-- caller reads again. 0 too when the folder is gone.
CREATE FUNCTION umstore_write_flags(p_folder bigint, p_uids bigint[], p_seen bigint[], p_flags smallint[],
                                    p_keywords text[], p_channel text, OUT o_modseq bigint)
LANGUAGE plpgsql AS $$
BEGIN
  o_modseq := 0;
  PERFORM 1 FROM folders WHERE id = p_folder FOR UPDATE;
  IF NOT FOUND OR (SELECT count(*) FROM messages m JOIN unnest(p_uids, p_seen) AS v(uid, modseq)
                     ON m.uid = v.uid AND m.modseq = v.modseq WHERE m.folder_id = p_folder)
                  <> cardinality(p_uids) THEN
    RETURN;
  END IF;
  UPDATE folders SET highest_modseq = highest_modseq + 1 WHERE id = p_folder RETURNING highest_modseq INTO o_modseq;
  UPDATE messages m SET flags = v.flags, keywords = string_to_array(v.keywords, ' '), modseq = o_modseq
    FROM unnest(p_uids, p_flags, p_keywords) AS v(uid, flags, keywords)
    WHERE m.folder_id = p_folder AND m.uid = v.uid;
  PERFORM pg_notify(p_channel, p_folder::text);
END
$$;
-- Bodies and their text are compressed as they are stored (TOAST): LZ4
-- costs a fraction of the default pglz's CPU for about the same ratio on
-- mail. Servers built without LZ4 keep pglz.
DO $$
BEGIN
  ALTER TABLE bodies ALTER COLUMN data SET COMPRESSION lz4, ALTER COLUMN search_text SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  RAISE WARNING 'bodies stay compressed with pglz: %', SQLERRM;
END
$$;
)sql",
    // 8: what IMAP lists messages with, computed once at append.
    R"sql(
-- The header, ENVELOPE, BODY and BODYSTRUCTURE (mailstore/message_metadata.hpp,
-- its stored form without the header, which is the header column). NULL for
-- messages stored before, filled by the first FETCH that needs them. It
-- replaces the metadata column that was kept empty for this.
ALTER TABLE messages DROP COLUMN metadata, ADD COLUMN imap_metadata bytea;
-- The append now takes the metadata; the search text is no longer passed
-- (pg_text_filler.hpp computes it after the commit).
DROP FUNCTION umstore_store_message(bigint, text, bigint, bigint, bytea, text, smallint, text, bigint, bytea, bigint,
                                    text, boolean, text);
CREATE FUNCTION umstore_store_message(
    p_folder bigint, p_name text, p_mailbox bigint, p_uid bigint, p_body bytea, p_metadata bytea,
    p_flags smallint, p_keywords text, p_internal_date bigint, p_header bytea, p_seconds bigint,
    p_key text, p_enforce_quota boolean, p_channel text,
    OUT o_outcome text, OUT o_uid bigint, OUT o_modseq bigint, OUT o_folder text)
LANGUAGE plpgsql AS $$
DECLARE
  v_size bigint := length(p_body);
BEGIN
  -- The mailbox row's lock orders deliveries to one mailbox, so a delivery
  -- under the same key that committed first is seen by the look below
  -- (each statement of a function reads what committed before it began).
  PERFORM 1 FROM mailboxes WHERE id = p_mailbox FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'gone';
    RETURN;
  END IF;
  IF p_key IS NOT NULL THEN
    SELECT d.uid, f.name INTO o_uid, o_folder FROM deliveries d JOIN folders f ON f.id = d.folder_id
      WHERE d.mailbox_id = p_mailbox AND d.key = p_key;
    IF FOUND THEN
      o_outcome := 'earlier';
      RETURN;
    END IF;
  END IF;
  UPDATE mailboxes SET used_bytes = used_bytes + v_size, used_messages = used_messages + 1,
                       used_seconds = used_seconds + p_seconds
    WHERE id = p_mailbox AND (NOT p_enforce_quota OR (
      (quota_bytes = 0 OR used_bytes + v_size <= quota_bytes)
      AND (quota_messages = 0 OR used_messages + 1 <= quota_messages)
      AND (p_seconds = 0 OR quota_seconds = 0 OR used_seconds + p_seconds <= quota_seconds)));
  IF NOT FOUND THEN
    o_outcome := 'full';
    RETURN;
  END IF;
  UPDATE folders SET uid_next = CASE WHEN p_uid > 0 THEN p_uid + 1 ELSE uid_next + 1 END,
                     highest_modseq = highest_modseq + 1
    WHERE id = p_folder AND name = p_name AND (p_uid = 0 OR uid_next <= p_uid)
    RETURNING uid_next - 1, highest_modseq INTO o_uid, o_modseq;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'folder "%" was removed or renamed, or has given out UID % already', p_name, p_uid
      USING ERRCODE = 'UM001';
  END IF;
  -- Content-addressed: a second copy only counts a reference.
  INSERT INTO bodies (sha256, size, data, refs) VALUES (sha256(p_body), v_size, p_body, 1)
    ON CONFLICT (sha256) DO UPDATE SET refs = bodies.refs + 1;
  INSERT INTO messages (folder_id, uid, modseq, flags, keywords, internal_date, save_date, size, body_sha256,
                        header, imap_metadata, seconds)
    VALUES (p_folder, o_uid, o_modseq, p_flags, string_to_array(p_keywords, ' '), p_internal_date,
            floor(extract(epoch FROM now()))::bigint, v_size, sha256(p_body), p_header, p_metadata, p_seconds);
  IF p_key IS NOT NULL THEN
    INSERT INTO deliveries (mailbox_id, key, folder_id, uid) VALUES (p_mailbox, p_key, p_folder, o_uid);
  END IF;
  PERFORM pg_notify(p_channel, p_folder::text);
  o_outcome := 'stored';
END
$$;
)sql",
    // 9: a STORE of a few messages runs statements planned once.
    R"sql(
-- Migration 7's statements over unnest() were planned anew at every call
-- (PostgreSQL judges a plan for any array worse than one for the array at
-- hand), which cost more than running them for the one or two messages a
-- STORE usually changes, and lengthened the time the folder row is locked.
-- Up to 16 messages now go one at a time through statements planned once
-- per connection; more go through the set-based statements as before.
CREATE OR REPLACE FUNCTION umstore_write_flags(p_folder bigint, p_uids bigint[], p_seen bigint[], p_flags smallint[],
                                    p_keywords text[], p_channel text, OUT o_modseq bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_count integer := cardinality(p_uids);
BEGIN
  o_modseq := 0;
  PERFORM 1 FROM folders WHERE id = p_folder FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF v_count <= 16 THEN
    FOR i IN 1..v_count LOOP
      PERFORM 1 FROM messages WHERE folder_id = p_folder AND uid = p_uids[i] AND modseq = p_seen[i];
      IF NOT FOUND THEN
        RETURN;
      END IF;
    END LOOP;
  ELSIF (SELECT count(*) FROM messages m JOIN unnest(p_uids, p_seen) AS v(uid, modseq)
           ON m.uid = v.uid AND m.modseq = v.modseq WHERE m.folder_id = p_folder) <> v_count THEN
    RETURN;
  END IF;
  UPDATE folders SET highest_modseq = highest_modseq + 1 WHERE id = p_folder RETURNING highest_modseq INTO o_modseq;
  IF v_count <= 16 THEN
    FOR i IN 1..v_count LOOP
      UPDATE messages SET flags = p_flags[i], keywords = string_to_array(p_keywords[i], ' '), modseq = o_modseq
        WHERE folder_id = p_folder AND uid = p_uids[i];
    END LOOP;
  ELSE
    UPDATE messages m SET flags = v.flags, keywords = string_to_array(v.keywords, ' '), modseq = o_modseq
      FROM unnest(p_uids, p_flags, p_keywords) AS v(uid, flags, keywords)
      WHERE m.folder_id = p_folder AND m.uid = v.uid;
  END IF;
  PERFORM pg_notify(p_channel, p_folder::text);
END
$$;
)sql",
    // 10: the body's SHA-256 comes from the node.
    R"sql(
-- The node hashes the body (OpenSSL, with the CPU's SHA instructions) and
-- keeps the digest for the search text it writes after the commit; the
-- function hashed it twice more, about 2 ms of the database's CPU for a
-- minute of voicemail kept in two forms (1.6 MB).
DROP FUNCTION umstore_store_message(bigint, text, bigint, bigint, bytea, bytea, smallint, text, bigint, bytea, bigint,
                                    text, boolean, text);
CREATE FUNCTION umstore_store_message(
    p_folder bigint, p_name text, p_mailbox bigint, p_uid bigint, p_body bytea, p_sha256 bytea,
    p_metadata bytea, p_flags smallint, p_keywords text, p_internal_date bigint, p_header bytea, p_seconds bigint,
    p_key text, p_enforce_quota boolean, p_channel text,
    OUT o_outcome text, OUT o_uid bigint, OUT o_modseq bigint, OUT o_folder text)
LANGUAGE plpgsql AS $$
DECLARE
  v_size bigint := length(p_body);
BEGIN
  -- The mailbox row's lock orders deliveries to one mailbox, so a delivery
  -- under the same key that committed first is seen by the look below
  -- (each statement of a function reads what committed before it began).
  PERFORM 1 FROM mailboxes WHERE id = p_mailbox FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'gone';
    RETURN;
  END IF;
  IF p_key IS NOT NULL THEN
    SELECT d.uid, f.name INTO o_uid, o_folder FROM deliveries d JOIN folders f ON f.id = d.folder_id
      WHERE d.mailbox_id = p_mailbox AND d.key = p_key;
    IF FOUND THEN
      o_outcome := 'earlier';
      RETURN;
    END IF;
  END IF;
  UPDATE mailboxes SET used_bytes = used_bytes + v_size, used_messages = used_messages + 1,
                       used_seconds = used_seconds + p_seconds
    WHERE id = p_mailbox AND (NOT p_enforce_quota OR (
      (quota_bytes = 0 OR used_bytes + v_size <= quota_bytes)
      AND (quota_messages = 0 OR used_messages + 1 <= quota_messages)
      AND (p_seconds = 0 OR quota_seconds = 0 OR used_seconds + p_seconds <= quota_seconds)));
  IF NOT FOUND THEN
    o_outcome := 'full';
    RETURN;
  END IF;
  UPDATE folders SET uid_next = CASE WHEN p_uid > 0 THEN p_uid + 1 ELSE uid_next + 1 END,
                     highest_modseq = highest_modseq + 1
    WHERE id = p_folder AND name = p_name AND (p_uid = 0 OR uid_next <= p_uid)
    RETURNING uid_next - 1, highest_modseq INTO o_uid, o_modseq;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'folder "%" was removed or renamed, or has given out UID % already', p_name, p_uid
      USING ERRCODE = 'UM001';
  END IF;
  -- Content-addressed: a second copy only counts a reference.
  INSERT INTO bodies (sha256, size, data, refs) VALUES (p_sha256, v_size, p_body, 1)
    ON CONFLICT (sha256) DO UPDATE SET refs = bodies.refs + 1;
  INSERT INTO messages (folder_id, uid, modseq, flags, keywords, internal_date, save_date, size, body_sha256,
                        header, imap_metadata, seconds)
    VALUES (p_folder, o_uid, o_modseq, p_flags, string_to_array(p_keywords, ' '), p_internal_date,
            floor(extract(epoch FROM now()))::bigint, v_size, p_sha256, p_header, p_metadata, p_seconds);
  IF p_key IS NOT NULL THEN
    INSERT INTO deliveries (mailbox_id, key, folder_id, uid) VALUES (p_mailbox, p_key, p_folder, o_uid);
  END IF;
  PERFORM pg_notify(p_channel, p_folder::text);
  o_outcome := 'stored';
END
$$;
)sql",
};

constexpr std::string_view kVersionTable =
    "CREATE TABLE IF NOT EXISTS umstore_schema (version integer NOT NULL, applied timestamptz NOT NULL DEFAULT now())";
// Any constant: nodes migrating at the same time take turns.
constexpr std::string_view kMigrationLock = "SELECT pg_advisory_xact_lock(7220915)";

}  // namespace

int known_schema_version() noexcept { return static_cast<int>(kMigrations.size()); }

int schema_version(Connection& c) {
  const auto exists = c.exec("SELECT to_regclass('umstore_schema') IS NOT NULL");
  if (!exists.boolean(0, 0)) return 0;
  const auto r = c.exec("SELECT coalesce(max(version), 0) FROM umstore_schema");
  return static_cast<int>(r.integer(0, 0));
}

int migrate(Connection& c) {
  int applied = 0;
  for (;;) {
    Transaction t(c);
    c.exec(kMigrationLock);
    c.exec(kVersionTable);
    const int version = schema_version(c);
    if (version >= known_schema_version()) {
      t.commit();
      return applied;
    }
    c.exec(kMigrations[static_cast<std::size_t>(version)]);
    c.exec("INSERT INTO umstore_schema (version) VALUES ($1)", {IntParam(version + 1)});
    t.commit();
    ++applied;
  }
}

void check_schema(Connection& c) {
  const int version = schema_version(c);
  const int known = known_schema_version();
  if (version > known)
    throw SchemaMismatch("the database's schema is version " + std::to_string(version) + ", newer than this umstore (" +
                         std::to_string(known) + ") knows: upgrade umstore on this node");
  if (version < known)
    throw SchemaMismatch("the database's schema is version " + std::to_string(version) + ", this umstore needs " +
                         std::to_string(known) + ": run 'umstore db migrate'");
}

}  // namespace umstore::mailstore::pg
