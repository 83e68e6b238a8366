#include "deflate_codec.hpp"

#include <zlib.h>

#include <stdexcept>

namespace umstore::imap {
namespace {

constexpr int kRawDeflate = -15;  // negative window bits: no zlib header (RFC 4978 §4)
constexpr std::size_t kChunk = 16 * 1024;

class DeflateCodec final : public net::StreamCodec {
 public:
  DeflateCodec() {
    if (inflateInit2(&in_, kRawDeflate) != Z_OK) throw std::runtime_error("zlib inflateInit2 failed");
    if (deflateInit2(&out_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kRawDeflate, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      inflateEnd(&in_);
      throw std::runtime_error("zlib deflateInit2 failed");
    }
  }
  ~DeflateCodec() override {
    inflateEnd(&in_);
    deflateEnd(&out_);
  }
  DeflateCodec(const DeflateCodec&) = delete;
  DeflateCodec& operator=(const DeflateCodec&) = delete;

  bool decode(std::string_view wire, std::string& plain) override {
    in_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(wire.data()));
    in_.avail_in = static_cast<uInt>(wire.size());
    do {  // until the input is used up and inflate has no output left
      const std::size_t old = plain.size();
      plain.resize(old + kChunk);
      in_.next_out = reinterpret_cast<Bytef*>(plain.data() + old);
      in_.avail_out = static_cast<uInt>(kChunk);
      const int rc = inflate(&in_, Z_SYNC_FLUSH);
      plain.resize(old + kChunk - in_.avail_out);
      if (rc == Z_BUF_ERROR) return in_.avail_in == 0;  // nothing more to do
      if (rc != Z_OK) return false;                     // corrupt, or the client ended the stream
    } while (in_.avail_in > 0 || in_.avail_out == 0);
    return true;
  }

  void encode(std::string_view plain, std::string& wire) override {
    out_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    out_.avail_in = static_cast<uInt>(plain.size());
    do {
      const std::size_t old = wire.size();
      wire.resize(old + kChunk);
      out_.next_out = reinterpret_cast<Bytef*>(wire.data() + old);
      out_.avail_out = static_cast<uInt>(kChunk);
      deflate(&out_, Z_SYNC_FLUSH);
      wire.resize(old + kChunk - out_.avail_out);
    } while (out_.avail_out == 0);
  }

 private:
  z_stream in_{};
  z_stream out_{};
};

}  // namespace

std::unique_ptr<net::StreamCodec> make_deflate_codec() { return std::make_unique<DeflateCodec>(); }

}  // namespace umstore::imap
