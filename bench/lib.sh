# Helpers shared by the bench scripts (http_vs_nginx.sh, cache_vs_nginx.sh, db_cpu_share.sh,
# uncached_ab.sh, cold_cache.sh, validate_loadgen.sh, nginx_lookup.sh); source it, then call bench_temp. The
# caller sets, for run_wrk, CONNS and DUR, and for start_reviewsd, BIN and DB (THREADS, default
# nproc).

# bench_temp: TMP, a private temp dir, and PIDS, an empty array (every pid started here is
# appended to it; a script appends its own), and an EXIT trap that ends each of them (kill,
# then wait) and removes TMP.
bench_temp() {
  TMP=$(mktemp -d)
  PIDS=()
  trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT
}

# bench_args LAST DEFAULT_ROUNDS DEFAULT_DUR "$@": the arguments of a script run as
# `SCRIPT BIN CONNINFO [ROUNDS]`. Without two of them, prints the script's header comment (its
# lines 2..LAST) and exits 2. Sets BIN (made absolute), DB, ROUNDS (the third argument, else
# DEFAULT_ROUNDS) and DUR (the environment's, else DEFAULT_DUR).
bench_args() {
  local last=$1 rounds=$2 dur=$3
  shift 3
  [ $# -ge 2 ] || { sed -n "2,${last}p" "$0"; exit 2; }
  BIN=$(readlink -f "$1")
  DB=$2
  ROUNDS=${3:-$rounds}
  DUR=${DUR:-$dur}
}

# product_bounds: MAXP, the largest product_id in $DB's reviews, and HOT_LO, the first of the
# 10,000 largest ids, from which the hot and repeat mixes draw (as product_mix.lua and
# `reviewsd-bench load --scenario hot|repeat`).
product_bounds() {
  MAXP=$(psql "$DB" -Atc "SELECT max(product_id) FROM reviews")
  HOT_LO=$((MAXP > 10000 ? MAXP - 9999 : 1))
}

# nginx_start THREADS PORT BODY [PORT BODY]...
# nginx as the reference server: worker_processes THREADS, one server per PORT on 127.0.0.1
# (listen reuseport, access_log off, keep-alive without a request limit) answering with
# `return 200`, Content-Type application/json; charset=utf-8 (as reviewsd). BODY is either
#  - a file: every request, any path, gets its bytes (a constant string);
#  - mapped:FILE: the same, but FILE's bytes (at most 3,900) are the default value of a `map`
#    on $arg_product_id, so each request pays a map lookup and a variable, as sizes:FILE does;
#  - sizes:FILE, FILE holding lines "PRODUCT_ID BYTES": a request with ?product_id=PRODUCT_ID
#    gets a JSON body of exactly BYTES bytes (`pad` below), its own string in nginx's memory,
#    chosen by a `map` on $arg_product_id (nginx's hash of constant strings; an id not in FILE
#    gets an empty body);
#  - paths:FILE, lines as for sizes: an exact `location = /p/PRODUCT_ID` per line returning a
#    constant body of BYTES bytes, at most 4,000 (one config token; larger ones are cut to it).
# Sets NPID (the master) and appends it to PIDS; exits if a body served differs in size from
# what was asked (for sizes:FILE, the first, the last and the largest body are checked; for
# paths:FILE, the first). nginx
# reads a config token of at most 4 KB: a longer body is returned as the concatenation of
# constant `map` variables.
nginx_start() {
  local threads=$1; shift
  mkdir -p "$TMP/nginx"
  python3 - "$@" > "$TMP/nginx.servers" <<'PY'
import json, sys
args = sys.argv[1:]
maps, servers = [], []
quote = lambda s: json.dumps(s, ensure_ascii=False)  # nginx unescapes \" and \\
pad = lambda n: '{"pad":"' + "x" * (n - 10) + '"}' if n >= 10 else "x" * n  # as pad_body
for i in range(0, len(args), 2):
    port, spec = args[i], args[i + 1]
    if spec.startswith("sizes:"):
        # One map for the body, keyed on the product id; bodies over 3,900 bytes end in a
        # variable from a second map that holds their tails.
        first, tails = [], []
        for line in open(spec[len("sizes:"):], encoding="utf-8"):
            pid, n = line.split()
            body = pad(int(n))
            if len(body) <= 3900:
                first.append(f"    {pid} {quote(body)};")
            else:
                first.append(f"    {pid} {quote(body[:3900])[:-1]}$bench_tail_{port}\";")
                tails.append(f"    {pid} {quote(body[3900:])};")
        for name, rows in ((f"$bench_body_{port}", first), (f"$bench_tail_{port}", tails)):
            maps.append(f"  map $arg_product_id {name} {{\n    default \"\";\n" + "\n".join(rows) + "\n  }")
        text = f"$bench_body_{port}"
    elif spec.startswith("paths:"):
        locations = []
        for line in open(spec[len("paths:"):], encoding="utf-8"):
            pid, n = line.split()
            locations.append(f"    location = /p/{pid} {{ return 200 {quote(pad(min(int(n), 4000)))}; }}")
        servers.append(f"""  server {{
    listen 127.0.0.1:{port} reuseport;
    default_type "application/json; charset=utf-8";
{chr(10).join(locations)}
  }}""")
        continue
    elif spec.startswith("mapped:"):
        body = open(spec[len("mapped:"):], encoding="utf-8").read()
        if len(body) > 3900: sys.exit(f"mapped:{spec}: {len(body)} bytes, more than one config token holds")
        maps.append(f"  map $arg_product_id $bench_body_{port} {{ default {quote(body)}; }}")
        text = f"$bench_body_{port}"
    elif len(quote(body := open(spec, encoding="utf-8").read()).encode()) <= 4000:
        text = quote(body)
    else:  # chunks of 1,000 characters: under the limit for any text without control characters
        names = []
        for j in range(0, len(body), 1000):
            name = f"$bench_body_{port}_{j // 1000}"
            maps.append(f'  map "" {name} {{ default {quote(body[j:j + 1000])}; }}')
            names.append(name)
        text = '"' + "".join(names) + '"'
    servers.append(f"""  server {{
    listen 127.0.0.1:{port} reuseport;
    location / {{ default_type "application/json; charset=utf-8"; return 200 {text}; }}
  }}""")
print("\n".join(maps + servers))
PY
  cat > "$TMP/nginx.conf" <<NGX
worker_processes $threads;
daemon off;
master_process on;
error_log $TMP/nginx/error.log;
pid $TMP/nginx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx; proxy_temp_path $TMP/nginx; fastcgi_temp_path $TMP/nginx;
  uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;
  keepalive_requests 1000000;
  map_hash_max_size 65536;  # room for a map of 10,000 product ids (sizes:FILE)
  map_hash_bucket_size 64;
$(cat "$TMP/nginx.servers")
}
NGX
  nginx -c "$TMP/nginx.conf" -p "$TMP/nginx" & NPID=$!; PIDS+=($NPID)
  sleep 0.5
  local got want path checks
  while [ $# -gt 0 ]; do
    case $2 in  # "PATH BYTES" lines
      sizes:*) checks=$( (head -1 "${2#sizes:}"; tail -1 "${2#sizes:}"
                          sort -k2,2n "${2#sizes:}" | tail -1) |  # the longest: split in two maps
                        awk '{print "/reviews?product_id=" $1, $2}') ;;
      paths:*) checks=$(head -1 "${2#paths:}" | awk '{print "/p/" $1, ($2 < 4000 ? $2 : 4000)}') ;;
      mapped:*) checks="/reviews?product_id=1 $(wc -c < "${2#mapped:}")" ;;
      *) checks="/reviews?product_id=1 $(wc -c < "$2")" ;;
    esac
    while read -r path want; do
      got=
      for _ in $(seq 50); do
        got=$(curl -s "http://127.0.0.1:$1$path" | wc -c) && [ "$got" != 0 ] && break
        sleep 0.1
      done
      [ "$got" = "$want" ] || { echo "nginx on :$1 sent $got bytes for $path, not $want"; exit 1; }
    done <<< "$checks"
    shift 2
  done
}

