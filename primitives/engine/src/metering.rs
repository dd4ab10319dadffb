//! Makes the guest's bulk memory instructions pay fuel in proportion to their operands.
//!
//! wasmtime charges `memory.copy`, `memory.fill` and `memory.grow` one unit of fuel each,
//! whatever they move. [`meter`] rewrites each of them, in every function but the guest's
//! metering helpers, into a call of the helper that stands in for it (the helper reports the
//! bytes to the host, which charges for them: `veriml_inference_primitives::metering`), and
//! refuses a module with other instructions whose work grows with their operands
//! (`memory.init`, the table's bulk instructions) and with those that change its table or
//! segments (`table.set`, `elem.drop`, `data.drop`), which the reset of a kept instance would
//! not undo ([`check_state`]). The engine's build script runs it on the built guest;
//! [`check_metered`] and [`check_state`] are what the engine checks before it loads a guest.
//!
//! This file is also compiled into the build script (`build.rs`), so it depends on nothing but
//! `wasmparser` and the names in `primitives/inference/src/metering.rs`.

use std::ops::Range;
use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef};

/// The bulk instruction a helper stands in for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bulk {
	Copy,
	Fill,
	Grow,
}

/// The function indices of the helpers, from the module's exports.
#[derive(Default)]
struct Helpers {
	copy: Option<u32>,
	fill: Option<u32>,
	grow: Option<u32>,
	/// The guest's start, `_initialize` (no helper: the one other reader of the memory's size).
	initialize: Option<u32>,
}

impl Helpers {
	fn index(&self, bulk: Bulk) -> Result<u32, String> {
		let (index, name) = match bulk {
			Bulk::Copy => (self.copy, super::names::COPY_HELPER),
			Bulk::Fill => (self.fill, super::names::FILL_HELPER),
			Bulk::Grow => (self.grow, super::names::GROW_HELPER),
		};
		index.ok_or_else(|| format!("the guest uses {bulk:?} but does not export `{name}`"))
	}

	fn contains(&self, function: u32) -> bool {
		[self.copy, self.fill, self.grow].contains(&Some(function))
	}
}

/// What one instruction is, for metering: a bulk instruction to replace, one to refuse, or
/// anything else.
fn bulk_of(operator: &Operator) -> Result<Option<Bulk>, String> {
	Ok(match operator {
		Operator::MemoryCopy { dst_mem: 0, src_mem: 0 } => Some(Bulk::Copy),
		Operator::MemoryFill { mem: 0 } => Some(Bulk::Fill),
		Operator::MemoryGrow { mem: 0 } => Some(Bulk::Grow),
		Operator::MemoryCopy { .. }
		| Operator::MemoryFill { .. }
		| Operator::MemoryGrow { .. }
		| Operator::MemoryInit { .. }
		| Operator::TableCopy { .. }
		| Operator::TableFill { .. }
		| Operator::TableGrow { .. }
		| Operator::TableInit { .. } => return Err(format!("the guest uses {operator:?}, which is not metered")),
		_ => {
			keeps_instance_state(operator)?;
			None
		},
	})
}

/// `Err` for an instruction that changes the instance's table or segments: state a normal
/// return would not restore, which a kept instance's reset (memory only) would not either
/// (`check_state`). Refused everywhere, the metering helpers included.
fn keeps_instance_state(operator: &Operator) -> Result<(), String> {
	match operator {
		Operator::TableSet { .. } | Operator::ElemDrop { .. } | Operator::DataDrop { .. } => {
			Err(format!("the guest uses {operator:?}, which changes its table or segments"))
		},
		_ => Ok(()),
	}
}

/// Appends `value` as unsigned LEB128.
pub(crate) fn leb(out: &mut Vec<u8>, mut value: u32) {
	loop {
		let byte = (value & 0x7f) as u8;
		value >>= 7;
		if value == 0 {
			out.push(byte);
			return;
		}
		out.push(byte | 0x80);
	}
}

