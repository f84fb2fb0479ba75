#include "socket_owner.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace mixprof {

namespace {

struct Endpoint {
  int family = 0;
  unsigned char address[16] = {};
};

bool ParseAddress(const std::string& text, Endpoint* out) {
  if (inet_pton(AF_INET, text.c_str(), out->address) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out->address) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

class NetlinkSocket {
 public:
  NetlinkSocket() : fd_(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {}
  ~NetlinkSocket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// -1: no such socket; -2: the query failed (errno set).
long long QueryOwner(const Endpoint& local, unsigned local_port, const Endpoint& remote,
                     unsigned remote_port) {
  NetlinkSocket nl;
  if (nl.fd() < 0) return -2;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message = {};
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  // No NLM_F_DUMP: the kernel looks up the one socket with this exact id.
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.request.sdiag_family = local.family;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0U;
  message.request.id.idiag_sport = htons(local_port);
  message.request.id.idiag_dport = htons(remote_port);
  std::memcpy(message.request.id.idiag_src, local.address, sizeof(local.address));
  std::memcpy(message.request.id.idiag_dst, remote.address, sizeof(remote.address));
  message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl.fd(), &message, sizeof(message), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) < 0) {
    return -2;
  }
  alignas(nlmsghdr) char buffer[8192];
  ssize_t n;
  do {
    n = recv(nl.fd(), buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -2;
  for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, static_cast<unsigned>(n));
       h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      auto* error = static_cast<nlmsgerr*>(NLMSG_DATA(h));
      if (error->error == -ENOENT) return -1;
      errno = -error->error;
      return -2;
    }
    if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
        h->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      return static_cast<inet_diag_msg*>(NLMSG_DATA(h))->idiag_uid;
    }
  }
  return -1;
}

}  // namespace

Napi::Value TcpSocketOwner(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsString() ||
      !info[3].IsNumber()) {
    ThrowTypeError(env, "tcpSocketOwner(localAddress, localPort, remoteAddress, remotePort)");
  }
  Endpoint local, remote;
  if (!ParseAddress(info[0].As<Napi::String>(), &local) ||
      !ParseAddress(info[2].As<Napi::String>(), &remote) || local.family != remote.family) {
    ThrowTypeError(env, "addresses must be IPv4 or IPv6 text of one family");
  }
  unsigned local_port = info[1].As<Napi::Number>().Uint32Value();
  unsigned remote_port = info[3].As<Napi::Number>().Uint32Value();
  if (local_port > 65535 || remote_port > 65535) ThrowTypeError(env, "ports are 0 to 65535");
  long long owner = QueryOwner(local, local_port, remote, remote_port);
  if (owner == -2) ThrowErrno(env, errno, "cannot query the kernel's socket table");
  if (owner == -1) return env.Null();
  return Napi::Number::New(env, static_cast<double>(owner));
}

}  // namespace mixprof
