#!/usr/bin/env bash
# Installs the system packages veriml's build and tests need on a Debian/Ubuntu machine,
# and the Rust toolchain pieces named in rust-toolchain.toml. Safe to run repeatedly.
set -euo pipefail

packages=(protobuf-compiler clang libclang-dev lld pkg-config libssl-dev make git curl qemu-user python3 python3-venv)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "[install-deps] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] system packages present"
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "[install-deps] installing node.js and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

# rustup reads rust-toolchain.toml in the repository root and installs the pinned toolchain,
# its wasm target and rust-src on first use.
cd "$(dirname "$0")/.."
if ! command -v rustup >/dev/null 2>&1; then
  echo "[install-deps] rustup is required: https://rustup.rs" >&2
  exit 1
fi
rustup show active-toolchain >/dev/null
# rustup adds the file's targets only when it installs the toolchain; add them to one that was
# already there too (wasm32v1-none for the runtime; wasm32-unknown-unknown, also named in
# rust-toolchain.toml, for the planned engine guest).
toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
installed_targets=$(rustup target list --installed --toolchain "$toolchain")
for target in wasm32v1-none wasm32-unknown-unknown; do
  grep -qx "$target" <<<"$installed_targets" || rustup target add --toolchain "$toolchain" "$target"
done
# The same for its components: rust-src (the runtime's wasm build), rustfmt (the formatting
# stage) and clippy (clippy-driver compiles the workspace's crates, scripts/common.sh).
installed_components=$(rustup component list --installed --toolchain "$toolchain")
for component in rust-src rustfmt clippy; do
  grep -q "^$component" <<<"$installed_components" || rustup component add --toolchain "$toolchain" "$component"
done
echo "[install-deps] done"