/// The helpers' function indices, from the module's exports.
fn helpers_of(wasm: &[u8]) -> Result<Helpers, String> {
	let mut helpers = Helpers::default();
	for payload in Parser::new(0).parse_all(wasm) {
		let Payload::ExportSection(exports) = payload.map_err(|e| format!("the guest is not valid wasm: {e}"))? else {
			continue;
		};
		for export in exports {
			let export = export.map_err(|e| e.to_string())?;
			if export.kind != ExternalKind::Func {
				continue;
			}
			match export.name {
				super::names::COPY_HELPER => helpers.copy = Some(export.index),
				super::names::FILL_HELPER => helpers.fill = Some(export.index),
				super::names::GROW_HELPER => helpers.grow = Some(export.index),
				"_initialize" => helpers.initialize = Some(export.index),
				_ => {},
			}
		}
	}
	Ok(helpers)
}

/// A function body's byte range, with the byte ranges of its bulk instructions (none in a
/// helper).
type Body = (Range<usize>, Vec<(Range<usize>, Bulk)>);

/// One section of the module as it is, or the code section as its function bodies.
enum Part {
	Section(u8, Range<usize>),
	Code(Vec<Body>),
}

/// The module's sections in order, with the bulk instructions of every function body found.
fn parts_of(wasm: &[u8], helpers: &Helpers) -> Result<Vec<Part>, String> {
	let mut parts = Vec::new();
	let mut imported_functions = 0u32;
	let mut bodies = Vec::new();
	for payload in Parser::new(0).parse_all(wasm) {
		let payload = payload.map_err(|e| format!("the guest is not valid wasm: {e}"))?;
		match &payload {
			Payload::ImportSection(imports) => {
				for import in imports.clone() {
					let import = import.map_err(|e| e.to_string())?;
					if matches!(import.ty, TypeRef::Func(_)) {
						imported_functions += 1;
					}
				}
			},
			Payload::CodeSectionEntry(body) => {
				// The helpers are where the real instructions stay.
				let is_helper = helpers.contains(imported_functions + bodies.len() as u32);
				let mut found = Vec::new();
				let mut operators = body.get_operators_reader().map_err(|e| e.to_string())?;
				let mut pending: Option<(usize, Bulk)> = None;
				while !operators.eof() {
					let (operator, offset) = operators.read_with_offset().map_err(|e| e.to_string())?;
					if let Some((start, bulk)) = pending.take() {
						found.push((start..offset, bulk));
					}
					if !is_helper {
						pending = bulk_of(&operator)?.map(|bulk| (offset, bulk));
					}
				}
				if pending.is_some() {
					return Err("a function body ends with a bulk instruction".into());
				}
				bodies.push((body.range(), found));
				continue;
			},
			_ => {},
		}
		match payload.as_section() {
			Some((CODE_SECTION, _)) => parts.push(Part::Code(Vec::new())),
			Some((id, range)) => parts.push(Part::Section(id, range)),
			None => {},
		}
	}
	for part in &mut parts {
		if let Part::Code(code) = part {
			*code = core::mem::take(&mut bodies);
		}
	}
	Ok(parts)
}

const CODE_SECTION: u8 = 10;

/// The guest metered: every bulk memory instruction outside its helpers replaced by a call of
/// the helper (an error if it uses one without exporting the helper, or uses an unmetered one),
/// and its call stack limited in wasm terms ([`stack_limit`](super::stack_limit)).
pub fn meter(wasm: &[u8]) -> Result<Vec<u8>, String> {
	super::stack_limit::limit(&meter_bulk(wasm)?)
}

/// The guest with every bulk memory instruction outside its helpers replaced by a call of the
/// helper.
fn meter_bulk(wasm: &[u8]) -> Result<Vec<u8>, String> {
	let helpers = helpers_of(wasm)?;
	let mut out = wasm.get(..8).ok_or("the guest is not valid wasm")?.to_vec();
	for part in parts_of(wasm, &helpers)? {
		let (id, contents) = match part {
			Part::Section(id, range) => (id, wasm[range].to_vec()),
			Part::Code(bodies) => {
				let mut contents = Vec::new();
				leb(&mut contents, bodies.len() as u32);
				for (range, found) in bodies {
					let mut body = Vec::with_capacity(range.len());
					let mut at = range.start;
					for (instruction, bulk) in found {
						body.extend_from_slice(&wasm[at..instruction.start]);
						body.push(0x10); // call
						leb(&mut body, helpers.index(bulk)?);
						at = instruction.end;
					}
					body.extend_from_slice(&wasm[at..range.end]);
					leb(&mut contents, body.len() as u32);
					contents.extend_from_slice(&body);
				}
				(CODE_SECTION, contents)
			},
		};
		out.push(id);
		leb(&mut out, contents.len() as u32);
		out.extend_from_slice(&contents);
	}
	Ok(out)
}

