//! The program the engine's wasm guest hands the node for one 8×8 f32 tile of a matrix
//! product: tract's fused kernel operations, in a fixed layout both sides read.
//!
//! A program is a sequence of [`HostOp`]s in guest memory, ending with [`OP_DONE`]. The host
//! runs it on an 8×8 accumulator tile that starts at zero. Each operation has exactly the
//! semantics of tract's `wasm_f32_8x8` kernel under wasm's deterministic float rules, written
//! per element `t[i][j]` (`i` the row, `j` the column), with `s` the operand:
//!
//! | op | effect |
//! |---|---|
//! | `CLEAR` | `t = 0` |
//! | `LOAD_TILE(p)` | `t[i][j] = p[8i + j]` |
//! | `SCALAR_*(s)` | `t = op(s, t)`; `SCALAR_SUB_F`: `t = t - s` |
//! | `LEAKY_RELU(a)` | `t = t > 0 ? t : a * t` |
//! | `PER_ROW_*(p)` | `t[i][j] = op(p[i], t[i][j])`; `..._SUB_F`: `t[i][j] - p[i]` |
//! | `PER_COL_*(p)` | `t[i][j] = op(p[j], t[i][j])`; `..._SUB_F`: `t[i][j] - p[j]` |
//! | `ADD_UNICAST(p, rs, cs)` | `t[i][j] = t[i][j] + *(p + i·rs + j·cs)` |
//! | `ADD_ROW_COL_PRODUCTS(r, c)` | `t[i][j] = t[i][j] + r[i] · c[j]` |
//! | `STORE(p, rs, cs)` | `*(p + i·rs + j·cs) = t[i][j]` |
//! | `ADD_MAT_MUL(k, a, b)` | for `s` in `0..k`: `t[i][j] = t[i][j] + a[8s + i] · b[8s + j]` |
//!
//! Operands are f32 bits or guest addresses (`u32`), strides are byte strides (`i32`). Every
//! multiply and add rounds once (never fused); `min`/`max` are wasm's (NaN if either operand
//! is, `-0 < +0`); every arithmetic NaN is written as the canonical NaN `0x7fc0_0000`, as
//! wasm's NaN canonicalisation does. The result is then the same bits on every CPU.

/// Rows of the tile (the left operand's values per step) and columns (the right operand's).
pub const TILE_ROWS: usize = 8;
pub const TILE_COLS: usize = 8;

/// wasm's canonical f32 NaN, which NaN canonicalisation writes for every arithmetic NaN.
pub const CANONICAL_NAN: u32 = 0x7fc0_0000;

/// One operation: its code and up to three operands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct HostOp {
	pub code: u32,
	pub x: u32,
	pub y: u32,
	pub z: u32,
}

/// Bytes of one [`HostOp`] in guest memory (four little-endian `u32`).
pub const HOST_OP_BYTES: usize = 16;

/// The wasm import's module (shared with the guest's other imports) and name.
pub use crate::metering::IMPORT_MODULE;
pub const IMPORT_NAME: &str = "run_tile_program";

/// Longest program the host runs, [`OP_DONE`] included.
pub const MAX_PROGRAM_OPS: usize = 32;

pub const OP_DONE: u32 = 0;
pub const OP_CLEAR: u32 = 1;
pub const OP_LOAD_TILE: u32 = 2;
pub const OP_SCALAR_MIN: u32 = 3;
pub const OP_SCALAR_MAX: u32 = 4;
pub const OP_SCALAR_ADD: u32 = 5;
pub const OP_SCALAR_MUL: u32 = 6;
pub const OP_SCALAR_SUB: u32 = 7;
pub const OP_SCALAR_SUB_F: u32 = 8;
pub const OP_LEAKY_RELU: u32 = 9;
pub const OP_PER_ROW_MIN: u32 = 10;
pub const OP_PER_ROW_MAX: u32 = 11;
pub const OP_PER_ROW_ADD: u32 = 12;
pub const OP_PER_ROW_MUL: u32 = 13;
pub const OP_PER_ROW_SUB: u32 = 14;
pub const OP_PER_ROW_SUB_F: u32 = 15;
pub const OP_PER_COL_MIN: u32 = 16;
pub const OP_PER_COL_MAX: u32 = 17;
pub const OP_PER_COL_ADD: u32 = 18;
pub const OP_PER_COL_MUL: u32 = 19;
pub const OP_PER_COL_SUB: u32 = 20;
pub const OP_PER_COL_SUB_F: u32 = 21;
pub const OP_ADD_UNICAST: u32 = 22;
pub const OP_ADD_ROW_COL_PRODUCTS: u32 = 23;
pub const OP_STORE: u32 = 24;
pub const OP_ADD_MAT_MUL: u32 = 25;

/// `value`, or the canonical NaN if it is a NaN: what wasm's NaN canonicalisation writes for an
/// arithmetic result, for the host's kernels to write the guest's bits.
pub fn canonical(value: f32) -> f32 {
	if value.is_nan() {
		f32::from_bits(CANONICAL_NAN)
	} else {
		value
	}
}
