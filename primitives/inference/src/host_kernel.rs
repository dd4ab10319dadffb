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

/// The wasm import through which the guest hands a whole matrix product to the host:
/// `run_mat_mul(call: u32)`, the address of a [`MatMulCall`].
pub const MAT_MUL_IMPORT: &str = "run_mat_mul";

/// A whole `m × n` matrix product: the program of its tile `(0, 0)`, which the host runs on
/// every tile `(d, r)` of the product (`d` in `0..⌈m/8⌉` down, `r` in `0..⌈n/8⌉` right) with
/// its operands moved to that tile, as tract's driver moves them:
///
/// | op | operand for tile `(d, r)` |
/// |---|---|
/// | `PER_ROW_*(p)`, rows of `ADD_ROW_COL_PRODUCTS` | `p + 32·d` |
/// | `PER_COL_*(p)`, columns of `ADD_ROW_COL_PRODUCTS` | `p + 32·r` |
/// | `ADD_UNICAST(p, rs, cs)`, `STORE(p, rs, cs)` | `p + 8·d·rs + 8·r·cs` |
/// | `ADD_MAT_MUL(k, a, b)` | `a + d·a_panel_stride`, `b + r·b_panel_stride` |
///
/// Scalars and `CLEAR` stay as they are; `LOAD_TILE` has no place in a whole product. A tile
/// at the product's border (`8d + i ≥ m` or `8r + j ≥ n`) reads and writes only its elements
/// inside the product: per-row, per-column and unicast operands are read at those elements
/// only, stores write those only; a product's panels are read whole (tract pads them to 8).
/// Every element of the product gets the sequence of operations it gets in its tile program,
/// so the bits are the tile kernel's. The guest hands over only products whose stores touch
/// nothing else the product reads or writes ([`MatMulCall::stores_apart`]): the order of the
/// tiles then changes no bit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MatMulCall {
	/// Address of tile `(0, 0)`'s program of [`HostOp`]s, [`OP_DONE`] last.
	pub ops: u32,
	/// Operations of the program, `DONE` included: 1 to [`MAX_PROGRAM_OPS`].
	pub len: u32,
	/// Rows and columns of the product.
	pub m: u32,
	pub n: u32,
	/// Bytes from one packed panel of the left operand (8 rows) to the next, and of the right
	/// operand (8 columns).
	pub a_panel_stride: u32,
	pub b_panel_stride: u32,
}

/// Bytes of a [`MatMulCall`] in guest memory.
pub const MAT_MUL_CALL_BYTES: usize = 24;

/// Why the guest memory a whole product names cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
	/// An operation a whole product does not hold.
	Malformed,
	/// An operand that reaches below address 0 or past any 64-bit address.
	OutOfBounds,
}

/// The guest memory one operation of a whole product touches over all its tiles: byte ranges
/// `[start, end)`, read or written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
	pub read: [Option<core::ops::Range<u64>>; 2],
	pub written: Option<core::ops::Range<u64>>,
}

impl MatMulCall {
	/// The call's six words, in memory order.
	pub fn to_words(&self) -> [u32; 6] {
		[self.ops, self.len, self.m, self.n, self.a_panel_stride, self.b_panel_stride]
	}

	/// The call read from its six words.
	pub fn from_words(w: [u32; 6]) -> Self {
		Self { ops: w[0], len: w[1], m: w[2], n: w[3], a_panel_stride: w[4], b_panel_stride: w[5] }
	}

	/// Tiles down and right: `⌈m/8⌉` and `⌈n/8⌉`.
	pub fn tiles(&self) -> (u64, u64) {
		(u64::from(self.m).div_ceil(TILE_ROWS as u64), u64::from(self.n).div_ceil(TILE_COLS as u64))
	}

	/// `op` of tile `(0, 0)`'s program moved to tile `(down, right)` (the table above), in
	/// wrapping 32-bit arithmetic: for an operation whose [`Self::touched`] memory lies inside
	/// the guest's, and a tile of the product, nothing wraps.
	pub fn moved(&self, op: &HostOp, down: u32, right: u32) -> HostOp {
		let (rows, cols) = (32u32.wrapping_mul(down), 32u32.wrapping_mul(right));
		let strided = |stride: u32, tiles: u32| stride.wrapping_mul(8).wrapping_mul(tiles);
		let x = match op.code {
			OP_PER_ROW_MIN..=OP_PER_ROW_SUB_F | OP_ADD_ROW_COL_PRODUCTS => op.x.wrapping_add(rows),
			OP_PER_COL_MIN..=OP_PER_COL_SUB_F => op.x.wrapping_add(cols),
			OP_ADD_UNICAST | OP_STORE => op.x.wrapping_add(strided(op.y, down)).wrapping_add(strided(op.z, right)),
			_ => op.x,
		};
		let (y, z) = match op.code {
			OP_ADD_ROW_COL_PRODUCTS => (op.y.wrapping_add(cols), op.z),
			OP_ADD_MAT_MUL => (
				op.y.wrapping_add(self.a_panel_stride.wrapping_mul(down)),
				op.z.wrapping_add(self.b_panel_stride.wrapping_mul(right)),
			),
			_ => (op.y, op.z),
		};
		HostOp { code: op.code, x, y, z }
	}

