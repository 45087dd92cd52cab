#!/usr/bin/env bash
# Blue-green cut-over (docs/operations.md "Blue-green").
#   deploy/kubernetes/blue-green.sh <blue|green>
# 1. applies the idle colour's overlay, 2. waits until every Deployment of it is rolled out and ready,
# 3. runs smoke queries against that colour's own gateway Service, 4. points quarry-gateway-live at it,
# 5. leaves the previous colour running for rollback (switch back with this script).
# Needs QUARRY_SMOKE_TOKEN: a token of a smoke-test tenant with documents:read.
set -euo pipefail

colour=${1:-}
if [[ "$colour" != blue && "$colour" != green ]]; then
  echo "usage: $0 <blue|green>" >&2
  exit 2
fi
: "${QUARRY_SMOKE_TOKEN:?set QUARRY_SMOKE_TOKEN to a token with documents:read for the smoke queries}"
namespace=${QUARRY_NAMESPACE:-quarry}
here=$(cd "$(dirname "$0")" && pwd)
services=(gateway documents search indexer)

echo "1/4 applying the $colour overlay"
kubectl apply -k "$here/overlays/$colour"

echo "2/4 waiting for $colour to be ready"
for service in "${services[@]}"; do
  kubectl -n "$namespace" rollout status "deployment/quarry-$service-$colour" --timeout=10m
done

echo "3/4 smoke queries against quarry-gateway-$colour"
port=${QUARRY_SMOKE_PORT:-18443}
kubectl -n "$namespace" port-forward "service/quarry-gateway-$colour" "$port:4000" >/dev/null &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -ksf -o /dev/null "https://127.0.0.1:$port/health/live" 2>/dev/null && break
  sleep 0.2
done
smoke() {
  local body=$1
  local answer
  answer=$(curl -ksS --max-time 10 "https://127.0.0.1:$port/graphql" \
    -H "authorization: Bearer $QUARRY_SMOKE_TOKEN" -H 'content-type: application/json' --data "$body")
  if [[ "$answer" != *'"data"'* || "$answer" == *'"errors"'* ]]; then
    echo "smoke query failed on $colour, live Service unchanged: $answer" >&2
    exit 1
  fi
}
smoke '{"query":"{ search(query: \"smoke\", first: 1) { total } }"}'
smoke '{"query":"{ documents(ids: [\"smoke\"]) { id } }"}'

echo "4/4 switching quarry-gateway-live to $colour"
kubectl -n "$namespace" patch service quarry-gateway-live --type merge \
  -p "{\"spec\":{\"selector\":{\"quarry.example.com/colour\":\"$colour\"}}}"
other=$([[ "$colour" == blue ]] && echo green || echo blue)
echo "live on $colour; $other is still running for rollback: $0 $other"
