#pragma once
// Tells systemd about the server's state (sd_notify protocol, unit
// Type=notify): one datagram to the AF_UNIX socket named in $NOTIFY_SOCKET.
// Without that variable (not started by systemd) it does nothing. Written
// out instead of linking libsystemd: the protocol is this one sendto().
#include <string_view>

namespace umstore::app {

// e.g. "READY=1", "RELOADING=1", "STOPPING=1"; errors are ignored (a
// notification is a courtesy to the service manager, never a reason to stop).
void notify_service_manager(std::string_view state) noexcept;

// "RELOADING=1\nMONOTONIC_USEC=..." as systemd wants before a reload.
void notify_reloading() noexcept;

}  // namespace umstore::app
