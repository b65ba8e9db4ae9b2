#!/bin/bash
# One request to a Docker registry token server (the distribution "token"
# auth scheme), run by socat per connection: `GET /token?service=S&scope=..`
# with optional Basic credentials. Grants the requested repository actions
# to TOKEN_USER:TOKEN_PASS, nothing to anonymous callers, and answers 401 to
# wrong credentials. A GET with offline_token=true (docker login) and valid
# credentials also gets a "refresh_token", remembered in TOKEN_LOG.refresh;
# the OAuth2 form (`POST /token`, grant_type=refresh_token, refresh_token,
# client_id, service, scope space-separated) trades one for an access token,
# an unknown one gets 401 {"error":"invalid_grant"}; other grants (docker
# login's grant_type=password) get 400 {"error":"unsupported_grant_type"},
# as from a server without them, so clients fall back to GET. The token is a JWT
# signed RS256 with TOKEN_KEY, its certificate TOKEN_CERT in the x5c header
# (the registry trusts it through its rootcertbundle). Every request is
# appended to TOKEN_LOG.
set -u

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
urldecode() { local s=${1//+/ }; printf '%b' "${s//%/\\x}"; }

read -r method target _ || exit 0
auth= length=0
while IFS= read -r line; do
  line=${line%$'\r'}
  [ -z "$line" ] && break
  case ${line,,} in
    authorization:*) auth=${line#*: } ;;
    content-length:*) length=${line#*: } ;;
  esac
done
refresh_file=$TOKEN_LOG.refresh

reply() {  # status body
  printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "${#2}" "$2"
}

# add_scope SCOPE: grant a repository scope to $user (none to anonymous).
add_scope() {
  local type name actions
  # repository:NAME:ACTIONS (NAME may hold ':' only before a port, not here)
  IFS=':' read -r type name actions <<<"$1"
  if [ "$type" = repository ] && [ -n "$user" ]; then
    access=$(jq -c --arg n "$name" --arg a "$actions" \
      '. + [{type:"repository", name:$n, actions:($a | split(","))}]' <<<"$access")
  fi
}

user= service= access='[]' refresh=
if [ "$method" = POST ]; then
  case $length in ''|*[!0-9]*) length=0 ;; esac
  [ "$length" -le 65536 ] || { reply "413 Payload Too Large" '{"error":"invalid_request"}'; exit 0; }
  body=
  [ "$length" -gt 0 ] && IFS= read -r -N "$length" body
  grant= token= client=
  IFS='&' read -ra params <<<"$body"
  for p in "${params[@]}"; do
    k=${p%%=*} v=$(urldecode "${p#*=}")
    case $k in
      grant_type) grant=$v ;;
      refresh_token) token=$v ;;
      client_id) client=$v ;;
      service) service=$v ;;
    esac
  done
  if [ "$grant" != refresh_token ]; then
    echo "POST $target grant_type=$grant denied" >>"$TOKEN_LOG"
    reply "400 Bad Request" '{"error":"unsupported_grant_type"}'
    exit 0
  fi
  if [ -z "$client" ]; then
    echo "POST $target grant_type=$grant no client_id" >>"$TOKEN_LOG"
    reply "400 Bad Request" '{"error":"invalid_request","error_description":"client_id required"}'
    exit 0
  fi
  user=$(awk -v t="$token" '$1 == t { print $2; exit }' "$refresh_file" 2>/dev/null)
  if [ -z "$token" ] || [ -z "$user" ]; then
    echo "POST $target grant_type=refresh_token user=? denied" >>"$TOKEN_LOG"
    reply "401 Unauthorized" '{"error":"invalid_grant","error_description":"unknown refresh token"}'
    exit 0
  fi
  # The scopes, space-separated in one parameter, once $user is known.
  for p in "${params[@]}"; do
    [ "${p%%=*}" = scope ] || continue
    read -ra scopes <<<"$(urldecode "${p#*=}")"
    for sc in "${scopes[@]}"; do add_scope "$sc"; done
  done
  echo "POST $target grant_type=refresh_token client_id=$client user=$user service=$service access=$access" >>"$TOKEN_LOG"
fi

if [ "$method" != POST ] && [ -n "$auth" ]; then
  creds=$(printf '%s' "${auth#Basic }" | base64 -d 2>/dev/null)
  if [ "${auth%% *}" != Basic ] || [ "$creds" != "$TOKEN_USER:$TOKEN_PASS" ]; then
    echo "$method $target user=? denied" >>"$TOKEN_LOG"
    reply "401 Unauthorized" '{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}'
    exit 0
  fi
  user=${creds%%:*}
fi

if [ "$method" != POST ]; then
  query=${target#*\?}
  [ "$query" = "$target" ] && query=
  offline=
  IFS='&' read -ra params <<<"$query"
  for p in "${params[@]}"; do
    k=${p%%=*} v=$(urldecode "${p#*=}")
    case $k in
      service) service=$v ;;
      scope) add_scope "$v" ;;
      offline_token) offline=$v ;;
    esac
  done
  if [ "$offline" = true ] && [ -n "$user" ]; then
    refresh=$(openssl rand -hex 24)
    echo "$refresh $user" >>"$refresh_file"
  fi
  echo "$method $target user=${user:-anonymous} service=$service access=$access${refresh:+ refresh_token issued}" >>"$TOKEN_LOG"
fi

now=$(date +%s)
x5c=$(openssl x509 -in "$TOKEN_CERT" -outform DER | openssl base64 -A)
header=$(jq -cn --arg x "$x5c" '{typ:"JWT", alg:"RS256", x5c:[$x]}' | b64url)
claims=$(jq -cn --arg sub "${user:-}" --arg aud "$service" --argjson now "$now" --argjson access "$access" \
  --arg jti "$RANDOM$RANDOM$RANDOM" \
  '{iss:"okt-issuer", sub:$sub, aud:$aud, exp:($now+300), nbf:($now-10), iat:$now, jti:$jti, access:$access}' | b64url)
sig=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$TOKEN_KEY" -binary | b64url)
token="$header.$claims.$sig"
reply "200 OK" "{\"token\":\"$token\",\"access_token\":\"$token\",\"expires_in\":300${refresh:+,\"refresh_token\":\"$refresh\"}}"
