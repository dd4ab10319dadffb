//! The float mode a guest's calls compute in: IEEE subnormals up to engine version 14, flushed
//! from version 15 ([`FLUSH_SUBNORMALS_VERSION`]).
//!
//! Intel cores take a microcode assist, 35–40 ns, for each SSE or AVX instruction with a
//! subnormal operand or a result that underflows, where a normal one takes under a nanosecond:
//! a model of subnormal weights ran at 16.8 times its weight (docs/engine.md, "Subnormal
//! numbers"). From version 15 the engine's arithmetic treats a subnormal operand as zero and
//! writes zero for a subnormal result: MXCSR's DAZ and FTZ, set on the thread of each call into
//! the guest ([`Flushing`], taken by `Guest::in_slot`) and on every pool thread a host kernel
//! splits its work to ([`Mode::adopt`]), and restored after. The guest's wasm (cranelift's SSE
//! code) and the host kernels then run the same operations in the same mode, so they agree as
//! they do under IEEE, and every x86-64 CPU flushes alike (DAZ and FTZ are architectural since
//! SSE2; x86 detects tininess after rounding on every core). MXCSR's control bits are
//! callee-saved, so code between here and the guest keeps them. Other architectures flush
//! differently (Arm detects tininess before rounding), so a guest of version 15 or later is
//! refused there (`Guest::compile`).

pub use veriml_inference_primitives::guest::FLUSH_SUBNORMALS_VERSION;

/// MXCSR's denormals-are-zero bit: a subnormal operand is read as a zero of its sign.
#[cfg(target_arch = "x86_64")]
const DAZ: u32 = 1 << 6;
/// MXCSR's flush-to-zero bit: a result that would be subnormal is written as a zero of its sign.
#[cfg(target_arch = "x86_64")]
const FTZ: u32 = 1 << 15;

/// Whether this machine can run a guest that flushes subnormals.
pub const CAN_FLUSH: bool = cfg!(target_arch = "x86_64");

#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn read() -> u32 {
	let mut csr: u32 = 0;
	// SAFETY: stores MXCSR into a local u32.
	unsafe {
		core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr as *mut u32, options(nostack, preserves_flags));
	}
	csr
}

/// Not inlined, and an `asm!` that may touch any memory, so that the compiler keeps it in place
/// among the caller's memory accesses. That is all it can promise: LLVM assumes the default
/// float mode, and nothing stops it from moving arithmetic on registers across the change.
/// Every change is made at the edge of a call into the guest or of a pool's band, far from
/// the arithmetic it governs, and the start-up check of the host kernels against the guest's
/// wasm, run in the guest's mode, is what shows that the host computes what the guest does.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn write(csr: u32) {
	// SAFETY: loads MXCSR from a local u32 that was read from MXCSR with only DAZ and FTZ
	// changed (valid bits), and all floating-point exceptions stay masked.
	unsafe {
		core::arch::asm!("ldmxcsr [{}]", in(reg) &csr as *const u32, options(nostack, preserves_flags));
	}
}

#[cfg(target_arch = "x86_64")]
fn with_mode(csr: u32, flush: bool) -> u32 {
	if flush {
		csr | DAZ | FTZ
	} else {
		csr & !(DAZ | FTZ)
	}
}

/// Puts this thread in the mode (MXCSR written only if it changes); answers its MXCSR before.
#[cfg(target_arch = "x86_64")]
fn enter(flush: bool) -> u32 {
	let before = read();
	let wanted = with_mode(before, flush);
	if wanted != before {
		write(wanted);
	}
	before
}

std::thread_local! {
	/// The mode the innermost [`Flushing`] alive on this thread put it in, if any.
	static WANTED: core::cell::Cell<Option<bool>> = const { core::cell::Cell::new(None) };
}

/// Puts this thread back in the mode its innermost [`Flushing`] set, if something changed it.
/// wasmtime leaves a trap's signal handler (an access outside memory, `unreachable`) by a long
/// jump, and Linux runs a handler with the default MXCSR (IEEE), which the jump keeps: the
/// engine calls this after every call into the guest returns, so no later call of the same
/// slot runs in the wrong mode.
pub fn reassert() {
	#[cfg(target_arch = "x86_64")]
	if let Some(flush) = WANTED.with(|wanted| wanted.get()) {
		enter(flush);
	}
}

/// The float mode of the calling thread: whether it flushes subnormals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
	flushing: bool,
}