/// The engine version the guest declares in its custom section
/// ([`VERSION_SECTION`](super::guest_consts::VERSION_SECTION)); `None` if it declares none, or
/// more than one, or not as 4 little-endian bytes.
pub fn declared_version(wasm: &[u8]) -> Option<u32> {
	let mut declared = None;
	for payload in Parser::new(0).parse_all(wasm) {
		if let Payload::CustomSection(section) = payload.ok()? {
			if section.name() == super::guest_consts::VERSION_SECTION {
				if declared.is_some() {
					return None;
				}
				declared = Some(u32::from_le_bytes(section.data().try_into().ok()?));
			}
		}
	}
	declared
}

/// The guest with its declared engine version set to `version`: any version section it has is
/// dropped and one is appended. The build script declares `ENGINE_VERSION`.
pub fn declare_version(wasm: &[u8], version: u32) -> Result<Vec<u8>, String> {
	let mut out = wasm.get(..8).ok_or("the guest is not valid wasm")?.to_vec();
	for payload in Parser::new(0).parse_all(wasm) {
		let payload = payload.map_err(|e| format!("the guest is not valid wasm: {e}"))?;
		if let Payload::CustomSection(section) = &payload {
			if section.name() == super::guest_consts::VERSION_SECTION {
				continue;
			}
		}
		if let Some((id, range)) = payload.as_section() {
			out.push(id);
			leb(&mut out, range.len() as u32);
			out.extend_from_slice(&wasm[range]);
		}
	}
	let name = super::guest_consts::VERSION_SECTION.as_bytes();
	let mut contents = Vec::new();
	leb(&mut contents, name.len() as u32);
	contents.extend_from_slice(name);
	contents.extend_from_slice(&version.to_le_bytes());
	out.push(0); // a custom section
	leb(&mut out, contents.len() as u32);
	out.extend_from_slice(&contents);
	Ok(out)
}

/// `Ok` if the guest is what [`meter`] makes of one: every helper a call could need exported, no
/// bulk instruction left outside the helpers, and its stack limited (checked in the same
/// reading of the module).
pub fn check_metered(wasm: &[u8]) -> Result<(), String> {
	memory_size_readers(wasm).map(drop)
}

/// [`check_metered`], answering in the same reading of the module the functions that read the
/// memory's size (`memory.size`), by index, each once.
pub fn memory_size_readers(wasm: &[u8]) -> Result<Vec<u32>, String> {
	let helpers = helpers_of(wasm)?;
	for bulk in [Bulk::Copy, Bulk::Fill, Bulk::Grow] {
		helpers.index(bulk)?;
	}
	let mut readers = Vec::new();
	super::stack_limit::check_with(wasm, |function, operator| {
		if matches!(operator, Operator::MemorySize { .. }) && readers.last() != Some(&function) {
			readers.push(function);
		}
		if helpers.contains(function) {
			// The helpers keep their bulk instructions, not a change of table or segments.
			return keeps_instance_state(operator);
		}
		match bulk_of(operator)? {
			Some(bulk) => Err(format!("the guest has an unmetered {bulk:?} instruction")),
			None => Ok(()),
		}
	})?;
	Ok(readers)
}

