//! Builds the engine's wasm guest (`primitives/engine-guest`, tract-onnx) for
//! `wasm32-unknown-unknown`, meters its bulk memory instructions (`src/metering.rs`: each
//! becomes a call of the guest's helper that charges fuel per byte) and hands the metered
//! module's path to the crate as `VERIML_ENGINE_GUEST_WASM`.
//!
//! The build is reproducible: the same bytes from any checkout path on any machine with the
//! pinned toolchain (`rust-toolchain.toml`) and the guest's lockfile. cargo hashes a path
//! dependency that lies outside the workspace by its absolute path, and those hashes order the
//! guest's functions; so the guest's sources (with the root manifest it inherits from) are
//! copied to one fixed path, [`FIXED_SOURCE_DIR`], and built from there, every other path
//! remapped. `scripts/build-engine-guest.sh` prints the guest's hash;
//! `primitives/engine/guest.blake2` pins it, and the engine's tests compare.
//!
//! Set `VERIML_ENGINE_GUEST_WASM=/path/to/guest.wasm` to use a module built elsewhere (it is
//! metered here too).

use std::{
	env, fs,
	path::{Path, PathBuf},
	process::Command,
};

/// Where the guest's sources are built from: the same absolute path on every machine.
const FIXED_SOURCE_DIR: &str = "/tmp/veriml-engine-guest-src";

#[path = "../inference/src/guest.rs"]
#[allow(dead_code)]
mod guest_consts;
#[path = "src/metering.rs"]
#[allow(dead_code)]
mod metering;
#[path = "../inference/src/metering.rs"]
#[allow(dead_code)]
mod names;
#[path = "src/stack_limit.rs"]
#[allow(dead_code)]
mod stack_limit;

/// Writes the metered form of the guest at `built` to `out` and hands both paths to the crate
/// (the unmetered one for the engine's tests of metering).
fn meter_guest(built: &Path, out: &Path) {
	println!("cargo:rustc-env=VERIML_ENGINE_GUEST_UNMETERED_WASM={}", built.display());
	let wasm = fs::read(built).unwrap_or_else(|e| panic!("reading {}: {e}", built.display()));
	// Metered, and declaring the engine version it implements (`ENGINE_VERSION`).
	let metered = metering::meter(&wasm)
		.and_then(|metered| metering::declare_version(&metered, guest_consts::ENGINE_VERSION))
		.unwrap_or_else(|e| panic!("metering the engine guest {}: {e}", built.display()));
	// Written only when it changed: a new modification time alone would rebuild the engine and
	// the node (builds with other features run this script too).
	if fs::read(out).ok().as_deref() != Some(&metered[..]) {
		fs::write(out, metered).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
	}
	println!("cargo:rustc-env=VERIML_ENGINE_GUEST_WASM={}", out.display());
}

/// Copies the file `from` to `to` with its modification time, so that cargo, which judges a
/// source by its time, does not rebuild what did not change.
fn copy_file(from: &Path, to: &Path) {
	fs::copy(from, to).unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
	let modified = fs::metadata(from).and_then(|m| m.modified()).expect("a modification time");
	fs::File::options()
		.write(true)
		.open(to)
		.and_then(|file| file.set_modified(modified))
		.unwrap_or_else(|e| panic!("dating {}: {e}", to.display()));
}

/// Copies the files of `from` (recursively) into `to`.
fn copy_tree(from: &Path, to: &Path) {
	fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
	for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display())) {
		let entry = entry.expect("a directory entry");
		let target = to.join(entry.file_name());
		if entry.file_type().expect("a file type").is_dir() {
			copy_tree(&entry.path(), &target);
		} else {
			copy_file(&entry.path(), &target);
		}
	}
}