impl Mode {
	/// This thread's mode.
	pub fn current() -> Self {
		#[cfg(target_arch = "x86_64")]
		{
			Self { flushing: read() & (DAZ | FTZ) == DAZ | FTZ }
		}
		#[cfg(not(target_arch = "x86_64"))]
		{
			Self { flushing: false }
		}
	}

	/// Whether subnormals are flushed.
	pub fn flushes(self) -> bool {
		self.flushing
	}

	/// Puts this thread in `self` (a pool thread taking a run's work) until the guard drops.
	pub fn adopt(self) -> Flushing {
		Flushing::set(self.flushing)
	}
}

/// This thread in a float mode until dropped, when its mode before is restored.
#[must_use = "the mode is restored when the guard drops"]
pub struct Flushing {
	/// This thread's MXCSR before, written back on drop (whatever changed it meanwhile).
	#[cfg(target_arch = "x86_64")]
	restore: u32,
	/// The mode an outer guard wanted, if any.
	outer: Option<bool>,
}

impl Flushing {
	/// Flushes subnormals on this thread if `flush`, computes with IEEE subnormals otherwise.
	pub fn set(flush: bool) -> Self {
		let outer = WANTED.with(|wanted| wanted.replace(Some(flush)));
		#[cfg(target_arch = "x86_64")]
		{
			Self { restore: enter(flush), outer }
		}
		#[cfg(not(target_arch = "x86_64"))]
		{
			// (A flushing guest is refused on other architectures before any call.)
			let _ = flush;
			Self { outer }
		}
	}
}

impl Drop for Flushing {
	fn drop(&mut self) {
		WANTED.with(|wanted| wanted.set(self.outer));
		#[cfg(target_arch = "x86_64")]
		if read() != self.restore {
			write(self.restore);
		}
	}
}

/// How a CPU's `minps`, `maxps`, `minss` and `maxss` (and AVX's `vminps`, `vmaxps`) answer in
/// the flushed mode. Each answers one of its operands, chosen by comparing them with subnormals
/// read as zero (so two subnormals compare equal, and the second is answered); whether the
/// operand comes back read as zero or as stored is not written in one place for every CPU, and
/// the guest's wasm (cranelift's `minps`/`maxps` for `f32x4.min`/`max`, `minss`/`maxss` for the
/// scalar ones) and the host kernels both run these instructions, so the answer is part of a
/// flushing guest's results: [`check_flushed_min_max`] refuses a CPU that answers otherwise
/// than x86-64 processors do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushedMinMax {
	/// The chosen operand read as zero of its sign: what x86-64 processors answer (measured on
	/// an Intel Xeon, family 6 model 167, and an AMD EPYC, Zen 4, family 25 model 17).
	AsZero,
	/// The chosen operand as stored, a subnormal kept: what qemu's emulation answers
	/// (`qemu-x86_64`, whatever its `-cpu`), which is not a processor any node runs on.
	AsStored,
}

/// Set to `1`, lets the engine run a flushing guest on a CPU whose flushed `min` and `max`
/// answer [`FlushedMinMax::AsStored`]: for the determinism stage's runs under qemu only
/// (`scripts/determinism.sh`), whose real models take no `min` or `max` of a subnormal. A node
/// that sets it on such a CPU computes other bits than every other node for any that does.
pub const ACCEPT_AS_STORED_MIN_MAX: &str = "VERIML_ENGINE_ACCEPT_AS_STORED_MIN_MAX";

/// The operand pairs probed, as bits: subnormals of either sign against each other, zeros and
/// the smallest normals.
#[cfg(target_arch = "x86_64")]
const MIN_MAX_PROBES: [(u32, u32); 8] = [
	(0x0000_1234, 0x0000_5678),
	(0x0000_5678, 0x0000_1234),
	(0x8000_1234, 0x0000_5678),
	(0x0000_1234, 0x8000_5678),
	(0x0000_1234, 0x0000_0000),
	(0x8000_0000, 0x0000_1234),
	(0x0000_1234, 0x0080_0000),
	(0x8000_1234, 0x8080_0000),
];

