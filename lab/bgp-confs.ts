// The BGP daemons' configs the active-active labs share (test/netns/bgp.test.ts, lab/scale.ts):
// the upstream FRR router docs/active-active.md shows, and a director's BIRD 2 as
// conf/bird-duet.conf ships it, with a lab's addresses, BFD interval and a quick reconnect.

/** FRR (zebra + bgpd + bfdd) at 192.0.2.1, AS 65000: directors from 192.0.2.0/24, ECMP over them, BFD x 5. */
export const frrRouterConf = (hostname: string, bfdMs: number): string => `frr defaults datacenter
hostname ${hostname}
log stdout informational
router bgp 65000
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 neighbor dirs peer-group
 neighbor dirs remote-as external
 ! BFD ${bfdMs} ms x 5 (a profile on a listen-range peer group is not applied to its dynamic peers in FRR 8.4)
 neighbor dirs bfd 5 ${bfdMs} ${bfdMs}
 neighbor dirs timers 3 9
 bgp listen range 192.0.2.0/24 peer-group dirs
 address-family ipv4 unicast
  maximum-paths 8
 exit-address-family
exit
`;

/** A director's BIRD 2 (AS 65001) exporting duet's table 100 to the router at 192.0.2.1. */
export const birdDirectorConf = (routerId: string, bfdMs: number): string => `router id ${routerId};
protocol device { }
protocol kernel duet_vips {
  kernel table 100;
  learn;
  ipv4 { import all; export none; };
}
protocol bfd { interface "*" { min rx interval ${bfdMs} ms; min tx interval ${bfdMs} ms; multiplier 5; }; }
filter duet_export {
  if net ~ [ 198.51.100.0/24{32,32} ] then accept;
  reject;
}
protocol bgp uplink {
  local as 65001;
  neighbor 192.0.2.1 as 65000;
  bfd on;
  hold time 9;
  connect retry time 1;
  error wait time 1, 5;
  ipv4 { import none; export filter duet_export; };
}
`;
