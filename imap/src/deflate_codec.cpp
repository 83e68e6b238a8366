#include "deflate_codec.hpp"

#include <zlib.h>

#include <stdexcept>
#include <string>

namespace umstore::imap {
namespace {

constexpr int kRawDeflate = -15;  // negative window bits: no zlib header (RFC 4978 §4)
constexpr std::size_t kChunk = 16 * 1024;  // output per deflate() call

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

  void feed(std::string_view wire) override { input_.append(wire); }

  bool decode(std::string& plain, std::size_t limit) override {
    const std::size_t old = plain.size();
    plain.resize(old + limit);
    in_.next_in = reinterpret_cast<Bytef*>(input_.data());
    in_.avail_in = static_cast<uInt>(input_.size());
    in_.next_out = reinterpret_cast<Bytef*>(plain.data() + old);
    in_.avail_out = static_cast<uInt>(limit);
    const int rc = inflate(&in_, Z_SYNC_FLUSH);
    plain.resize(old + limit - in_.avail_out);
    input_.erase(0, input_.size() - in_.avail_in);
    more_output_ = in_.avail_out == 0;  // the limit stopped it: there may be more
    // Z_BUF_ERROR: no progress possible until more input arrives. Z_STREAM_END
    // (the client ended the stream) and the rest are errors.
    return rc == Z_OK || rc == Z_BUF_ERROR;
  }

  bool pending() const override { return !input_.empty() || more_output_; }

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
  std::string input_;  // coded input inflate has not taken yet
  bool more_output_ = false;
};

}  // namespace

std::unique_ptr<net::StreamCodec> make_deflate_codec() { return std::make_unique<DeflateCodec>(); }

}  // namespace umstore::imap