/// An instruction probed: its name, whether it is `max`, and its answer for `(a, b)` (`a` its
/// first source), computed where the optimiser can neither fold nor move it.
#[cfg(target_arch = "x86_64")]
type MinMaxInstruction = (&'static str, bool, fn(f32, f32) -> f32);

#[cfg(target_arch = "x86_64")]
mod min_max {
	use core::arch::x86_64::*;
	use std::hint::black_box;

	pub fn minps(a: f32, b: f32) -> f32 {
		// SAFETY: SSE is part of every x86-64 CPU.
		unsafe { black_box(_mm_cvtss_f32(_mm_min_ps(_mm_set1_ps(black_box(a)), _mm_set1_ps(black_box(b))))) }
	}
	pub fn maxps(a: f32, b: f32) -> f32 {
		// SAFETY: SSE is part of every x86-64 CPU.
		unsafe { black_box(_mm_cvtss_f32(_mm_max_ps(_mm_set1_ps(black_box(a)), _mm_set1_ps(black_box(b))))) }
	}
	pub fn minss(a: f32, b: f32) -> f32 {
		// SAFETY: SSE is part of every x86-64 CPU.
		unsafe { black_box(_mm_cvtss_f32(_mm_min_ss(_mm_set_ss(black_box(a)), _mm_set_ss(black_box(b))))) }
	}
	pub fn maxss(a: f32, b: f32) -> f32 {
		// SAFETY: SSE is part of every x86-64 CPU.
		unsafe { black_box(_mm_cvtss_f32(_mm_max_ss(_mm_set_ss(black_box(a)), _mm_set_ss(black_box(b))))) }
	}
	#[target_feature(enable = "avx")]
	fn vminps_avx(a: f32, b: f32) -> f32 {
		let lanes = _mm256_min_ps(_mm256_set1_ps(black_box(a)), _mm256_set1_ps(black_box(b)));
		black_box(_mm256_cvtss_f32(_mm256_permute2f128_ps::<1>(lanes, lanes)))
	}
	#[target_feature(enable = "avx")]
	fn vmaxps_avx(a: f32, b: f32) -> f32 {
		let lanes = _mm256_max_ps(_mm256_set1_ps(black_box(a)), _mm256_set1_ps(black_box(b)));
		black_box(_mm256_cvtss_f32(_mm256_permute2f128_ps::<1>(lanes, lanes)))
	}
	pub fn vminps(a: f32, b: f32) -> f32 {
		// SAFETY: probed only where the CPU has AVX (`min_max_instructions`).
		unsafe { vminps_avx(a, b) }
	}
	pub fn vmaxps(a: f32, b: f32) -> f32 {
		// SAFETY: probed only where the CPU has AVX (`min_max_instructions`).
		unsafe { vmaxps_avx(a, b) }
	}
}

/// The instructions probed on this CPU: SSE's, and AVX's where it has them.
#[cfg(target_arch = "x86_64")]
fn min_max_instructions() -> Vec<MinMaxInstruction> {
	let mut instructions: Vec<MinMaxInstruction> = vec![
		("minps", false, min_max::minps),
		("maxps", true, min_max::maxps),
		("minss", false, min_max::minss),
		("maxss", true, min_max::maxss),
	];
	if std::arch::is_x86_feature_detected!("avx") {
		instructions
			.extend([("vminps", false, min_max::vminps as fn(f32, f32) -> f32), ("vmaxps", true, min_max::vmaxps)]);
	}
	instructions
}

/// What an x86 `min` (`max`: `MAX`) answers for the operands `a` and `b` (bits) in the flushed
/// mode, where it answers the chosen operand `answered`: `a` if `a < b` (`a > b`) with
/// subnormals read as zero, else `b` (so `b` for two subnormals, and for `-0` and `+0`).
#[cfg(target_arch = "x86_64")]
pub fn flushed_min_max_model(answered: FlushedMinMax, max: bool, a: u32, b: u32) -> u32 {
	let as_zero = |bits: u32| if bits & 0x7f80_0000 == 0 { bits & 0x8000_0000 } else { bits };
	let (x, y) = (f32::from_bits(as_zero(a)), f32::from_bits(as_zero(b)));
	let chosen = if (max && x > y) || (!max && x < y) { a } else { b };
	match answered {
		FlushedMinMax::AsZero => as_zero(chosen),
		FlushedMinMax::AsStored => chosen,
	}
}

/// How this CPU's `min` and `max` instructions answer in the flushed mode, measured now on the
/// calling thread; an error naming the first answer that is neither way.
pub fn flushed_min_max() -> Result<FlushedMinMax, String> {
	#[cfg(target_arch = "x86_64")]
	{
		let instructions = min_max_instructions();
		let answers: Vec<u32> = {
			let _flushing = Flushing::set(true);
			instructions
				.iter()
				.flat_map(|(_, _, f)| MIN_MAX_PROBES.map(|(a, b)| f(f32::from_bits(a), f32::from_bits(b)).to_bits()))
				.collect()
		};
		let [expected, as_stored] = [FlushedMinMax::AsZero, FlushedMinMax::AsStored].map(|answered| -> Vec<u32> {
			instructions
				.iter()
				.flat_map(|(_, max, _)| MIN_MAX_PROBES.map(|(a, b)| flushed_min_max_model(answered, *max, a, b)))
				.collect()
		});
		if answers == expected {
			return Ok(FlushedMinMax::AsZero);
		}
		if answers == as_stored {
			return Ok(FlushedMinMax::AsStored);
		}
		let at = answers.iter().zip(&expected).position(|(got, want)| got != want).unwrap_or_default();
		let ((name, _, _), (a, b)) =
			(instructions[at / MIN_MAX_PROBES.len()], MIN_MAX_PROBES[at % MIN_MAX_PROBES.len()]);
		Err(format!(
			"this CPU's {name} of {a:#010x} and {b:#010x} with subnormals flushed is {:#010x}, where x86-64 processors answer {:#010x}",
			answers[at], expected[at]
		))
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		Err("only x86-64 flushes subnormals as a flushing guest requires".into())
	}
}

/// Whether a CPU whose flushed `min` and `max` answer `answered` may run a flushing guest:
/// [`FlushedMinMax::AsZero`] may; [`FlushedMinMax::AsStored`] only where `accept_as_stored`
/// (the environment's [`ACCEPT_AS_STORED_MIN_MAX`], for runs under an emulator).
pub fn may_run_flushing(answered: Result<FlushedMinMax, String>, accept_as_stored: bool) -> Result<(), String> {
	match answered? {
		FlushedMinMax::AsZero => Ok(()),
		FlushedMinMax::AsStored if accept_as_stored => {
			log::warn!(
				target: crate::LOG_TARGET,
				"this CPU's min and max answer a flushed subnormal as stored (an emulator's answer), accepted by {ACCEPT_AS_STORED_MIN_MAX}: its results of a min or max of subnormal data differ from every x86-64 processor's"
			);
			Ok(())
		},
		FlushedMinMax::AsStored => Err(format!(
			"this CPU's min and max answer a flushed subnormal as stored (qemu's emulation does), where x86-64 processors answer it as zero: a guest's min or max of subnormal data would give other bits than every other node's ({ACCEPT_AS_STORED_MIN_MAX}=1 accepts it, for tests under an emulator only)"
		)),
	}
}

/// [`may_run_flushing`] for this CPU, measured once a process.
pub fn check_flushed_min_max() -> Result<(), String> {
	static ANSWERED: std::sync::OnceLock<Result<FlushedMinMax, String>> = std::sync::OnceLock::new();
	let answered = ANSWERED.get_or_init(flushed_min_max).clone();
	may_run_flushing(answered, std::env::var_os(ACCEPT_AS_STORED_MIN_MAX).is_some_and(|value| value == "1"))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
	use super::*;

	/// One subnormal times one, and the smallest normal halved, computed out of the
	/// optimiser's sight.
	fn probe() -> (u32, u32) {
		let one = std::hint::black_box(1.0f32);
		let subnormal = std::hint::black_box(f32::from_bits(0x0000_1234));
		let half = std::hint::black_box(0.5f32);
		((subnormal * one).to_bits(), (f32::MIN_POSITIVE * half).to_bits())
	}

	/// The models give what was measured with DAZ and FTZ set (docs/engine.md, "Subnormal
	/// numbers flushed"): as zero on an Intel Xeon (family 6 model 167) and an AMD EPYC (Zen 4), as
	/// stored under `qemu-x86_64 -cpu Nehalem`, `Skylake-Server` and `max`; the same for
	/// `minps`, `minss` and `vminps` (`maxps`, `maxss`, `vmaxps`).
	#[test]
	fn the_flushed_min_max_models_give_the_answers_measured() {
		// (a, b, min and max as zero, min and max as stored)
		let measured: [(u32, u32, [u32; 2], [u32; 2]); 8] = [
			(0x0000_1234, 0x0000_5678, [0, 0], [0x0000_5678, 0x0000_5678]),
			(0x0000_5678, 0x0000_1234, [0, 0], [0x0000_1234, 0x0000_1234]),
			(0x8000_1234, 0x0000_5678, [0, 0], [0x0000_5678, 0x0000_5678]),
			(0x0000_1234, 0x8000_5678, [0x8000_0000, 0x8000_0000], [0x8000_5678, 0x8000_5678]),
			(0x8000_0000, 0x0000_1234, [0, 0], [0x0000_1234, 0x0000_1234]),
			(0x0000_1234, 0x0080_0000, [0, 0x0080_0000], [0x0000_1234, 0x0080_0000]),
			(0x8000_1234, 0x8080_0000, [0x8080_0000, 0x8000_0000], [0x8080_0000, 0x8000_1234]),
			(0x807f_ffff, 0x8000_1234, [0x8000_0000, 0x8000_0000], [0x8000_1234, 0x8000_1234]),
		];
		for (a, b, as_zero, as_stored) in measured {
			for (answered, [min, max]) in [(FlushedMinMax::AsZero, as_zero), (FlushedMinMax::AsStored, as_stored)] {
				assert_eq!(flushed_min_max_model(answered, false, a, b), min, "min {a:#x} {b:#x} {answered:?}");
				assert_eq!(flushed_min_max_model(answered, true, a, b), max, "max {a:#x} {b:#x} {answered:?}");
			}
		}
	}

	/// The CPU the tests run on is a processor, whose answers a flushing guest relies on; under
	/// qemu this test fails, as the engine refuses to start there (`scripts/determinism.sh`).
	#[test]
	fn this_processor_answers_a_flushed_min_or_max_as_zero_and_may_run_a_flushing_guest() {
		assert_eq!(flushed_min_max(), Ok(FlushedMinMax::AsZero));
		assert_eq!(check_flushed_min_max(), Ok(()));
		// The probe leaves the thread's mode as it found it.
		assert!(!Mode::current().flushes());
	}

	#[test]
	fn a_cpu_answering_a_flushed_min_or_max_as_stored_is_refused_unless_accepted_for_an_emulator() {
		assert_eq!(may_run_flushing(Ok(FlushedMinMax::AsZero), false), Ok(()));
		let refused = may_run_flushing(Ok(FlushedMinMax::AsStored), false).unwrap_err();
		assert!(refused.contains("answer a flushed subnormal as stored") && refused.contains(ACCEPT_AS_STORED_MIN_MAX));
		assert_eq!(may_run_flushing(Ok(FlushedMinMax::AsStored), true), Ok(()));
		// Answers that are neither way are refused whatever the environment says.
		let other = "this CPU's minps of 0x00001234 and 0x00005678 …".to_string();
		assert_eq!(may_run_flushing(Err(other.clone()), true), Err(other));
	}

	#[test]
	fn flushing_reads_and_writes_subnormals_as_zero_and_restores_ieee() {
		let ieee = Mode::current();
		assert!(!ieee.flushes(), "threads start with IEEE subnormals");
		assert_eq!(probe(), (0x0000_1234, 0x0040_0000));
		{
			let _flushing = Flushing::set(true);
			assert!(Mode::current().flushes());
			assert_eq!(probe(), (0, 0));
			// A pool thread adopts the caller's mode, and is restored after. (A thread starts in
			// the mode of the thread that spawned it: this one computes IEEE subnormals first, as
			// a pool built outside any run does.)
			let mode = Mode::current();
			std::thread::spawn(move || {
				let _pool_thread = Flushing::set(false);
				assert_eq!(probe(), (0x0000_1234, 0x0040_0000));
				{
					let _adopted = mode.adopt();
					assert_eq!(probe(), (0, 0));
				}
				assert_eq!(probe(), (0x0000_1234, 0x0040_0000));
			})
			.join()
			.unwrap();
			// Something that resets MXCSR (a trap's signal handler) is undone by `reassert`.
			write(read() & !(DAZ | FTZ));
			assert_eq!(probe(), (0x0000_1234, 0x0040_0000));
			reassert();
			assert_eq!(probe(), (0, 0));
			// Nested IEEE work inside a flushing call, then back.
			{
				let _ieee = Flushing::set(false);
				assert_eq!(probe(), (0x0000_1234, 0x0040_0000));
			}
			assert_eq!(probe(), (0, 0));
		}
		assert_eq!(Mode::current(), ieee);
		assert_eq!(probe(), (0x0000_1234, 0x0040_0000));
		// No guard alive: nothing to reassert.
		reassert();
		assert_eq!(probe(), (0x0000_1234, 0x0040_0000));
	}
}