/// Whether the guest keeps its own memory size (engine version 12's stand-in for `memory.grow`,
/// `veriml_inference_primitives::guest::ROOM_VERSION`): only its start (`_initialize`, which
/// takes the memory's size as its own) and that stand-in read the memory's size. Only then may
/// a run start in a memory with room beyond its snapshot without its fuel or outputs depending
/// on the room (`snapshot.rs`, `Prepared`); an earlier guest's stand-in asks the memory itself,
/// and its allocator would place its heap at the room's end. `readers` are the functions that
/// read the memory's size ([`memory_size_readers`]).
pub fn keeps_own_memory_size(wasm: &[u8], readers: &[u32]) -> bool {
	let Ok(helpers) = helpers_of(wasm) else { return false };
	let mut readers = readers.to_vec();
	readers.sort_unstable();
	let mut own = [helpers.initialize, helpers.grow];
	own.sort_unstable();
	own.iter().all(Option::is_some) && readers.iter().copied().map(Some).eq(own)
}

/// `Ok` if the guest's instance keeps no state a run could change but its memory and two mutable
/// globals, its stack pointer (the first global) and its stack counter (the last), which a
/// normal return leaves as it found them: no other mutable global and none imported. The
/// instructions that change a table or segments are refused with the unmetered ones
/// ([`check_metered`]). The engine reuses an instance after a run by resetting its memory alone
/// (`snapshot.rs`, `Kept`).
pub fn check_state(wasm: &[u8]) -> Result<(), String> {
	let invalid = |e: wasmparser::BinaryReaderError| format!("the guest is not valid wasm: {e}");
	let mut mutable = Vec::new();
	let mut globals = 0u32;
	for payload in Parser::new(0).parse_all(wasm) {
		match payload.map_err(invalid)? {
			Payload::ImportSection(imports) => {
				for import in imports {
					if let TypeRef::Global(_) = import.map_err(invalid)?.ty {
						return Err("the guest imports a global".into());
					}
				}
			},
			Payload::GlobalSection(section) => {
				for global in section {
					if global.map_err(invalid)?.ty.mutable {
						mutable.push(globals);
					}
					globals += 1;
				}
			},
			_ => {},
		}
	}
	match &mutable[..] {
		[] | [0] => Ok(()),
		[0, last] | [last] if *last + 1 == globals => Ok(()),
		_ => Err(format!(
			"the guest's mutable globals are {mutable:?} of {globals}: only its stack pointer (the first) and its stack counter (the last) are restored by a normal return"
		)),
	}
}

/// A section of a wasm module: its id, then its contents with their length (for the tests that
/// write modules by hand).
#[cfg(test)]
pub(crate) fn section(id: u8, contents: &[u8]) -> Vec<u8> {
	let mut out = vec![id];
	leb(&mut out, contents.len() as u32);
	out.extend_from_slice(contents);
	out
}

#[cfg(test)]
mod tests {
	use super::{super::names, *};

	/// A module of `bodies` (instructions after the locals, `end` added), each of type
	/// `(i32, i32, i32) -> ()`, exporting function 0 as `export` when given.
	fn module(bodies: &[&[u8]], export: Option<&str>) -> Vec<u8> {
		let mut out = b"\0asm\x01\0\0\0".to_vec();
		out.extend(section(1, &[1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]));
		let mut functions = vec![bodies.len() as u8];
		functions.extend(bodies.iter().map(|_| 0u8));
		out.extend(section(3, &functions));
		out.extend(section(5, &[1, 0, 1]));
		if let Some(name) = export {
			let mut exports = vec![1, name.len() as u8];
			exports.extend_from_slice(name.as_bytes());
			exports.extend([0, 0]);
			out.extend(section(7, &exports));
		}
		let mut code = vec![bodies.len() as u8];
		for body in bodies {
			let mut function = vec![0u8];
			function.extend_from_slice(body);
			function.push(0x0b);
			leb(&mut code, function.len() as u32);
			code.extend(function);
		}
		out.extend(section(10, &code));
		out
	}

	const ARGS: [u8; 6] = [0x20, 0, 0x20, 1, 0x20, 2];
	const MEMORY_COPY: [u8; 4] = [0xfc, 0x0a, 0, 0];
	const CALL_0: [u8; 2] = [0x10, 0];