	/// What `op` of the product's program touches over all its tiles (nothing if the product is
	/// empty).
	pub fn touched(&self, op: &HostOp) -> Result<Touched, Refused> {
		let (m, n) = (u64::from(self.m), u64::from(self.n));
		let mut touched = Touched::default();
		if op.code == OP_LOAD_TILE || !(OP_CLEAR..=OP_ADD_MAT_MUL).contains(&op.code) {
			return Err(Refused::Malformed);
		}
		if m == 0 || n == 0 {
			return Ok(touched);
		}
		let vector = |at: u32, len: u64| Some(u64::from(at)..u64::from(at) + 4 * len);
		// Every `at + i·rows + j·cols` for `i < m`, `j < n`, with byte strides read as `i32`.
		let strided = |at: u32, rows: u32, cols: u32| -> Result<core::ops::Range<u64>, Refused> {
			let (rows, cols) = (i128::from(rows as i32), i128::from(cols as i32));
			let (last_row, last_col) = (i128::from(self.m) - 1, i128::from(self.n) - 1);
			let low = i128::from(at) + (last_row * rows).min(0) + (last_col * cols).min(0);
			let high = i128::from(at) + (last_row * rows).max(0) + (last_col * cols).max(0) + 4;
			Ok(u64::try_from(low).map_err(|_| Refused::OutOfBounds)?
				..u64::try_from(high).map_err(|_| Refused::OutOfBounds)?)
		};
		// Panels `at + t·stride` for `t < tiles`, `k` steps of 8 f32 each.
		let panels = |at: u32, stride: u32, tiles: u64, k: u32| {
			(k > 0).then(|| {
				let start = u64::from(at);
				start..start + (tiles - 1) * u64::from(stride) + u64::from(k) * STEP_BYTES
			})
		};
		let (down, right) = self.tiles();
		match op.code {
			OP_CLEAR | OP_SCALAR_MIN..=OP_LEAKY_RELU => {},
			OP_PER_ROW_MIN..=OP_PER_ROW_SUB_F => touched.read[0] = vector(op.x, m),
			OP_PER_COL_MIN..=OP_PER_COL_SUB_F => touched.read[0] = vector(op.x, n),
			OP_ADD_ROW_COL_PRODUCTS => touched.read = [vector(op.x, m), vector(op.y, n)],
			OP_ADD_UNICAST => touched.read[0] = Some(strided(op.x, op.y, op.z)?),
			OP_STORE => touched.written = Some(strided(op.x, op.y, op.z)?),
			OP_ADD_MAT_MUL => {
				touched.read =
					[panels(op.y, self.a_panel_stride, down, op.x), panels(op.z, self.b_panel_stride, right, op.x)]
			},
			_ => unreachable!("every other code was refused above"),
		}
		Ok(touched)
	}

	/// Whether every store of `program` (the call's program, read, without its `DONE`) writes
	/// each element of the product at an address of its own (rows or columns laid end to end,
	/// apart), and touches no byte that another of its operations reads or writes, nor the
	/// call's own words at `call` or its program at `self.ops`: the condition under which the
	/// order of the tiles changes no bit.
	pub fn stores_apart(&self, program: &[HostOp], call: u32) -> bool {
		if program.len() > MAX_PROGRAM_OPS {
			return false;
		}
		let mut touched: [Touched; MAX_PROGRAM_OPS] = Default::default();
		for (op, touched) in program.iter().zip(&mut touched) {
			match self.touched(op) {
				Ok(t) => *touched = t,
				Err(_) => return false,
			}
		}
		let touched = &touched[..program.len()];
		let call = u64::from(call)..u64::from(call) + MAT_MUL_CALL_BYTES as u64;
		let ops = u64::from(self.ops)..u64::from(self.ops) + u64::from(self.len) * HOST_OP_BYTES as u64;
		let apart = |a: &core::ops::Range<u64>, b: &core::ops::Range<u64>| a.end <= b.start || b.end <= a.start;
		// Elements `4` bytes wide, `n` of them `cols` apart in each row and rows `rows` apart,
		// or the other way round: no two share a byte.
		let elements_apart = |op: &HostOp| {
			let (rows, cols) = (i64::from(op.y as i32).unsigned_abs(), i64::from(op.z as i32).unsigned_abs());
			let (m, n) = (u64::from(self.m), u64::from(self.n));
			let row_major = (n <= 1 || cols >= 4) && (m <= 1 || rows >= n * cols.max(4));
			let column_major = (m <= 1 || rows >= 4) && (n <= 1 || cols >= m * rows.max(4));
			row_major || column_major
		};
		if program.iter().any(|op| op.code == OP_STORE && !elements_apart(op)) {
			return false;
		}
		touched.iter().enumerate().all(|(i, store)| {
			let Some(written) = &store.written else { return true };
			apart(written, &call)
				&& apart(written, &ops)
				&& touched.iter().enumerate().all(|(j, other)| {
					other.read.iter().flatten().all(|read| apart(written, read))
						&& (i == j || other.written.as_ref().is_none_or(|w| apart(written, w)))
				})
		})
	}
}