# run_wrk [wrk args] URL -> prints "req/s p99_ms"; wrk -t1 -c$CONNS -d$DUR --latency. wrk's whole
# output is kept in $TMP/wrk.out (non-200 counts, socket errors).
run_wrk() {
  wrk -t1 -c"$CONNS" -d"$DUR" --latency "$@" | tee "$TMP/wrk.out" | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
    END {printf "%s %s\n", rps, p99}'
}

# median: of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# start_reviewsd PORT NAME [serve flags]: `$BIN serve` on 127.0.0.1:PORT against $DB, stderr in
# $TMP/NAME.log; returns once /readyz answers 200 (exits, printing the log, after 10 s). Sets SPID.
start_reviewsd() {
  local port=$1 name=$2; shift 2
  "$BIN" serve --listen "127.0.0.1:$port" --threads "${THREADS:-$(nproc)}" --db "$DB" "$@" \
    2>"$TMP/$name.log" &
  SPID=$!; PIDS+=($SPID)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  cat "$TMP/$name.log"; exit 1
}

# response_sizes PORT FIRST LAST: "id bytes" of GET /reviews?product_id=id from the server on
# 127.0.0.1:PORT, for every id FIRST..LAST (one keep-alive curl); exits if one is not 200.
response_sizes() {
  seq "$2" "$3" | awk -v p="$1" '{printf "url = \"http://127.0.0.1:%s/reviews?product_id=%d\"\noutput = \"/dev/null\"\n", p, $1}' |
    curl -s -K - -w '%{http_code} %{size_download}\n' | paste -d' ' <(seq "$2" "$3") - |
    awk '$2 != 200 {print "sizes: id " $1 " answered " $2 > "/dev/stderr"; exit 1} {print $1, $3}'
}

