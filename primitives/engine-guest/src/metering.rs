//! The guest's stand-ins for `memory.copy`, `memory.fill` and `memory.grow`, and the memory's
//! size as the guest's code sees it.
//!
//! The engine's build rewrites every other function's bulk memory instruction into a call of
//! one of these exports (see `veriml_inference_primitives::metering`): each reports the bytes
//! it is about to move, or has grown, to the host, which charges fuel for them, but for copies
//! and fills of [`INLINE_BYTES`] or fewer, which it makes with its own loads and stores, paid as
//! every other instruction is. Reported bytes are summed here and reported once
//! [`REPORT_EVERY_BYTES`] have accumulated; [`flush`] reports the rest before an export returns
//! to the host. All of it is the guest's own deterministic
//! state, so the fuel charged is the same on every node.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use veriml_inference_primitives::metering::REPORT_EVERY_BYTES;

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Charges the fuel for `bytes` copied or filled; traps when the fuel runs out.
	fn meter_moved(bytes: u64);
	/// Charges the fuel for `pages` of memory growth; traps when the fuel runs out.
	fn meter_grown(pages: u32);
}

/// Bytes moved and not yet reported. The guest is single-threaded: relaxed atomics compile to
/// plain loads and stores.
static UNREPORTED: AtomicU64 = AtomicU64::new(0);

fn meter(bytes: u64) {
	let total = UNREPORTED.load(Ordering::Relaxed).saturating_add(bytes);
	if total >= REPORT_EVERY_BYTES {
		UNREPORTED.store(0, Ordering::Relaxed);
		unsafe { meter_moved(total) }
	} else {
		UNREPORTED.store(total, Ordering::Relaxed);
	}
}

/// Reports the bytes not reported yet. Every export that runs the guest's code calls it last.
pub fn flush() {
	let total = UNREPORTED.swap(0, Ordering::Relaxed);
	if total > 0 {
		unsafe { meter_moved(total) }
	}
}

/// `memory.copy`, metered: a copy of [`INLINE_BYTES`] or fewer is made by the guest's own loads
/// and stores ([`inline::copy`]), which the engine's fuel counts as it counts every instruction;
/// a longer one is `memory.copy`, charged by its bytes before they move.
///
/// # Safety
/// What `memory.copy` requires; out-of-bounds ranges trap as the instruction would (a short copy
/// may have stored some of its bytes when its last store traps: a trap ends the run, whose
/// instance is never used again).
#[no_mangle]
pub unsafe extern "C" fn veriml_memory_copy(dst: *mut u8, src: *const u8, len: usize) {
	if len <= INLINE_BYTES {
		return unsafe { inline::copy(dst, src, len) };
	}
	meter(len as u64);
	unsafe { core::ptr::copy(src, dst, len) }
}

/// `memory.fill`, metered as [`veriml_memory_copy`] is: a fill of [`INLINE_BYTES`] or fewer by
/// the guest's own stores ([`inline::fill`]), a longer one by `memory.fill`, charged by its bytes
/// before they are written.
///
/// # Safety
/// What `memory.fill` requires; out-of-bounds ranges trap as the instruction would (as for a
/// copy, a short fill may have stored some bytes when its last store traps).
#[no_mangle]
pub unsafe extern "C" fn veriml_memory_fill(dst: *mut u8, value: u32, len: usize) {
	if len <= INLINE_BYTES {
		return unsafe { inline::fill(dst, value as u8, len) };
	}
	meter(len as u64);
	unsafe { core::ptr::write_bytes(dst, value as u8, len) }
}

/// The longest copy or fill the guest makes with its own loads and stores. wasmtime runs
/// `memory.copy` and `memory.fill` as calls out of the compiled code into its runtime (a
/// libcall, with its trap handling and bounds checks), which cost 20–40 ns whatever the length:
/// more than the copy itself for the short moves of values that compiled Rust makes everywhere
/// (tract's im2col copies each row of a small image so; they were 18 % of `pytorch_Conv2d`'s
/// run under `perf`, 2026-12-06). Up to 128 bytes, eight 16-byte loads then eight stores cover
/// any length.
pub const INLINE_BYTES: usize = 128;

/// Short copies and fills with plain loads and stores, no loop (a loop of loads and stores is
/// what the compiler turns back into `memory.copy`). A copy loads every byte it copies before
/// it stores any, so it is `memory.copy`'s (`memmove`'s) whatever the overlap: a length in
/// `[w, 2w]` is two `w`-byte words, one at the start and one ending at the end (they overlap
/// where the length is under `2w`), and so on up to eight 16-byte words.
mod inline {
	use core::arch::wasm32::{u8x16_splat, v128, v128_load, v128_store};

