#!/bin/bash
# One request to a Docker registry token server (the distribution "token"
# auth scheme), run by socat per connection: `GET /token?service=S&scope=..`
# with optional Basic credentials. Grants the requested repository actions
# to TOKEN_USER:TOKEN_PASS, nothing to anonymous callers, and answers 401 to
# wrong credentials. The token is a JWT signed RS256 with TOKEN_KEY, its
# certificate TOKEN_CERT in the x5c header (the registry trusts it through
# its rootcertbundle). Every request is appended to TOKEN_LOG.
set -u

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
urldecode() { local s=${1//+/ }; printf '%b' "${s//%/\\x}"; }

read -r method target _ || exit 0
auth=
while IFS= read -r line; do
  line=${line%$'\r'}
  [ -z "$line" ] && break
  case ${line,,} in
    authorization:*) auth=${line#*: } ;;
  esac
done

reply() {  # status body
  printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "${#2}" "$2"
}

user=
if [ -n "$auth" ]; then
  creds=$(printf '%s' "${auth#Basic }" | base64 -d 2>/dev/null)
  if [ "${auth%% *}" != Basic ] || [ "$creds" != "$TOKEN_USER:$TOKEN_PASS" ]; then
    echo "$method $target user=? denied" >>"$TOKEN_LOG"
    reply "401 Unauthorized" '{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}'
    exit 0
  fi
  user=${creds%%:*}
fi

query=${target#*\?}
[ "$query" = "$target" ] && query=
service= access='[]'
IFS='&' read -ra params <<<"$query"
for p in "${params[@]}"; do
  k=${p%%=*} v=$(urldecode "${p#*=}")
  case $k in
    service) service=$v ;;
    scope)
      # repository:NAME:ACTIONS (NAME may hold ':' only before a port, not here)
      IFS=':' read -r type name actions <<<"$v"
      if [ "$type" = repository ] && [ -n "$user" ]; then
        access=$(jq -c --arg n "$name" --arg a "$actions" \
          '. + [{type:"repository", name:$n, actions:($a | split(","))}]' <<<"$access")
      fi
      ;;
  esac
done
echo "$method $target user=${user:-anonymous} service=$service access=$access" >>"$TOKEN_LOG"

now=$(date +%s)
x5c=$(openssl x509 -in "$TOKEN_CERT" -outform DER | openssl base64 -A)
header=$(jq -cn --arg x "$x5c" '{typ:"JWT", alg:"RS256", x5c:[$x]}' | b64url)
claims=$(jq -cn --arg sub "${user:-}" --arg aud "$service" --argjson now "$now" --argjson access "$access" \
  --arg jti "$RANDOM$RANDOM$RANDOM" \
  '{iss:"okt-issuer", sub:$sub, aud:$aud, exp:($now+300), nbf:($now-10), iat:$now, jti:$jti, access:$access}' | b64url)
sig=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$TOKEN_KEY" -binary | b64url)
token="$header.$claims.$sig"
reply "200 OK" "{\"token\":\"$token\",\"access_token\":\"$token\",\"expires_in\":300}"
