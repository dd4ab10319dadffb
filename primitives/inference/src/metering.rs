//! Fuel for the guest's work whose cost grows with its operands.
//!
//! wasmtime charges one unit of fuel per instruction, but `memory.copy`, `memory.fill` and
//! `memory.grow` do work in proportion to their operands (and growth is paid again when the
//! pages are first touched and when the instance's memory is reset). The engine's build
//! therefore rewrites every one of those instructions in the guest into a call of a guest
//! helper ([`COPY_HELPER`], [`FILL_HELPER`], [`GROW_HELPER`]) that reports the work to the
//! host through the imports [`METER_MOVED_IMPORT`] and [`METER_GROWN_IMPORT`]; the host
//! charges [`fuel_for_memory`] and traps with `FuelExhausted` when the fuel runs out. The
//! engine refuses to load a guest in which any such instruction remains outside the helpers.
//!
//! The host charges the same rate for what it does per run outside the guest: growing a fresh
//! instance's memory to the prepared model's size and writing the model's snapshot into it.
//!
//! This file has no dependencies: the engine's build script includes it as it is.

/// The import module of every host function the guest calls.
pub const IMPORT_MODULE: &str = "veriml";

/// The host function `meter_moved(bytes: u64)`: charges the fuel for `bytes` of memory copied
/// or filled (before the helper moves them).
pub const METER_MOVED_IMPORT: &str = "meter_moved";

/// The host function `meter_grown(pages: u32)`: charges the fuel for `pages` wasm pages the
/// memory grew by.
pub const METER_GROWN_IMPORT: &str = "meter_grown";

/// Bytes of a wasm page.
pub const WASM_PAGE_BYTES: u64 = 64 * 1024;

/// The guest's export `(dst: i32, src: i32, len: i32)` that stands in for `memory.copy`.
pub const COPY_HELPER: &str = "veriml_memory_copy";

/// The guest's export `(dst: i32, value: i32, len: i32)` that stands in for `memory.fill`.
pub const FILL_HELPER: &str = "veriml_memory_fill";

/// The guest's export `(pages: i32) -> i32` that stands in for `memory.grow`.
pub const GROW_HELPER: &str = "veriml_memory_grow";

/// Bytes the guest may move before it reports them: small copies are summed in the guest and
/// reported together, so the host call is paid once per this many bytes, and the rest when a
/// call of the guest returns.
pub const REPORT_EVERY_BYTES: u64 = 64 * 1024;

/// Fuel per byte copied, filled or written from a snapshot: a load and a store, weighed (like
/// all fuel) at the runtime's `EnginePicosecondsPerFuel`.
pub const FUEL_PER_BYTE_MOVED: u64 = 1;

/// Fuel per byte the memory grows by: its page fault and the kernel's zeroing when it is first
/// touched, and the reset of the instance's memory after the run.
pub const FUEL_PER_BYTE_GROWN: u64 = 2;

/// The fuel for `moved` bytes copied, filled or written and `grown` bytes of memory growth.
pub const fn fuel_for_memory(moved: u64, grown: u64) -> u64 {
	moved.saturating_mul(FUEL_PER_BYTE_MOVED).saturating_add(grown.saturating_mul(FUEL_PER_BYTE_GROWN))
}

/// The call stack a run may use, in slots: each call in progress of a function that calls
/// others counts its function's slots ([`FRAME_SLOTS`], its locals and the most values its
/// operand stack holds). Counted in wasm terms by the guest itself, so a model passes the limit
/// at the same call on every node, whatever the CPU; the engine's build adds the counting.
pub const STACK_LIMIT_SLOTS: u32 = 1 << 19;

/// Slots a frame counts besides its locals and operands: its return address, saved registers
/// and the engine's own values.
pub const FRAME_SLOTS: u32 = 8;

/// The most slots one function of the guest may have: the frames not counted (the host's call
/// into the guest, and a leaf, which calls no other function of the guest) are bounded by it.
pub const MAX_FUNCTION_SLOTS: u32 = 1 << 12;