	/// `memmove(dst, src, len)` for `len` ≤ [`super::INLINE_BYTES`].
	///
	/// # Safety
	/// `src` readable and `dst` writable for `len` bytes (else an access out of bounds traps,
	/// maybe after some of the stores: see [`super::veriml_memory_copy`]).
	#[inline(always)]
	pub(super) unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) {
		unsafe {
			match len {
				0 => {},
				1 => dst.write(src.read()),
				2..=3 => two::<u16>(dst, src, len),
				4..=7 => two::<u32>(dst, src, len),
				8..=15 => two::<u64>(dst, src, len),
				16..=32 => {
					let (a, b) = (load(src, 0), load(src, len - 16));
					store(dst, 0, a);
					store(dst, len - 16, b);
				},
				33..=64 => {
					let [a, b] = [load(src, 0), load(src, 16)];
					let [c, d] = [load(src, len - 32), load(src, len - 16)];
					for (at, v) in [(0, a), (16, b), (len - 32, c), (len - 16, d)] {
						store(dst, at, v);
					}
				},
				_ => {
					let head: [v128; 4] = core::array::from_fn(|i| load(src, 16 * i));
					let tail: [v128; 4] = core::array::from_fn(|i| load(src, len - 64 + 16 * i));
					for (i, (h, t)) in head.into_iter().zip(tail).enumerate() {
						store(dst, 16 * i, h);
						store(dst, len - 64 + 16 * i, t);
					}
				},
			}
		}
	}

	/// `memset(dst, value, len)` for `len` ≤ [`super::INLINE_BYTES`].
	///
	/// # Safety
	/// `dst` writable for `len` bytes (else a store out of bounds traps, maybe after others).
	#[inline(always)]
	pub(super) unsafe fn fill(dst: *mut u8, value: u8, len: usize) {
		let word = u64::from_ne_bytes([value; 8]);
		unsafe {
			match len {
				0 => {},
				1 => dst.write(value),
				2..=3 => ends(dst, len, word as u16),
				4..=7 => ends(dst, len, word as u32),
				8..=15 => ends(dst, len, word),
				16..=32 => ends(dst, len, u8x16_splat(value)),
				33..=64 => {
					let v = u8x16_splat(value);
					for at in [0, 16, len - 32, len - 16] {
						store(dst, at, v);
					}
				},
				_ => {
					let v = u8x16_splat(value);
					for at in [0, 16, 32, 48, len - 64, len - 48, len - 32, len - 16] {
						store(dst, at, v);
					}
				},
			}
		}
	}

	/// Copies `len` bytes (`size_of::<T>()` ≤ `len` ≤ twice that) as two words of `T`, both
	/// loaded before either is stored.
	#[inline(always)]
	unsafe fn two<T: Copy>(dst: *mut u8, src: *const u8, len: usize) {
		let last = len - size_of::<T>();
		unsafe {
			let (a, b) = (src.cast::<T>().read_unaligned(), src.add(last).cast::<T>().read_unaligned());
			dst.cast::<T>().write_unaligned(a);
			dst.add(last).cast::<T>().write_unaligned(b);
		}
	}

	/// Fills `len` bytes (`size_of::<T>()` ≤ `len` ≤ twice that) with two words `word`.
	#[inline(always)]
	unsafe fn ends<T: Copy>(dst: *mut u8, len: usize, word: T) {
		unsafe {
			dst.cast::<T>().write_unaligned(word);
			dst.add(len - size_of::<T>()).cast::<T>().write_unaligned(word);
		}
	}

	#[inline(always)]
	unsafe fn load(src: *const u8, at: usize) -> v128 {
		unsafe { v128_load(src.add(at).cast()) }
	}

	#[inline(always)]
	unsafe fn store(dst: *mut u8, at: usize, v: v128) {
		unsafe { v128_store(dst.add(at).cast(), v) }
	}
}

/// The memory's size in pages as the guest's code sees it: what it has asked for. The memory
/// itself may be larger: a node may restore a model's snapshot into a memory with room beyond
/// it (where an earlier run of the model grew it: see the host's `Prepared`), and a run takes
/// that room, still zero, as its code asks for memory, without growing the memory. 0 until
/// [`start`].
static PAGES: AtomicUsize = AtomicUsize::new(0);

/// Takes the memory's size as the guest's. The host calls it first thing on a fresh instance
/// (`_initialize`); a snapshot holds the value since.
pub fn start() {
	PAGES.store(core::arch::wasm32::memory_size::<0>(), Ordering::Relaxed);
}

/// `memory.grow`, metered: `pages` more for the guest's code, every page charged, taken from the
/// room beyond its size first and the rest grown. The same instructions run whether the room
/// covers the request or not (`memory.grow` of the pages the room lacks, none at all where it
/// covers them), so a run's fuel does not depend on the room a node gives it: the room only
/// saves the node time. Answers the size before, as `memory.grow` does, or `usize::MAX` where
/// the memory cannot grow.
#[no_mangle]
pub extern "C" fn veriml_memory_grow(pages: usize) -> usize {
	let previous = PAGES.load(Ordering::Relaxed);
	let wanted = previous.saturating_add(pages);
	let lacking = wanted.saturating_sub(core::arch::wasm32::memory_size::<0>());
	if core::arch::wasm32::memory_grow::<0>(lacking) == usize::MAX || wanted == usize::MAX {
		return usize::MAX;
	}
	if pages > 0 {
		unsafe { meter_grown(pages as u32) }
	}
	PAGES.store(wanted, Ordering::Relaxed);
	previous
}
