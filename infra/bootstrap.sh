#!/usr/bin/env bash
# Tributary's one entry point on a fresh machine.
#
#   bash infra/bootstrap.sh up     install what is needed, then bring the stack and the demo up
#   bash infra/bootstrap.sh test   install what is needed, then run the whole test suite (npm test)
#   bash infra/bootstrap.sh deps   install only
#
# Installs Debian packages (redis-server, the native build deps of the librdkafka client engine,
# python3-venv, chromium for the browser tests), npm packages, the Maven-resolved Kafka and
# schema-registry distributions, and the Python packages the interoperability tests use. Every
# step is idempotent and skips work already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-up}"
STATE_DIR="${TRIBUTARY_STATE_DIR:-$ROOT/.tributary}"
DIST_DIR="${TRIBUTARY_DIST_DIR:-$ROOT/.tributary/dist}"

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# chromium: the headless browser the dashboard's browser tests drive (playwright-core, /usr/bin/chromium).
APT_PACKAGES=(redis-server redis-tools g++ make pkg-config libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev python3-venv chromium)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then return; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing packages ${missing[*]} and no apt-get: install them with your package manager"
    return
  fi
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_npm() {
  # The confluent client engine (@confluentinc/kafka-javascript, an optional dependency) compiles
  # librdkafka from source on install: linked against the Debian libraries above, since its
  # default static build downloads their sources. package.json's allowScripts lets npm run it.
  export CKJS_LINKING="${CKJS_LINKING:-dynamic}"
  # node-gyp needs Node's headers: use those installed beside node rather than downloading them.
  local node_prefix
  node_prefix="$(dirname "$(dirname "$(command -v node)")")"
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
    export npm_config_nodedir="$node_prefix"
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages (with a librdkafka build for the confluent engine: about a minute on 2 cores)"
    npm ci --no-audit --no-fund
  fi
  check_confluent_engine
  log "building TypeScript"
  npm run -s build
}

# npm drops an optional dependency whose build fails, and says so only at verbose log levels.
check_confluent_engine() {
  if node -e "require('@confluentinc/kafka-javascript')" >/dev/null 2>&1; then return; fi
  log "the confluent client engine is not installed: its librdkafka build failed or was skipped"
  log "(kafkajs works without it). To see why: rm -rf node_modules && CKJS_LINKING=dynamic npm ci --foreground-scripts"
  if [ "$MODE" = "test" ]; then exit 1; fi
}

install_maven() {
  log "resolving Kafka and the schema registry from Maven Central"
  mvn -B -q -f infra/maven/pom.xml package -Dtributary.dist="$DIST_DIR"
}

install_python() {
  local venv="$ROOT/.tributary/venv"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating Python venv for interoperability tests"
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro, fastavro, schemathesis' >/dev/null 2>&1; then
    log "installing Python packages (confluent-kafka)"
    "$venv/bin/pip" install -q -r infra/python-requirements.txt
  fi
}

install_all() {
  install_apt
  install_npm
  install_maven
  install_python
}

case "$MODE" in
  deps)
    install_all
    ;;
  up)
    install_all
    exec node bin/tributary.js demo
    ;;
  test)
    install_all
    exec npm test
    ;;
  *)
    echo "usage: bash infra/bootstrap.sh [up|test|deps]" >&2
    exit 2
    ;;
esac
