# The traffic test's long-lived client (test/vm/traffic.test.ts): one connection to each echo
# service through the VIP (DR port 7, NAT port 7007), a line every 100 ms on both, each echo read
# back (2 s limit); one log line per round. Stops when /tmp/lab/stop appears (or after 40 s).
exec 3<>/dev/tcp/192.0.2.100/7 || { echo "connect-failed dr"; exit 1; }
exec 4<>/dev/tcp/192.0.2.100/7007 || { echo "connect-failed nat"; exit 1; }
end=$(( ${EPOCHREALTIME/./} / 1000 + 40000 ))
for ((i = 0; ; i++)); do
  now=$(( ${EPOCHREALTIME/./} / 1000 ))
  [ -e /tmp/lab/stop ] || [ $now -ge $end ] && break
  echo "m$i" >&3; echo "m$i" >&4
  a=timeout; b=timeout
  IFS= read -r -t 2 a <&3; IFS= read -r -t 2 b <&4
  echo "$now $i dr=$a nat=$b"
  sleep 0.1
done