/// Bytes of one step of a packed panel: 8 f32.
const STEP_BYTES: u64 = 32;

#[cfg(test)]
mod tests {
	use super::*;

	fn op(code: u32, x: u32, y: u32, z: u32) -> HostOp {
		HostOp { code, x, y, z }
	}

	#[test]
	fn a_whole_products_operands_move_as_tracts_driver_moves_them() {
		let call = MatMulCall { m: 20, n: 30, a_panel_stride: 96, b_panel_stride: 160, ..Default::default() };
		assert_eq!(call.tiles(), (3, 4));
		assert_eq!(call.moved(&op(OP_PER_ROW_ADD, 1000, 0, 0), 2, 3), op(OP_PER_ROW_ADD, 1064, 0, 0));
		assert_eq!(call.moved(&op(OP_PER_COL_MAX, 1000, 0, 0), 2, 3), op(OP_PER_COL_MAX, 1096, 0, 0));
		assert_eq!(
			call.moved(&op(OP_ADD_ROW_COL_PRODUCTS, 1000, 2000, 0), 2, 3),
			op(OP_ADD_ROW_COL_PRODUCTS, 1064, 2096, 0)
		);
		// A transposed store: rows 4 bytes apart, columns 80.
		assert_eq!(call.moved(&op(OP_STORE, 1000, 4, 80), 2, 3), op(OP_STORE, 1000 + 64 + 1920, 4, 80));
		assert_eq!(call.moved(&op(OP_ADD_MAT_MUL, 3, 1000, 2000), 2, 3), op(OP_ADD_MAT_MUL, 3, 1192, 2480));
		assert_eq!(call.moved(&op(OP_SCALAR_ADD, 7, 0, 0), 2, 3), op(OP_SCALAR_ADD, 7, 0, 0));
	}

	#[test]
	fn only_stores_apart_from_everything_else_go_whole() {
		let call = MatMulCall { ops: 9000, len: 4, m: 16, n: 8, a_panel_stride: 96, b_panel_stride: 96 };
		// C at 0..512 (16 × 8 row-major), panels of 3 steps at 1000.. and 2000...
		let program =
			|store: u32| [op(OP_CLEAR, 0, 0, 0), op(OP_ADD_MAT_MUL, 3, 1000, 2000), op(OP_STORE, store, 32, 4)];
		assert_eq!(call.touched(&program(0)[2]).unwrap().written, Some(0..512));
		assert_eq!(call.touched(&program(0)[1]).unwrap().read, [Some(1000..1192), Some(2000..2096)]);
		assert!(call.stores_apart(&program(0), 8000));
		// Over the left panels, over the call's words, over its program: refused.
		assert!(!call.stores_apart(&program(1000 - 508), 8000));
		assert!(!call.stores_apart(&program(0), 500));
		assert!(!call.stores_apart(&program(8700), 8000));
		// Two stores into one tensor, or a store over a unicast operand it reads.
		let twice = [op(OP_STORE, 0, 32, 4), op(OP_STORE, 256, 32, 4)];
		assert!(!call.stores_apart(&twice, 8000));
		let over_unicast = [op(OP_ADD_UNICAST, 0, 32, 4), op(OP_STORE, 0, 32, 4)];
		assert!(!call.stores_apart(&over_unicast, 8000));
		// A store reaching below address 0, or an operation a whole product does not hold.
		assert_eq!(call.touched(&op(OP_STORE, 4, (-4i32) as u32, 4)), Err(Refused::OutOfBounds));
		assert_eq!(call.touched(&op(OP_LOAD_TILE, 0, 0, 0)), Err(Refused::Malformed));
		assert!(!call.stores_apart(&[op(OP_LOAD_TILE, 0, 0, 0)], 8000));
		// A store whose elements share addresses: rows 4 bytes apart like its columns, rows
		// closer than a row's length, or every element at one address.
		assert!(!call.stores_apart(&[op(OP_STORE, 0, 4, 4)], 8000));
		assert!(!call.stores_apart(&[op(OP_STORE, 0, 28, 4)], 8000));
		assert!(!call.stores_apart(&[op(OP_STORE, 0, 0, 0)], 8000));
		// Column-major, and rows wider apart than their length, are fine.
		assert!(call.stores_apart(&[op(OP_STORE, 0, 4, 64)], 8000));
		assert!(call.stores_apart(&[op(OP_STORE, 0, 64, 4)], 8000));
		// One row or one column needs no distance between rows or columns.
		let row = MatMulCall { m: 1, ..call };
		assert!(row.stores_apart(&[op(OP_STORE, 0, 0, 4)], 8000));
		let column = MatMulCall { n: 1, ..call };
		assert!(column.stores_apart(&[op(OP_STORE, 0, 4, 0)], 8000));
	}
}
