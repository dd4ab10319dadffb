//! Builds the engine's wasm guest (`primitives/engine-guest`, tract-onnx) for
//! `wasm32-unknown-unknown` and hands its path to the crate as `VERIML_ENGINE_GUEST_WASM`.
//!
//! The guest is built with deterministic SIMD128 only (no relaxed SIMD) and paths remapped, so
//! every machine with the pinned toolchain builds the same code: the same instructions, hence
//! the same fuel and outputs. Its bytes still depend on the checkout's path (cargo's per-path
//! crate hashes order the functions), so the guest hash that `infer` prints is per build. Set
//! `VERIML_ENGINE_GUEST_WASM=/path/to/guest.wasm` to use a module built elsewhere.

use std::{env, path::PathBuf, process::Command};

fn main() {
	// The engine compiles the guest for this exact target (see `snapshot.rs`, fixed instruction set).
	println!("cargo:rustc-env=VERIML_ENGINE_TARGET={}", env::var("TARGET").expect("cargo sets TARGET"));
	println!("cargo:rerun-if-env-changed=VERIML_ENGINE_GUEST_WASM");
	if let Ok(prebuilt) = env::var("VERIML_ENGINE_GUEST_WASM") {
		println!("cargo:rustc-env=VERIML_ENGINE_GUEST_WASM={prebuilt}");
		return
	}

	let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
	let guest_dir = manifest_dir.join("../engine-guest").canonicalize().expect("engine-guest exists");
	let primitives_dir = manifest_dir.join("../inference").canonicalize().expect("inference exists");
	for dir in [&guest_dir, &primitives_dir] {
		println!("cargo:rerun-if-changed={}", dir.join("src").display());
		println!("cargo:rerun-if-changed={}", dir.join("Cargo.toml").display());
	}
	println!("cargo:rerun-if-changed={}", guest_dir.join("Cargo.lock").display());

	// A target dir of its own, beside the workspace's, so the nested build neither waits on
	// the outer build's lock nor is thrown away with OUT_DIR.
	let root = manifest_dir.join("../..").canonicalize().unwrap();
	let workspace_target =
		env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
	let target_dir = workspace_target.join("engine-guest");
	let cargo_home = env::var("CARGO_HOME")
		.unwrap_or_else(|_| format!("{}/.cargo", env::var("HOME").unwrap_or_default()));

	// One element per argument: CARGO_ENCODED_RUSTFLAGS passes each to rustc as it is.
	let rustflags = [
		"-Ctarget-feature=+simd128,-relaxed-simd".to_string(),
		"--cfg".to_string(),
		"getrandom_backend=\"unsupported\"".to_string(),
		format!("--remap-path-prefix={}=/veriml", root.display()),
		format!("--remap-path-prefix={cargo_home}=/cargo"),
	]
	.join("\x1f");

	let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
	let status = Command::new(cargo)
		.args(["build", "--release", "--locked", "--target", "wasm32-unknown-unknown"])
		.arg("--manifest-path")
		.arg(guest_dir.join("Cargo.toml"))
		.arg("--target-dir")
		.arg(&target_dir)
		// The outer build's flags and jobserver settings are for the host target.
		.env_remove("RUSTFLAGS")
		.env_remove("CARGO_BUILD_RUSTFLAGS")
		.env_remove("CARGO_ENCODED_RUSTFLAGS")
		.env_remove("RUSTC_WORKSPACE_WRAPPER")
		.env("CARGO_ENCODED_RUSTFLAGS", rustflags)
		.status()
		.expect("cargo runs");
	assert!(status.success(), "building the engine guest (primitives/engine-guest) failed");

	let wasm = target_dir.join("wasm32-unknown-unknown/release/veriml_engine_guest.wasm");
	assert!(wasm.exists(), "the guest build produced no {}", wasm.display());
	println!("cargo:rustc-env=VERIML_ENGINE_GUEST_WASM={}", wasm.display());
}
