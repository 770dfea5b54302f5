// An IPv6 datagram on a raw socket with its source chosen per packet (IPV6_PKTINFO), as keepalived
// does: shared by vrrp6.c (the IPv6 VRRP socket) and advert_pacer.c (the advert thread).
#ifndef DUET_SEND6_H
#define DUET_SEND6_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Link-local and node-local destinations need the interface as their scope. */
static inline void scope6(struct sockaddr_in6 *sa, unsigned ifindex) {
  if (IN6_IS_ADDR_LINKLOCAL(&sa->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&sa->sin6_addr) || IN6_IS_ADDR_MC_NODELOCAL(&sa->sin6_addr)) {
    sa->sin6_scope_id = ifindex;
  }
}

/* sendmsg() of buf to dst; src (NULL: the kernel's choice) and ifindex in an IPV6_PKTINFO message. */
static inline ssize_t sendmsg6(int fd, const void *buf, size_t len, const struct sockaddr_in6 *dst, const struct in6_addr *src, unsigned ifindex, int flags) {
  struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
  union {
    struct cmsghdr align;
    unsigned char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
  } ctl;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = (void *)dst;
  mh.msg_namelen = sizeof *dst;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (src) {
    memset(&ctl, 0, sizeof ctl);
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
    struct in6_pktinfo pi;
    memset(&pi, 0, sizeof pi);
    pi.ipi6_addr = *src;
    pi.ipi6_ifindex = ifindex;
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  return sendmsg(fd, &mh, flags);
}

#endif
