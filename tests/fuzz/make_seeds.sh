#!/usr/bin/env bash
# Writes the hand-made seed corpora of tests/fuzz/corpus/ (small files, committed). Rerun after
# editing; files that fuzzing sessions add later (minimized, named by their SHA-1) are kept.
#
#   tests/fuzz/make_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/corpus"
fixtures=../../fixtures/atelier-sample

# --- request_parser: byte 0 = flags (1: small limits), bytes 1-2 = split offset (LE), stream.
mkdir -p request_parser
req() {  # NAME FLAGS OFFSET BYTES (printf %b escapes)
  printf "\\x$(printf %02x "$2")\\x$(printf %02x $(($3 & 255)))\\x$(printf %02x $(($3 >> 8)))%b" "$4" \
    >"request_parser/$1"
}
get='GET /reviews?product_id=1&page=1&count=5&sort=newest HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n'
post_body='{"product_id":1,"rating":5,"summary":"Best purchase ever!","body":"The fit is perfect.","recommend":true,"name":"jackson11","email":"jackson11@email.com","photos":["https://example.com/p1.jpg"],"characteristics":{"1":5,"2":4}}'
req get 0 20 "$get"
req get_trailing_slash 0 9 'GET /reviews/meta/?product_id=2 HTTP/1.1\r\nHost: x\r\nIf-None-Match: "abc"\r\n\r\n'
req get_alias 0 3 'GET /reviews/2/list?count=2 HTTP/1.1\r\nHost: x\r\n\r\n'
req get_related 0 30 'GET /products/1/related HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
req head 0 5 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
req options_preflight 0 40 'OPTIONS /reviews HTTP/1.1\r\nHost: x\r\nOrigin: https://shop.example\r\nAccess-Control-Request-Method: POST\r\n\r\n'
req options_star 0 0 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'
req post_json 0 60 "POST /reviews HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\nContent-Length: ${#post_body}\\r\\n\\r\\n$post_body"
req post_chunked 0 70 'POST /reviews HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"a":\r\n2\r\n1}\r\n0\r\nTrailer: x\r\n\r\n'
req put_helpful 0 17 'PUT /reviews/5/helpful HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'
req http10 0 8 'GET /healthz HTTP/1.0\r\n\r\n'
req http10_keepalive 0 8 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
req absolute_form 0 12 'GET http://example.com/reviews?product_id=1 HTTP/1.1\r\nHost: example.com\r\n\r\n'
req pipelined_gets 0 50 "${get}GET /reviews/meta?product_id=1 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nGET /healthz HTTP/1.1\\r\\n\\r\\n"
req pipelined_mixed 0 100 "POST /reviews HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\n{}PUT /reviews/1/report HTTP/1.1\\r\\n\\r\\nDELETE /reviews HTTP/1.1\\r\\n\\r\\n${get}"
req pipelined_then_garbage 0 45 "${get}GARBAGE\\r\\n\\r\\n"
req leading_crlf 0 1 "\\r\\n${get}"
# Smuggling and framing shapes (all must be refused).
req cl_te 0 30 'POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
req te_cl 0 30 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'
req cl_cl 0 30 'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxx'
req cl_list 0 30 'POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\nx'
req cl_sign 0 30 'POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx'
req te_identity 0 30 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'
req te_xchunked 0 30 'POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'
req te_te 0 30 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
req te_space_colon 0 30 'POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'
req chunk_overflow 0 30 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n'
req chunk_lf 0 30 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n'
req bare_lf 0 10 'GET / HTTP/1.1\nHost: x\n\n'
req bare_cr 0 10 'GET / HTTP/1.1\r\nHost: x\ry: z\r\n\r\n'
req obs_fold 0 30 'GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n'
req nul_in_value 0 20 'GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n'
req empty_name 0 20 'GET / HTTP/1.1\r\n: v\r\n\r\n'
req http09 0 3 'GET /\r\n\r\n'
req http2 0 10 'GET / HTTP/2.0\r\n\r\n'
req h2_preface 0 10 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
req connect 0 10 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'
req upgrade 0 10 'GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'
req unknown_method 0 2 'BREW /pot HTTP/1.1\r\n\r\n'
req propfind 0 2 'PROPFIND / HTTP/1.1\r\n\r\n'
# Regressions found by fuzzing.
# feed() that fails the line-ending check after llhttp returned OK reported llhttp's stale
# error position (of the previous request's pause) as `consumed`: here > the bytes given.
req regression_stale_error_pos 0 19 'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\n'
# Limits (flag 1: target 48, head 160, 4 headers, body 32).
req small_long_target 1 20 'GET /reviews?product_id=1&page=1&count=5&sort=newest&x=yyyyyyyyy HTTP/1.1\r\n\r\n'
req small_many_headers 1 20 'GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n'
req small_big_head 1 20 'GET / HTTP/1.1\r\nCookie: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n'
req small_big_body 1 20 'POST /reviews HTTP/1.1\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789'
req small_big_chunked 1 20 'POST /reviews HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n15\r\n012345678901234567890\r\n15\r\n012345678901234567890\r\n0\r\n\r\n'

