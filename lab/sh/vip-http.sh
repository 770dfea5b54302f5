# A bash HTTP client for VM jobs: `bash lab/sh/vip-http.sh PORT N [ADDRESS]` makes N requests to
# ADDRESS (default the labs' VIP 192.0.2.100), one connection each, and prints each body's last
# line (a real server's name). Pure bash (/dev/tcp): a run of requests starts no processes, which
# would cost seconds in the emulated VM.
port=$1; n=$2; addr=${3:-192.0.2.100}
for ((i = 0; i < n; i++)); do
  if ! exec 3<>/dev/tcp/$addr/$port; then echo connect-failed; continue; fi
  printf 'GET / HTTP/1.0\r\nHost: vip\r\n\r\n' >&3
  body=none
  while IFS= read -r -t 2 l <&3; do body=$l; done
  exec 3<&-
  echo "$body"
done
