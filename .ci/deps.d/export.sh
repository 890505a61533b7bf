# DuckDB for the oxstore export test: the npm package @duckdb/node-api, whose
# platform package (@duckdb/node-bindings-<os>-<arch>) ships the engine. It goes
# into $bin/../duckdb-node, outside the module; the test runs it with node.
# Sourced by .ci/deps with $bin set; idempotent; the version is pinned.
DUCKDB_NODE_VERSION=1.5.6-r.1
install_duckdb_node() {
  local dir stamp
  dir=$(cd "$bin/.." && pwd)/duckdb-node
  stamp="$dir/.version"
  if [ -d "$dir/node_modules/@duckdb/node-api" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$DUCKDB_NODE_VERSION" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
      echo "deps: installing nodejs npm"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "deps: npm not found; the DuckDB export test will be skipped"
      return 0
    fi
  fi
  echo "deps: installing @duckdb/node-api@$DUCKDB_NODE_VERSION"
  local start=$SECONDS
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --silent \
    "@duckdb/node-api@$DUCKDB_NODE_VERSION" || return 1
  echo "$DUCKDB_NODE_VERSION" > "$stamp"
  echo "deps: duckdb-node installed in $((SECONDS - start))s"
}
install_duckdb_node
