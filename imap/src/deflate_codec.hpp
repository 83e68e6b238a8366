#pragma once
// COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (no zlib header) both ways, each
// write flushed with Z_SYNC_FLUSH so the client can read every response at
// once. About 300 KB of zlib state per compressed connection, paid only by
// clients that ask for it.
#include <memory>

#include "net/connection.hpp"

namespace umstore::imap {

std::unique_ptr<net::StreamCodec> make_deflate_codec();

}  // namespace umstore::imap
