# shellcheck shell=bash
# Sourced by the CI scripts: which build of walletgate's binaries they run,
# and the cargo command that makes sure it is there.
#
# WALLETGATE_PROFILE=release (the default, so a developer running one script
# by hand sees what `cargo run --release` serves) or debug. `.ci/run` sets
# debug: `cargo test` has just built the debug binaries, so CI compiles the
# crate once instead of twice (an optimised build costs about ten minutes on
# two cores), and the debug build is the stricter of the two: overflow
# checks and debug assertions are on. The release profile is still linted
# (`cargo clippy --release`) so it is known to compile.
WALLETGATE_PROFILE="${WALLETGATE_PROFILE:-release}"
case "$WALLETGATE_PROFILE" in
  release) WALLETGATE_BIN_DIR="target/release" ;;
  debug) WALLETGATE_BIN_DIR="target/debug" ;;
  *)
    echo "WALLETGATE_PROFILE must be release or debug, not '${WALLETGATE_PROFILE}'" >&2
    exit 1
    ;;
esac
export WALLETGATE_PROFILE WALLETGATE_BIN_DIR

# `cargo build` of the chosen profile, a no-op when the binaries are up to
# date. In release, extra arguments pick binaries (`--bin walletgate`). In
# debug every target is built, whatever the arguments: that is the build
# `cargo test` made (the test targets' dev-dependencies add features to
# shared crates), where building binaries alone would compile those crates
# again with other features and overwrite the tests' binaries.
build_walletgate() {
  if [ "$WALLETGATE_PROFILE" = release ]; then
    cargo build --release --locked "$@"
  else
    cargo build --locked --all-targets
  fi
}