# mix_mean MODE LO FILE ("id bytes" lines) -> the mean response size as MODE's mix requests the
# ids: hot weighs every 5th id from LO (80% of requests) and the others (20%) as
# product_mix.lua and `reviewsd-bench load --scenario hot` do; any other MODE weighs ids alike.
# The body nginx-mean returns (cache_vs_nginx.sh, hit_anatomy.sh).
mix_mean() {
  awk -v mode="$1" -v lo="$2" '
    mode == "hot" && ($1 - lo) % 5 != 0 {c += $2; nc++; next} {h += $2; nh++}
    END {printf "%d\n", (nc ? 0.8 * h / nh + 0.2 * c / nc : h / nh) + 0.5}' "$3"
}
# pad_body BYTES FILE: a JSON document of exactly BYTES bytes.
pad_body() {
  python3 -c 'import sys; n = int(sys.argv[1]); sys.stdout.write("{\"pad\":\"" + "x" * (n - 10) + "\"}" if n >= 10 else "x" * n)' "$1" > "$2"
}

# cpu_ticks "PID...": user + system clock ticks of those processes so far (gone ones count 0).
cpu_ticks() {
  local t=0 p v
  for p in $1; do v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) && t=$((t + v)); done
  echo "$t"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# pg_cluster_pids PGDATA: the postmaster of a local cluster and its children now (backends come
# and go: call it per measurement).
pg_cluster_pids() {
  local pm
  pm=$(head -1 "$1/postmaster.pid" 2>/dev/null) || { echo "no postmaster.pid in $1" >&2; exit 2; }
  echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}

# find_bench_bin SERVER_BIN: sets BENCH_BIN to $BENCH_BIN or the reviewsd-bench built beside
# SERVER_BIN; exits 2 if there is none.
find_bench_bin() {
  BENCH_BIN=$(readlink -m "${BENCH_BIN:-$(dirname "$1")/../bench/reviewsd-bench}")
  [ -x "$BENCH_BIN" ] || { echo "no reviewsd-bench at $BENCH_BIN (set BENCH_BIN)"; exit 2; }
}