/// Lays the guest's sources out under [`FIXED_SOURCE_DIR`] as they are in the checkout at
/// `root`: the root manifest (for the inherited workspace fields), the inference primitives and
/// the guest, nothing else. Answers the guest's manifest there.
fn lay_out_sources(root: &Path) -> PathBuf {
	let fixed = Path::new(FIXED_SOURCE_DIR);
	// Another user's directory at this path would feed this build its code: refuse it.
	if let Ok(metadata) = fs::symlink_metadata(fixed) {
		use std::os::unix::fs::MetadataExt;
		let mine = fs::metadata(root).expect("the checkout exists").uid();
		assert!(
			metadata.is_dir() && !metadata.file_type().is_symlink() && metadata.uid() == mine,
			"{FIXED_SOURCE_DIR} belongs to someone else or is not a directory; remove it"
		);
		fs::remove_dir_all(fixed).unwrap_or_else(|e| panic!("clearing {FIXED_SOURCE_DIR}: {e}"));
	}
	fs::create_dir_all(fixed).unwrap_or_else(|e| panic!("creating {FIXED_SOURCE_DIR}: {e}"));
	copy_file(&root.join("Cargo.toml"), &fixed.join("Cargo.toml"));
	for (crate_dir, parts) in [
		("primitives/inference", &["Cargo.toml", "src"][..]),
		("primitives/engine-guest", &["Cargo.toml", "Cargo.lock", "src"][..]),
	] {
		for part in parts {
			let (from, to) = (root.join(crate_dir).join(part), fixed.join(crate_dir).join(part));
			if from.is_dir() {
				copy_tree(&from, &to);
			} else {
				fs::create_dir_all(to.parent().unwrap()).expect("the crate directory is created");
				copy_file(&from, &to);
			}
		}
	}
	fixed.join("primitives/engine-guest/Cargo.toml")
}

fn main() {
	// The engine compiles the guest for this exact target (see `snapshot.rs`, fixed instruction set).
	println!("cargo:rustc-env=VERIML_ENGINE_TARGET={}", env::var("TARGET").expect("cargo sets TARGET"));
	println!("cargo:rerun-if-env-changed=VERIML_ENGINE_GUEST_WASM");
	println!("cargo:rerun-if-changed=src/metering.rs");
	println!("cargo:rerun-if-changed=src/stack_limit.rs");
	if let Ok(prebuilt) = env::var("VERIML_ENGINE_GUEST_WASM") {
		let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
		meter_guest(Path::new(&prebuilt), &out.join("veriml_engine_guest.wasm"));
		return;
	}

	let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
	let guest_dir = manifest_dir.join("../engine-guest").canonicalize().expect("engine-guest exists");
	let primitives_dir = manifest_dir.join("../inference").canonicalize().expect("inference exists");
	for dir in [&guest_dir, &primitives_dir] {
		println!("cargo:rerun-if-changed={}", dir.join("src").display());
		println!("cargo:rerun-if-changed={}", dir.join("Cargo.toml").display());
	}
	println!("cargo:rerun-if-changed={}", guest_dir.join("Cargo.lock").display());
	// The workspace fields the inference primitives inherit.
	println!("cargo:rerun-if-changed={}", manifest_dir.join("../../Cargo.toml").display());

	// A target dir of its own, beside the workspace's, so the nested build neither waits on
	// the outer build's lock nor is thrown away with OUT_DIR.
	let root = manifest_dir.join("../..").canonicalize().unwrap();
	let workspace_target = env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
	let target_dir = workspace_target.join("engine-guest");
	let cargo_home =
		env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", env::var("HOME").unwrap_or_default()));

	// One element per argument: CARGO_ENCODED_RUSTFLAGS passes each to rustc as it is. Every
	// absolute path the build sees is remapped, so none reaches the guest's bytes.
	fs::create_dir_all(&target_dir).expect("the guest's target dir is created");
	let rustflags = [
		"-Ctarget-feature=+simd128,-relaxed-simd".to_string(),
		"--cfg".to_string(),
		"getrandom_backend=\"unsupported\"".to_string(),
		format!("--remap-path-prefix={FIXED_SOURCE_DIR}=/veriml"),
		format!("--remap-path-prefix={}=/target", target_dir.canonicalize().unwrap().display()),
		format!("--remap-path-prefix={cargo_home}=/cargo"),
	]
	.join("\x1f");

	// One build at a time from the fixed path: another checkout's build waits here.
	let lock = fs::File::create(format!("{FIXED_SOURCE_DIR}.lock")).expect("the build lock can be created");
	lock.lock().expect("the build lock is taken");
	let manifest = lay_out_sources(&root);
	let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
	let status = Command::new(cargo)
		.args(["build", "--release", "--locked", "--target", "wasm32-unknown-unknown"])
		.arg("--manifest-path")
		.arg(&manifest)
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
	// Beside the build, where `scripts/build-engine-guest.sh` finds it.
	meter_guest(&wasm, &target_dir.join("veriml_engine_guest.metered.wasm"));
}