# --- query: the raw query string.
mkdir -p query
q() { printf '%s' "$2" >"query/$1"; }
q api 'product_id=1&page=2&count=5&sort=newest'
q leading_zeros 'product_id=007&count=0000000000000000001'
q overflow 'product_id=2147483648&page=2147483647&count=99999999999999999999'
q signs 'product_id=-1&page=+2&count=1e3&sort=%20relevant'
q encoded_name '%70roduct_id=%31%32&product%5Fid=9'
q plus 'sort=new+est&q=a+b%2Bc'
q bad_escapes 'a=%zz&b=%4&c=%&d=%%41&e=%4g'
q repeated 'product_id=1&product_id=2&&&=&a&a='
q utf8 'name=%C3%A9t%C3%A9&x=%F0%9F%98%80&y=%FF%00'

# --- review_input: the POST /reviews body.
mkdir -p review_input
r() { printf '%s' "$2" >"review_input/$1"; }
r api_example "$post_body"
r minimal '{"product_id":1,"rating":1,"summary":"","body":"b","recommend":false,"name":"n","email":"e"}'
r string_numbers '{"product_id":"0001","rating":"5","summary":"s","body":"b","recommend":true,"name":"n","email":"e","characteristics":{"7":"3"}}'
r unicode '{"product_id":2,"rating":4,"summary":"caf\u00e9 \ud83d\ude00","body":"é 😀 \"q\" \\ \n","recommend":true,"name":"Zoë","email":"z@x","photos":[]}'
r bad_rating '{"product_id":1,"rating":6,"summary":"s","body":"b","recommend":true,"name":"n","email":"e"}'
r bad_numbers '{"product_id":1.0,"rating":5e0,"summary":"s","body":"b","recommend":1,"name":"n","email":"e","x":1e400,"y":-0}'
r repeated '{"product_id":1,"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e"}'
r eleven_photos '{"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e","photos":["a","b","c","d","e","f","g","h","i","j","k"]}'
r chars_dup '{"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e","characteristics":{"1":5,"01":4,"x":3}}'
r nul '{"product_id":1,"rating":5,"summary":"s\u0000","body":"b","recommend":true,"name":"n","email":"e"}'
r nested_unknown '{"extra":{"a":[1,[2,[3,{"b":null}]]],"c":"\ud800"},"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e"}'
r trailing '{"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e"} {}'
r not_object '[{"product_id":1}]'
r truncated '{"product_id":1,"rating":5,"summ'
# Regression: an unknown field holding a misspelt null ("nul") made simdjson throw out of
# parse_new_review (is_null() converted to bool) instead of answering 400.
r regression_misspelt_null '{"a":nul,"product_id":1,"rating":5,"summary":"s","body":"b","recommend":true,"name":"n","email":"e"}'

# --- csv: lines of the real sample, and the shapes the reader must refuse.
mkdir -p csv
for f in reviews reviews_photos characteristics characteristic_reviews related; do
  head -n 4 "$fixtures/$f.csv" >"csv/$f"
done
printf 'id,product_id,rating,date,summary,body,recommend,reported,reviewer_name,reviewer_email,response,helpfulness\r\n5,3,1,1593628485253,"He said ""wow"", then\nleft","a,b",false,true,"x","y","thanks",0\r\n6,3,5,0,"","""",true,false,"null","e",null,2147483647' >csv/reviews_escapes_crlf
printf '\xEF\xBB\xBFid,current_product_id,related_product_id\n1,1,0\n2,1,00\n3,2,2\n' >csv/related_bom_zero
printf 'id,review_id,url\n1,2,"a"b\n' >csv/text_after_quote
printf 'id,review_id,url\n1,2,a"b\n' >csv/quote_in_field
printf 'id,review_id,url\n1,2,"unterminated\n' >csv/unterminated
printf 'id,review_id,url\r1,2,x\n' >csv/bare_cr
printf 'id,product_id,name\n1,1,Fit\n2,1,"Length"\n3,1,Bogus\n' >csv/characteristic_names
printf 'id,characteristic_id,review_id,value\n1,1,1,6\n2,0,1,1\n3,1,1,-1\n' >csv/bad_values
# Regression: a trailing comma at the very end of the data made Reader::next read one byte
# past it.
printf 'id,review_id,url\n1,2,' >csv/trailing_comma_at_eof
printf 'id,review_id,url\n1,2,"tab\there\\\\back\xc3\xa9"\n2,2,"\xff\xfe"\n' >csv/text_escapes_utf8

# --- json_writer: arbitrary bytes (FuzzedDataProvider reads strings from the front, numbers
# from the back); JSON-ish text with escapes, controls and UTF-8, valid and not.
mkdir -p json_writer
j() { printf '%b' "$2" >"json_writer/$1"; }
j plain 'summary\\ text body'
j escapes '"quoted" \\\\ back\\ \b\f\n\r\t\x01\x1f'
j utf8 'caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac\\ \xe4\xb8\xad'
j invalid_utf8 '\xff\xfe \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80\\ x'
j nested '\x05\x05\x04\x04\x05\x00\x01\x02\x03\x06 key\\ value'
