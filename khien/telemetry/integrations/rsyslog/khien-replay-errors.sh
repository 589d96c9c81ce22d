#!/bin/bash
# Khiên — send again the batches that Khiên refused for their key (or while busy) and that rsyslog wrote to its
# errorfile. / Gửi lại các lô mà Khiên đã từ chối vì khóa (hoặc khi quá tải) và rsyslog đã ghi vào errorfile.
#
# Why: rsyslog 8.2302 (Debian 12) and other versions before mid-2025 never send again a batch refused whole: they
# write it to the errorfile of 60-khien.conf. The shipped files of this version keep refused records and send them
# again by themselves (ruleset khien_retry); an older copy of them did not, and wrote the batches refused for a
# wrong, replaced or disabled key there. Once the key is right (in 60-khien.conf, rsyslog restarted) or the source
# enabled again, run:
#   f=/var/log/rsyslog-khien-errors; mv $f.json $f.replay.json && systemctl kill -s HUP rsyslog
#   bash khien-replay-errors.sh $f.replay.json && rm $f.replay.json
# Only the batches refused for their key or while Khiên was busy are sent (a record refused for itself is already
# a dead letter on Khiên); sending a batch twice is harmless: Khiên stores each alert once.
# Needs jq and curl 7.55 or later (apt install jq curl).
# Lý do: rsyslog 8.2302 (Debian 12) không bao giờ gửi lại một lô bị từ chối toàn bộ mà ghi nó vào errorfile. Các
# tệp cấu hình của phiên bản này tự giữ và gửi lại bản ghi bị từ chối; bản cũ thì không. Khi khóa đã đúng (hoặc
# nguồn đã được bật lại), chạy hai lệnh trên. Chỉ gửi lại các lô bị từ chối vì khóa hoặc khi Khiên quá tải; gửi
# một lô hai lần không sao: Khiên chỉ lưu mỗi cảnh báo một lần.
set -o pipefail
url=https://khien.example.vn/api/telemetry/elastic/_bulk   # CHANGE: Khiên's address / địa chỉ Khiên
key_file=/etc/khien/suricata.key                           # CHANGE: the source key, in a file only root reads
[ -f "$1" ] && [ -r "$1" ] || { echo "usage: khien-replay-errors.sh ERRORFILE (a readable file)" >&2; exit 2; }
[ -r "$key_file" ] || { echo "cannot read the key file $key_file" >&2; exit 2; }
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
# One line of the errorfile per batch: {"request": {"url", "postdata": <the bulk body>}, "reply": <Khiên's answer>}.
# Sent again: a refusal of the key (Elasticsearch's security_exception; before, {"detail"} alone or with the code
# source_disabled), or Khiên busy (code busy, or items 429). Not: records refused for themselves (items 400).
jq -c 'select((.reply.error.type? == "security_exception")
              or ((.reply.items? | type) != "array" and .reply.detail? != null
                  and ((.reply.code? // "") | IN("", "source_disabled", "busy")))
              or any(.reply.items[]?; (.[]?.status? // 0) | IN(401, 403, 429)))
       | .request.postdata' "$1" > "$work/batches" \
  || { echo "STOPPED: $1 could not be read; nothing was sent" >&2; exit 1; }
n=0
while IFS= read -r postdata; do
  n=$((n + 1))
  printf '%s' "$postdata" | jq -j . > "$work/batch" || { echo "STOPPED at batch $n: unreadable" >&2; exit 1; }
  while :; do
    code=$(printf 'Authorization: Token %s\n' "$(cat "$key_file")" |
           curl -sS -H @- -H "Content-Type: application/x-ndjson" --data-binary @"$work/batch" \
                -o "$work/answer" -w '%{http_code}' "$url")
    case $code in
      429|502|503|504) echo "batch $n: Khiên is busy or unavailable ($code), sending again in 10 s"; sleep 10;;
      *) break;;
    esac
  done
  echo "batch $n: $code"
  [ "$code" = 200 ] || { echo "STOPPED at batch $n: $(head -c 600 "$work/answer") — fix the cause and run again" \
                              "(what was stored already is not stored twice)" >&2; exit 1; }
done < "$work/batches"
echo "done: $n batch(es) sent again"
