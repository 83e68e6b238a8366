#pragma once
// The I/O model: Asio with C++20 coroutines. Every connection is a coroutine on
// its own strand; an idle connection costs a suspended frame and a buffer, not a thread.
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace umstore::net {

template <typename T = void>
using Task = asio::awaitable<T>;

using asio::ip::tcp;

// Completion token that returns (error_code, result...) instead of throwing.
inline constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace umstore::net
