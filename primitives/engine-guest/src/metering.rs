//! The guest's stand-ins for `memory.copy`, `memory.fill` and `memory.grow`, and the memory's
//! size as the guest's code sees it.
//!
//! The engine's build rewrites every other function's bulk memory instruction into a call of
//! one of these exports (see `veriml_inference_primitives::metering`): each reports the bytes
//! it is about to move, or has grown, to the host, which charges fuel for them. Small copies are
//! summed here and reported once [`REPORT_EVERY_BYTES`] have accumulated; [`flush`] reports the
//! rest before an export returns to the host. All of it is the guest's own deterministic
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

/// `memory.copy`, metered: charged before the bytes move.
///
/// # Safety
/// What `memory.copy` requires; out-of-bounds ranges trap as the instruction would.
#[no_mangle]
pub unsafe extern "C" fn veriml_memory_copy(dst: *mut u8, src: *const u8, len: usize) {
	meter(len as u64);
	unsafe { core::ptr::copy(src, dst, len) }
}

/// `memory.fill`, metered: charged before the bytes are written.
///
/// # Safety
/// What `memory.fill` requires; out-of-bounds ranges trap as the instruction would.
#[no_mangle]
pub unsafe extern "C" fn veriml_memory_fill(dst: *mut u8, value: u32, len: usize) {
	meter(len as u64);
	unsafe { core::ptr::write_bytes(dst, value as u8, len) }
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
