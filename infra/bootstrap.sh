#!/usr/bin/env bash
# Tributary's one entry point on a fresh machine.
#
#   bash infra/bootstrap.sh up     install what is needed, then bring the stack and the demo up
#   bash infra/bootstrap.sh test   install what is needed, then run the whole test suite (npm test)
#   bash infra/bootstrap.sh deps   install only
#
# Installs Debian packages (redis-server, the native build deps of the librdkafka client engine,
# python3-venv, chromium for the browser tests), a supported Node.js when the machine's is not one,
# npm packages, the Maven-resolved Kafka and schema-registry distributions, and the Python packages
# the interoperability tests use. Every step is idempotent and skips work already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-up}"
STATE_DIR="${TRIBUTARY_STATE_DIR:-$ROOT/.tributary}"
DIST_DIR="${TRIBUTARY_DIST_DIR:-$ROOT/.tributary/dist}"
# The pinned Node's prefix (bin/node, include/node): bin/node-support.js names the same directory,
# so that the CLI shim finds it.
NODE_DIR="$ROOT/.tributary/node"

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

# Whether node binary $1 is on a line package.json's engines.node supports.
node_supported() {
  "$1" -e 'import("./bin/node-support.js").then(
    (s) => process.exit(s.satisfies(process.versions.node, s.enginesRange()) ? 0 : 1),
    () => process.exit(1))' >/dev/null 2>&1
}

# Node.js: the machine's when it is on a supported line; otherwise the release pinned in
# infra/node/ (its package-lock.json holds the integrity), from the npm registry's node-linux-<arch>
# package, which carries the binary and its headers. Either way it goes first on PATH, so that
# every later step runs on it: npm ci and the native build (npm's scripts and node-gyp start `node`
# from PATH), the TypeScript build, the CLI, the tests.
install_node() {
  if command -v node >/dev/null 2>&1 && node_supported node; then
    log "using the machine's Node $(node --version)"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "no Node with npm on PATH: install Node.js and npm (any version; the bootstrap then installs a supported one)"
    exit 1
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      log "no pinned Node for $(uname -m): install one on a line of package.json's engines.node"
      exit 1
      ;;
  esac
  local pinned
  pinned="$(node -p "require('./infra/node/package.json').optionalDependencies['node-linux-$arch']")"
  if [ ! -x "$NODE_DIR/bin/node" ] || [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" != "v$pinned" ]; then
    log "the machine's Node $(node --version) is not on a supported line: installing Node $pinned (npm package node-linux-$arch) under .tributary/node"
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp infra/node/package.json infra/node/package-lock.json "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    # A Node prefix, as an official tarball unpacks: node-gyp reads include/node/common.gypi and
    # config.gypi under the --nodedir it is given, and PATH takes bin/.
    ln -s "node_modules/node-linux-$arch/bin" "$NODE_DIR/bin"
    ln -s "node_modules/node-linux-$arch/include" "$NODE_DIR/include"
  fi
  if ! node_supported "$NODE_DIR/bin/node"; then
    log "the pinned Node $pinned is not on a line of package.json's engines.node: fix infra/node/package.json"
    exit 1
  fi
  export PATH="$NODE_DIR/bin:$PATH"
  hash -r
  log "using Node $(node --version) from .tributary/node"
}

install_npm() {
  # The confluent client engine (@confluentinc/kafka-javascript, an optional dependency) compiles
  # librdkafka from source on install: linked against the Debian libraries above, since its
  # default static build downloads their sources. package.json's allowScripts lets npm run it.
  export CKJS_LINKING="${CKJS_LINKING:-dynamic}"
  # node-gyp needs Node's headers: use those of the Node on PATH (the Debian package's under /usr,
  # the pinned one's under .tributary/node) rather than downloading them from nodejs.org.
  local node_prefix
  node_prefix="$(dirname "$(dirname "$(command -v node)")")"
  if [ "$node_prefix" = "$NODE_DIR" ]; then
    export npm_config_nodedir="$NODE_DIR"
  elif [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node.h" ]; then
    export npm_config_nodedir="$node_prefix"
  fi
  # node_modules/.node-abi records the Node ABI the native addons were built for: another Node
  # (say, the machine's 20 before, the pinned 26 now) reinstalls them.
  local abi
  abi="$(node -p process.versions.modules)"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
    [ "$(cat node_modules/.node-abi 2>/dev/null)" != "$abi" ]; then
    log "installing npm packages on Node $(node --version) (with a librdkafka build for the confluent engine: about a minute on 2 cores)"
    npm ci --no-audit --no-fund
    echo "$abi" >node_modules/.node-abi
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
  install_node
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
    exec node bin/tributary.js --app examples/shop demo
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
