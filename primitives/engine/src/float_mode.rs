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