	#[test]
	fn a_bulk_instruction_outside_the_helper_becomes_a_call_of_it() {
		let helper = [&ARGS[..], &MEMORY_COPY].concat();
		let user = [&ARGS[..], &MEMORY_COPY, &ARGS, &MEMORY_COPY].concat();
		let wasm = module(&[&helper, &user], Some(names::COPY_HELPER));
		assert!(check_metered(&wasm).is_err());
		let metered = meter_bulk(&wasm).unwrap();
		// The helper keeps the real instruction; the other function calls the helper twice.
		let expected_user = [&ARGS[..], &CALL_0, &ARGS, &CALL_0].concat();
		assert_eq!(metered, module(&[&helper, &expected_user], Some(names::COPY_HELPER)));
		// Still refused: the fill and grow helpers are missing.
		assert!(check_metered(&metered).unwrap_err().contains(names::FILL_HELPER));
	}

	#[test]
	fn bulk_instructions_without_a_helper_or_without_metering_are_refused() {
		let copy = [&ARGS[..], &MEMORY_COPY].concat();
		assert!(meter(&module(&[&copy], None)).unwrap_err().contains(names::COPY_HELPER));
		// table.grow: no helper stands in for it.
		let table_grow = [0xd0, 0x70, 0x20, 0, 0xfc, 0x0f, 0, 0x1a];
		assert!(meter(&module(&[&table_grow], None)).unwrap_err().contains("TableGrow"));
		// A module without bulk instructions comes out as it went in.
		let plain = module(&[&ARGS[..4]], None);
		assert_eq!(meter_bulk(&plain).unwrap(), plain);
		assert!(meter(b"not wasm").is_err());
	}

	#[test]
	fn instructions_that_change_a_table_or_segments_are_refused() {
		// data.drop 0, elem.drop 0, table.set 0 (of index 0 and a null funcref).
		for (body, name) in [
			(&[0xfc, 0x09, 0][..], "DataDrop"),
			(&[0xfc, 0x0d, 0][..], "ElemDrop"),
			(&[0x41, 0, 0xd0, 0x70, 0x26, 0][..], "TableSet"),
		] {
			assert!(meter(&module(&[body], None)).unwrap_err().contains(name), "{name} is not refused");
		}
	}

	#[test]
	fn only_the_stack_pointer_and_the_stack_counter_may_be_mutable_globals() {
		/// A module of globals, each `(mutable, value)` as an i32, after `imports`.
		fn with_globals(globals: &[bool], imports: &[u8]) -> Vec<u8> {
			let mut contents = vec![globals.len() as u8];
			for mutable in globals {
				contents.extend_from_slice(&[0x7f, u8::from(*mutable), 0x41, 0, 0x0b]);
			}
			let mut wasm = b"\0asm\x01\0\0\0".to_vec();
			if !imports.is_empty() {
				wasm.extend(section(2, imports));
			}
			wasm.extend(section(6, &contents));
			wasm
		}
		assert!(check_state(&with_globals(&[true, false, false, true], &[])).is_ok());
		assert!(check_state(&with_globals(&[true], &[])).is_ok());
		assert!(check_state(&with_globals(&[false, true], &[])).is_ok());
		assert!(check_state(&with_globals(&[true, true, false, true], &[])).unwrap_err().contains("[0, 1, 3]"));
		assert!(check_state(&with_globals(&[false, true, false], &[])).is_err());
		// An imported global (module "m", name "g", a mutable i32): the host's state, refused.
		let import = [1, 1, b'm', 1, b'g', 0x03, 0x7f, 1];
		assert!(check_state(&with_globals(&[true], &import)).unwrap_err().contains("imports a global"));
		// The guest itself.
		assert!(check_state(crate::GUEST_WASM).is_ok());
	}

	#[test]
	fn a_guest_declares_one_engine_version_which_can_be_replaced() {
		let plain = module(&[&ARGS[..4]], None);
		assert_eq!(declared_version(&plain), None);
		let three = declare_version(&plain, 3).unwrap();
		assert_eq!(declared_version(&three), Some(3));
		// Declaring again replaces the section rather than adding a second one.
		let four = declare_version(&three, 4).unwrap();
		assert_eq!(declared_version(&four), Some(4));
		assert_eq!(four.len(), three.len());
		assert_eq!(declare_version(&four, 3).unwrap(), three);
		// Two version sections declare nothing.
		let twice = [&three[..], &four[plain.len()..]].concat();
		assert_eq!(declared_version(&twice), None);
	}
}
