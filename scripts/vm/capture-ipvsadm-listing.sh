# Regenerates test/vectors/ipvs/list-*.txt: run with scripts/vm/run.sh, split the output at the
# "===" lines (plain, --stats, --rate, --thresholds, --persistent-conn, ...). ipvsadm is the oracle.
modprobe -a ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_mh ip_vs_wlc
ip netns add t; ip -n t link set lo up
ip netns exec t sh -c '
ipvsadm -A -t 192.0.2.100:80 -s rr
ipvsadm -a -t 192.0.2.100:80 -r 192.0.2.21:80 -m -w 1
ipvsadm -a -t 192.0.2.100:80 -r 192.0.2.22:8080 -m -w 3 -x 100 -y 50
ipvsadm -A -t 192.0.2.100:443 -s wrr -p 300 -M 255.255.255.0
ipvsadm -a -t 192.0.2.100:443 -r 192.0.2.21 -g -w 0
ipvsadm -A -u 192.0.2.100:53 -s sh -b sh-port,sh-fallback -o
ipvsadm -a -u 192.0.2.100:53 -r 192.0.2.23 -i -w 2
ipvsadm -A -f 10 -s mh -b mh-fallback
ipvsadm -a -f 10 -r 192.0.2.24 -g
ipvsadm -A -t [2001:db8::100]:80 -s wlc -p 60 -M 64
ipvsadm -a -t [2001:db8::100]:80 -r [2001:db8::21]:80 -m
ipvsadm -A --sctp-service 192.0.2.100:9 -s rr
ipvsadm -Ln; echo ===; ipvsadm -Ln --stats; echo ===; ipvsadm -Ln --rate; echo ===; ipvsadm -Ln --thresholds; echo ===; ipvsadm -Ln --persistent-conn; echo ===; ipvsadm -Lnc; echo ===; ipvsadm -Ln --timeout; echo ===; ipvsadm -Ln --tun-info; echo ===; ipvsadm -Sn
' 2>&1 | cat -A | sed 's/\$$//'
