// Who owns the other end of a local TCP connection: the kernel's socket
// diagnostics (netlink sock_diag), as `ss -e` shows it. TCP has no
// SO_PEERCRED; on loopback both ends are sockets of this host, and the
// client's socket records the user that made it.
#pragma once

#include <napi.h>

namespace mixprof {

// tcpSocketOwner(localAddress, localPort, remoteAddress, remotePort): the uid
// owning the TCP socket bound to local:localPort and connected to
// remote:remotePort, or null when there is none (it closed, or it is not in
// this network namespace). Addresses are IPv4 or IPv6 text, both of one family.
Napi::Value TcpSocketOwner(const Napi::CallbackInfo& info);

}  // namespace mixprof
