//! The guest's stand-ins for `memory.copy`, `memory.fill` and `memory.grow`.
//!
//! The engine's build rewrites every other function's bulk memory instruction into a call of
//! one of these exports (see `veriml_inference_primitives::metering`): each reports the bytes
//! it is about to move, or has grown, to the host, which charges fuel for them. Small copies are
//! summed here and reported once [`REPORT_EVERY_BYTES`] have accumulated; [`flush`] reports the
//! rest before an export returns to the host. All of it is the guest's own deterministic
//! state, so the fuel charged is the same on every node.

use core::sync::atomic::{AtomicU64, Ordering};
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

/// `memory.grow`, metered: a growth that succeeds is charged for every page it adds.
#[no_mangle]
pub extern "C" fn veriml_memory_grow(pages: usize) -> usize {
	let previous = core::arch::wasm32::memory_grow::<0>(pages);
	if previous != usize::MAX && pages > 0 {
		unsafe { meter_grown(pages as u32) }
	}
	previous
}
