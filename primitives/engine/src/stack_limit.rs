//! Limits the guest's call stack in wasm terms, so that a model exhausts it at the same call on
//! every node, whatever the CPU.
//!
//! wasmtime's own limit (`max_wasm_stack`) counts native bytes, and a function's native frame
//! differs between instruction sets (and between compiler versions). So the engine's build
//! gives every function a cost in wasm terms, its *slots*: a frame's fixed part
//! ([`FRAME_SLOTS`](super::names::FRAME_SLOTS)), its locals (parameters included) and the
//! highest its operand stack gets. A mutable global (appended after the module's own) holds the
//! slots of the calls in progress. Every call of a function that calls others (a *leaf*, which
//! calls none or only the host, is not counted: its frame is bounded by
//! [`MAX_FUNCTION_SLOTS`](super::names::MAX_FUNCTION_SLOTS)) is wrapped:
//!
//! ```text
//! global.get $slots; i32.const LIMIT-C; i32.gt_u; if; unreachable; end   ;; would pass the limit: trap
//! global.get $slots; i32.const C; i32.add; global.set $slots
//! call f
//! global.get $slots; i32.const C; i32.sub; global.set $slots
//! ```
//!
//! where `C` is the callee's slots (for `call_indirect`, the most of any function in the
//! table) and `LIMIT` is [`STACK_LIMIT_SLOTS`](super::names::STACK_LIMIT_SLOTS). The trap is
//! the model's doing, a verdict (`ExecutionFailed`). The engine gives wasmtime a native stack
//! many times what the limit can take, so wasmtime's own limit is never reached; if it were,
//! the engine reports a local failure, never a verdict.
//!
//! [`check`] is what the engine checks before it loads a guest: the global is the module's
//! last, mutable, starts at 0 and is touched only by the sequences above, each around the call
//! it counts with at least the callee's slots.
//!
//! This file is also compiled into the build script (`build.rs`), so it depends on nothing but
//! `wasmparser`, `metering.rs` and the names in `primitives/inference/src/metering.rs`.

use super::{metering::leb, names};
use wasmparser::{
	ConstExpr, ElementItems, FuncValidatorAllocations, FunctionBody, Operator, Parser, Payload, TypeRef, ValType,
	ValidPayload, Validator,
};

/// The code section's id.
const CODE_SECTION: u8 = 10;
/// The global section's id.
const GLOBAL_SECTION: u8 = 6;

/// What the limit needs to know of each function and of the module.
struct Functions {
	/// Functions the module imports (indices below this are the host's).
	imported: u32,
	/// Of each defined function: its slots, and whether it calls a defined function.
	defined: Vec<(u32, bool)>,
	/// Globals the module imports and defines: the counter's index when appended.
	globals: u32,
	/// The functions the table may hold (from the element segments).
	in_table: Vec<u32>,
}

impl Functions {
	/// The slots of function `index` when calls of it are counted; `None` for the host's
	/// functions and leaves.
	fn counted(&self, index: u32) -> Option<u32> {
		let (slots, calls) = *self.defined.get(index.checked_sub(self.imported)? as usize)?;
		calls.then_some(slots)
	}

	/// Slots charged for a `call_indirect`: the most of any function in the table.
	fn indirect(&self) -> u32 {
		self.in_table
			.iter()
			.filter_map(|index| self.defined.get(index.checked_sub(self.imported)? as usize))
			.map(|(slots, _)| *slots)
			.max()
			.unwrap_or(names::FRAME_SLOTS)
	}
}

/// The slots of one function body and whether it calls a defined function or through the
/// table, with its instructions in `operators`; an error for instructions the limit cannot
/// account for.
fn measure<'a>(
	validator: &mut Validator,
	payload: &Payload<'a>,
	body: &FunctionBody<'a>,
	imported: u32,
	allocations: &mut Option<FuncValidatorAllocations>,
	operators: &mut Vec<Operator<'a>>,
) -> Result<(u32, bool), String> {
	let Some(ValidPayload::Func(func, _)) =
		Some(validator.payload(payload).map_err(|e| format!("the guest is not valid wasm: {e}"))?)
	else {
		return Err("a function body the validator did not hand over".into());
	};
	let mut func = func.into_validator(allocations.take().unwrap_or_default());
	let mut reader = body.get_binary_reader();
	func.read_locals(&mut reader).map_err(|e| e.to_string())?;
	let mut reader = body.get_operators_reader().map_err(|e| e.to_string())?;
	let mut highest = 0;
	let mut calls = false;
	operators.clear();
	while !reader.eof() {
		let (operator, offset) = reader.read_with_offset().map_err(|e| e.to_string())?;
		match operator {
			Operator::Call { function_index } if function_index >= imported => calls = true,
			Operator::CallIndirect { .. } => calls = true,
			Operator::ReturnCall { .. }
			| Operator::ReturnCallIndirect { .. }
			| Operator::CallRef { .. }
			| Operator::ReturnCallRef { .. }
			| Operator::TableSet { .. } => {
				return Err(format!("the guest uses {operator:?}, which the stack limit does not count"))
			},
			_ => {},
		}
		func.op(offset, &operator).map_err(|e| format!("the guest is not valid wasm: {e}"))?;
		highest = highest.max(func.operand_stack_height());
		operators.push(operator);
	}
	let slots = names::FRAME_SLOTS.saturating_add(func.len_locals()).saturating_add(highest);
	if slots > names::MAX_FUNCTION_SLOTS {
		return Err(format!("function {} needs {slots} stack slots, more than one may", func.index()));
	}
	*allocations = Some(func.into_allocations());
	Ok((slots, calls))
}

/// The functions of `wasm`, measured in one reading of the module. `each_body` sees every
/// function body's instructions as they are read, with what is known of the module so far (the
/// body is function `imported + defined.len()`).
fn functions_of<'a>(
	wasm: &'a [u8],
	mut each_body: impl FnMut(&Functions, &[Operator<'a>]) -> Result<(), String>,
) -> Result<Functions, String> {
	let mut validator = Validator::new();
	let mut allocations = None;
	let mut operators = Vec::new();
	let mut functions = Functions { imported: 0, defined: Vec::new(), globals: 0, in_table: Vec::new() };
	for payload in Parser::new(0).parse_all(wasm) {
		let payload = payload.map_err(|e| format!("the guest is not valid wasm: {e}"))?;
		match &payload {
			Payload::ImportSection(imports) => {
				for import in imports.clone() {
					match import.map_err(|e| e.to_string())?.ty {
						TypeRef::Func(_) => functions.imported += 1,
						TypeRef::Global(_) => functions.globals += 1,
						_ => {},
					}
				}
			},
			Payload::GlobalSection(globals) => functions.globals += globals.count(),
			Payload::ElementSection(elements) => {
				for element in elements.clone() {
					match element.map_err(|e| e.to_string())?.items {
						ElementItems::Functions(indices) => {
							for index in indices {
								functions.in_table.push(index.map_err(|e| e.to_string())?);
							}
						},
						ElementItems::Expressions(_, expressions) => {
							for expression in expressions {
								functions.in_table.extend(function_of(&expression.map_err(|e| e.to_string())?));
							}
						},
					}
				}
			},
			Payload::CodeSectionEntry(body) => {
				let measured =
					measure(&mut validator, &payload, body, functions.imported, &mut allocations, &mut operators)?;
				each_body(&functions, &operators)?;
				functions.defined.push(measured);
				continue;
			},
			_ => {},
		}
		validator.payload(&payload).map_err(|e| format!("the guest is not valid wasm: {e}"))?;
	}
	Ok(functions)
}

/// The function a constant expression of an element segment refers to, if any.
fn function_of(expression: &ConstExpr) -> Option<u32> {
	expression.get_operators_reader().into_iter().find_map(|operator| match operator {
		Ok(Operator::RefFunc { function_index }) => Some(function_index),
		_ => None,
	})
}

/// Appends `value` as signed LEB128.
fn sleb(out: &mut Vec<u8>, mut value: i64) {
	loop {
		let byte = (value & 0x7f) as u8;
		value >>= 7;
		let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
		out.push(if done { byte } else { byte | 0x80 });
		if done {
			return;
		}
	}
}

/// The instructions before a counted call of a function of `slots`.
fn before_call(out: &mut Vec<u8>, counter: u32, slots: u32) {
	out.push(0x23); // global.get
	leb(out, counter);
	out.push(0x41); // i32.const
	sleb(out, i64::from(names::STACK_LIMIT_SLOTS - slots));
	out.extend([0x4b, 0x04, 0x40, 0x00, 0x0b]); // i32.gt_u; if; unreachable; end
	out.push(0x23);
	leb(out, counter);
	out.push(0x41);
	sleb(out, i64::from(slots));
	out.push(0x6a); // i32.add
	out.push(0x24); // global.set
	leb(out, counter);
}

/// The instructions after a counted call of a function of `slots`.
fn after_call(out: &mut Vec<u8>, counter: u32, slots: u32) {
	out.push(0x23);
	leb(out, counter);
	out.push(0x41);
	sleb(out, i64::from(slots));
	out.push(0x6b); // i32.sub
	out.push(0x24);
	leb(out, counter);
}

/// Instructions the wrapping adds to the operand stack at most (the check's two operands).
const WRAPPING_HEIGHT: u32 = 2;

/// Bytes of the unsigned LEB128 number at the start of `bytes`.
fn leb_len(bytes: &[u8]) -> usize {
	bytes.iter().position(|byte| byte & 0x80 == 0).map_or(bytes.len(), |last| last + 1)
}

/// `wasm` with its stack limited: the counter appended to its globals and every call of a
/// function that is not a leaf wrapped as the [module's documentation](self) shows.
pub fn limit(wasm: &[u8]) -> Result<Vec<u8>, String> {
	if check(wasm).is_ok() {
		return Ok(wasm.to_vec());
	}
	let functions = functions_of(wasm, |_, _| Ok(()))?;
	// The wrapping raises a body's operand stack by at most two, which its slots include.
	let slots_of = |index: u32| functions.counted(index).map(|slots| slots + WRAPPING_HEIGHT);
	let indirect = functions.indirect() + WRAPPING_HEIGHT;
	let counter = functions.globals;
	// The module's sections, each as its id and contents, in order.
	let mut sections: Vec<(u8, Vec<u8>)> = Vec::new();
	let mut bodies = Vec::new();
	for payload in Parser::new(0).parse_all(wasm) {
		let payload = payload.map_err(|e| format!("the guest is not valid wasm: {e}"))?;
		match &payload {
			Payload::GlobalSection(globals) => {
				let range = globals.range();
				let mut contents = Vec::new();
				leb(&mut contents, globals.count() + 1);
				// The entries as they are, after the section's count of them.
				contents.extend_from_slice(&wasm[range.start + leb_len(&wasm[range.clone()])..range.end]);
				// The counter: a mutable i32 that starts at 0.
				contents.extend([0x7f, 0x01, 0x41, 0x00, 0x0b]);
				sections.push((GLOBAL_SECTION, contents));
				continue;
			},
			Payload::CodeSectionStart { .. } => {
				// Written once its bodies are read.
				sections.push((CODE_SECTION, Vec::new()));
				continue;
			},
			Payload::CodeSectionEntry(body) => {
				let mut instrumented = Vec::with_capacity(body.range().len() + 64);
				let mut operators = body.get_operators_reader().map_err(|e| e.to_string())?;
				let mut at = body.range().start;
				while !operators.eof() {
					let (operator, offset) = operators.read_with_offset().map_err(|e| e.to_string())?;
					let slots = match operator {
						Operator::Call { function_index } => slots_of(function_index),
						Operator::CallIndirect { .. } => Some(indirect),
						_ => None,
					};
					if let Some(slots) = slots {
						let end = operators.original_position();
						instrumented.extend_from_slice(&wasm[at..offset]);
						before_call(&mut instrumented, counter, slots);
						instrumented.extend_from_slice(&wasm[offset..end]);
						after_call(&mut instrumented, counter, slots);
						at = end;
					}
				}
				instrumented.extend_from_slice(&wasm[at..body.range().end]);
				bodies.push(instrumented);
				continue;
			},
			_ => {},
		}
		if let Some((id, range)) = payload.as_section() {
			sections.push((id, wasm[range].to_vec()));
		}
	}
	if !sections.iter().any(|(id, _)| *id == GLOBAL_SECTION) {
		// A global section of the counter alone, where the order of sections puts it: before
		// the exports, start, elements, data count, code and data.
		let at = sections.iter().position(|(id, _)| [7, 8, 9, 12, 10, 11].contains(id)).unwrap_or(sections.len());
		sections.insert(at, (GLOBAL_SECTION, vec![1, 0x7f, 0x01, 0x41, 0x00, 0x0b]));
	}
	let code = sections.iter().position(|(id, _)| *id == CODE_SECTION).ok_or("the guest has no code section")?;
	leb(&mut sections[code].1, bodies.len() as u32);
	for body in bodies {
		leb(&mut sections[code].1, body.len() as u32);
		sections[code].1.extend(body);
	}
	let mut out = wasm[..8].to_vec();
	for (id, contents) in sections {
		out.push(id);
		leb(&mut out, contents.len() as u32);
		out.extend(contents);
	}
	Ok(out)
}

/// One instruction of the wrapping, as [`check`] reads it.
fn is_counter(operator: &Operator, counter: u32, set: bool) -> bool {
	match operator {
		Operator::GlobalGet { global_index } => !set && *global_index == counter,
		Operator::GlobalSet { global_index } => set && *global_index == counter,
		_ => false,
	}
}

/// The slots of the wrapping before a call that ends at `operators[..at]`, if it is there.
fn wrapped_before(operators: &[Operator], at: usize, counter: u32) -> Option<u32> {
	let before = operators.get(at.checked_sub(10)?..at)?;
	let (Operator::I32Const { value: room }, Operator::I32Const { value: slots }) = (&before[1], &before[7]) else {
		return None;
	};
	let shape = is_counter(&before[0], counter, false)
		&& matches!(before[2], Operator::I32GtU)
		&& matches!(before[3], Operator::If { blockty: wasmparser::BlockType::Empty })
		&& matches!(before[4], Operator::Unreachable)
		&& matches!(before[5], Operator::End)
		&& is_counter(&before[6], counter, false)
		&& matches!(before[8], Operator::I32Add)
		&& is_counter(&before[9], counter, true);
	// Both as unsigned numbers that add up to the limit: a negative room, which `i32.gt_u`
	// reads as the largest number, would never trap.
	let (room, slots) = (u32::try_from(*room).ok()?, u32::try_from(*slots).ok()?);
	(shape && room.checked_add(slots) == Some(names::STACK_LIMIT_SLOTS)).then_some(slots)
}

/// Whether the wrapping after a call at `operators[at - 1]` is there, for `slots`.
fn wrapped_after(operators: &[Operator], at: usize, counter: u32, slots: u32) -> bool {
	let Some(after) = operators.get(at..at + 4) else { return false };
	is_counter(&after[0], counter, false)
		&& matches!(after[1], Operator::I32Const { value } if i64::from(value) == i64::from(slots))
		&& matches!(after[2], Operator::I32Sub)
		&& is_counter(&after[3], counter, true)
}

/// `Ok` if `wasm`'s stack is limited as [`limit`] does it: its last global is the counter (a
/// mutable i32 from 0, not exported), touched only by the wrapping of calls, and every call of a
/// function that is not a leaf is wrapped with at least the callee's slots.
pub fn check(wasm: &[u8]) -> Result<(), String> {
	check_with(wasm, |_, _| Ok(()))
}

/// [`check`], with `each_instruction` called on every instruction of every function (with the
/// function's index) in the same reading of the module.
pub fn check_with<'a>(
	wasm: &'a [u8],
	mut each_instruction: impl FnMut(u32, &Operator<'a>) -> Result<(), String>,
) -> Result<(), String> {
	// Every call of a defined function (`None`: through the table) with the slots it is
	// counted for, if it is wrapped; judged once every function's slots are known.
	let mut calls: Vec<(Option<u32>, Option<u32>)> = Vec::new();
	let functions = functions_of(wasm, |so_far, operators| {
		let function = so_far.imported + so_far.defined.len() as u32;
		let counter = so_far.globals.checked_sub(1).ok_or("the guest has no stack counter")?;
		let mut wrapping = vec![false; operators.len()];
		for (at, operator) in operators.iter().enumerate() {
			each_instruction(function, operator)?;
			let callee = match operator {
				Operator::Call { function_index } if *function_index >= so_far.imported => Some(*function_index),
				Operator::CallIndirect { .. } => None,
				_ => continue,
			};
			let slots = wrapped_before(operators, at, counter)
				.filter(|slots| wrapped_after(operators, at + 1, counter, *slots));
			if slots.is_some() {
				wrapping[at - 10..at].fill(true);
				wrapping[at + 1..at + 5].fill(true);
			}
			calls.push((callee, slots));
		}
		match operators.iter().zip(&wrapping).find(|(operator, wrapped)| {
			!**wrapped && (is_counter(operator, counter, false) || is_counter(operator, counter, true))
		}) {
			Some((stray, _)) => {
				Err(format!("the guest touches its stack counter outside the limit's wrapping: {stray:?}"))
			},
			None => Ok(()),
		}
	})?;
	let indirect = functions.indirect();
	for (callee, slots) in calls {
		let needed = match callee {
			Some(function) => functions.counted(function),
			None => Some(indirect),
		};
		if needed.is_some_and(|needed| slots.is_none_or(|slots| slots < needed)) {
			return Err(format!("the guest has a call not counted against its stack limit: of {callee:?}"));
		}
	}
	let counter = functions.globals - 1;
	let mut counter_defined = false;
	for payload in Parser::new(0).parse_all(wasm) {
		match payload.map_err(|e| format!("the guest is not valid wasm: {e}"))? {
			Payload::GlobalSection(globals) => {
				let last = globals.into_iter().last().ok_or("the guest has no stack counter")?;
				let last = last.map_err(|e| e.to_string())?;
				let init = last
					.init_expr
					.get_operators_reader()
					.into_iter()
					.collect::<Result<Vec<_>, _>>()
					.map_err(|e| e.to_string())?;
				counter_defined = last.ty.mutable
					&& last.ty.content_type == ValType::I32
					&& matches!(&init[..], [Operator::I32Const { value: 0 }, Operator::End]);
			},
			Payload::ExportSection(exports) => {
				for export in exports {
					let export = export.map_err(|e| e.to_string())?;
					if export.kind == wasmparser::ExternalKind::Global && export.index == counter {
						return Err("the guest exports its stack counter".into());
					}
				}
			},
			_ => {},
		}
	}
	if !counter_defined {
		return Err("the guest's last global is not a stack counter (a mutable i32 from 0)".into());
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::{super::metering::section, *};
	use wasmtime::{Config, Engine, Instance, Module, Store, Trap};

	/// A module exporting `deep(n: i32) -> i32`, which calls itself `n` deep, with `locals` locals of `local` type (written and read, so none is optimised away) and,
	/// when `leaf_helper`, a call of a leaf on the way.
	fn recursive(locals: u32, local: u8, leaf_helper: bool) -> Vec<u8> {
		let mut out = b"\0asm\x01\0\0\0".to_vec();
		out.extend(section(1, &[1, 0x60, 1, 0x7f, 1, 0x7f]));
		out.extend(section(3, &[2, 0, 0]));
		out.extend(section(5, &[1, 0, 1]));
		out.extend(section(7, &[1, 4, b'd', b'e', b'e', b'p', 0, 0]));
		let mut deep = Vec::new();
		leb(&mut deep, 1);
		leb(&mut deep, locals);
		deep.push(local);
		// Every local loaded from memory (a load stays before the call, which could change
		// memory), so that all are live across the call: i32.load, i64.load, v128.load.
		let load: &[u8] = match local {
			0x7b => &[0xfd, 0x00, 4],
			0x7e => &[0x29, 3],
			_ => &[0x28, 2],
		};
		for index in 0..locals {
			deep.extend([0x41, 0]); // i32.const 0
			deep.extend_from_slice(load);
			leb(&mut deep, index * 16);
			deep.push(0x21); // local.set
			leb(&mut deep, index + 1);
		}
		// if n == 0 { 0 } else { deep(n - 1) + 1 }
		deep.extend([0x20, 0, 0x45, 0x04, 0x7f, 0x41, 0, 0x05]);
		if leaf_helper {
			deep.extend([0x20, 0, 0x10, 1, 0x1a]); // leaf(n), dropped
		}
		deep.extend([0x20, 0, 0x41, 1, 0x6b, 0x10, 0, 0x41, 1, 0x6a, 0x0b]);
		// Every local added to the answer after the call, so that all are live across it.
		let back: &[u8] = match local {
			0x7b => &[0xfd, 0x1b, 0], // i32x4.extract_lane 0
			0x7e => &[0xa7],          // i32.wrap_i64
			_ => &[],
		};
		for index in 0..locals {
			deep.push(0x20);
			leb(&mut deep, index + 1);
			deep.extend_from_slice(back);
			deep.push(0x73); // i32.xor
		}
		deep.push(0x0b);
		let leaf = [0, 0x20, 0, 0x0b];
		let mut code = vec![2];
		leb(&mut code, deep.len() as u32);
		code.extend(deep);
		code.push(leaf.len() as u8);
		code.extend(leaf);
		out.extend(section(10, &code));
		out
	}

	/// Calls `deep(n)` on a thread with a native stack far above `max_wasm_stack`.
	fn call_deep(wasm: &[u8], max_wasm_stack: usize, n: i32) -> Result<i32, Trap> {
		let wasm = wasm.to_vec();
		std::thread::Builder::new()
			.stack_size(max_wasm_stack * 2 + (8 << 20))
			.spawn(move || {
				let mut config = Config::new();
				config.max_wasm_stack(max_wasm_stack);
				let engine = Engine::new(&config).unwrap();
				let module = Module::new(&engine, &wasm).unwrap();
				let mut store = Store::new(&engine, ());
				let instance = Instance::new(&mut store, &module, &[]).unwrap();
				let deep = instance.get_typed_func::<i32, i32>(&mut store, "deep").unwrap();
				deep.call(&mut store, n).map_err(|e| *e.downcast_ref::<Trap>().unwrap())
			})
			.unwrap()
			.join()
			.unwrap()
	}

	#[test]
	fn a_run_passes_the_stack_limit_at_the_same_call_whatever_the_native_frames() {
		for (locals, local) in [(0, 0x7f), (40, 0x7f), (40, 0x7b)] {
			let wasm = recursive(locals, local, true);
			let limited = limit(&wasm).unwrap();
			check(&limited).unwrap();
			assert_eq!(limit(&limited).unwrap(), limited, "limiting twice changes nothing");
			// deep's slots: the frame, its parameter and locals, and at most two operands (two
			// more while a call is wrapped).
			let slots = names::FRAME_SLOTS + 1 + locals + 2 + WRAPPING_HEIGHT;
			let deepest = (names::STACK_LIMIT_SLOTS / slots) as i32;
			// The engine's native stack: the limit is what stops the run, never wasmtime's.
			assert!(call_deep(&limited, NATIVE_STACK, deepest).is_ok());
			assert_eq!(call_deep(&limited, NATIVE_STACK, deepest + 1), Err(Trap::UnreachableCodeReached));
			// A native stack too small for the same depth stops it sooner: that limit is the one
			// that differs between CPUs.
			assert_eq!(call_deep(&wasm, 64 * 1024, deepest), Err(Trap::StackOverflow));
		}
	}

	/// The native stack the engine gives wasmtime, as `snapshot.rs` sets it.
	const NATIVE_STACK: usize = crate::snapshot::MAX_WASM_STACK;

	#[test]
	fn the_native_stack_holds_many_times_what_the_limit_lets_a_run_use() {
		// Native bytes per slot on this CPU, measured where the native limit stops the module
		// without the counting: the deepest call under a 1 MiB stack.
		for (locals, local) in [(0, 0x7f), (40, 0x7f), (200, 0x7e), (40, 0x7b)] {
			let wasm = recursive(locals, local, false);
			let (mut fits, mut overflows) = (1, 1 << 20);
			while overflows - fits > 1 {
				let middle = (fits + overflows) / 2;
				match call_deep(&wasm, 1 << 20, middle) {
					Ok(_) => fits = middle,
					Err(trap) => {
						assert_eq!(trap, Trap::StackOverflow);
						overflows = middle
					},
				}
			}
			let slots = names::FRAME_SLOTS + 1 + locals + 2;
			let bytes_per_slot = (1 << 20) as f64 / f64::from(fits) / f64::from(slots);
			// Everything a run can hold: the counted calls, one leaf and the host's call in.
			let most = f64::from(names::STACK_LIMIT_SLOTS + 2 * names::MAX_FUNCTION_SLOTS) * bytes_per_slot;
			println!("{locals} locals of 0x{local:x}: {bytes_per_slot:.1} native bytes per slot");
			assert!(most * 3.0 < NATIVE_STACK as f64, "{most} bytes");
		}
	}

	fn wrapped_module() -> Vec<u8> {
		limit(&recursive(2, 0x7f, true)).unwrap()
	}

	/// `wasm` with the first occurrence of `from` replaced by `to`.
	fn edit(wasm: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
		let at = wasm.windows(from.len()).position(|window| window == from).unwrap();
		let mut out = wasm[..at].to_vec();
		out.extend_from_slice(to);
		out.extend_from_slice(&wasm[at + from.len()..]);
		out
	}

	#[test]
	fn a_guest_whose_calls_are_not_all_counted_is_refused() {
		let wasm = wrapped_module();
		let counter = 0u8; // the module has no other global
		let slots = (names::FRAME_SLOTS + 1 + 2 + 2 + WRAPPING_HEIGHT) as u8;
		check(&wasm).unwrap();
		// The call not counted at all: its wrapping made no-ops.
		let (mut before, mut after) = (Vec::new(), Vec::new());
		before_call(&mut before, u32::from(counter), u32::from(slots));
		after_call(&mut after, u32::from(counter), u32::from(slots));
		let unwrapped = edit(&wasm, &before, &vec![0x01; before.len()]);
		let unwrapped = edit(&unwrapped, &after, &vec![0x01; after.len()]);
		assert!(check(&unwrapped).unwrap_err().contains("not counted"));
		// Counted for fewer slots than the callee has, or not undone after the call: the
		// wrapping is not the limit's, and the counter is touched outside it.
		let fewer = edit(&wasm, &[0x41, slots, 0x6a], &[0x41, slots - 1, 0x6a]);
		assert!(check(&fewer).is_err());
		let kept = edit(&wasm, &[0x41, slots, 0x6b], &[0x41, slots, 0x6a]);
		assert!(check(&kept).is_err());
		// The counter touched outside the wrapping of a call.
		let touched = edit(&wasm, &[0x20, 0, 0x45], &[0x23, counter, 0x45]);
		assert!(check(&touched).unwrap_err().contains("outside"));
		// A guest without the counting at all.
		assert!(check(&recursive(2, 0x7f, true)).is_err());
	}

	/// The wrapping before a call, as [`check`] reads it, with the check's room and the slots
	/// added as given.
	fn before(counter: u32, room: i32, slots: i32) -> Vec<Operator<'static>> {
		vec![
			Operator::GlobalGet { global_index: counter },
			Operator::I32Const { value: room },
			Operator::I32GtU,
			Operator::If { blockty: wasmparser::BlockType::Empty },
			Operator::Unreachable,
			Operator::End,
			Operator::GlobalGet { global_index: counter },
			Operator::I32Const { value: slots },
			Operator::I32Add,
			Operator::GlobalSet { global_index: counter },
		]
	}

	#[test]
	fn a_wrapping_counts_only_slots_within_the_limit() {
		let limit = names::STACK_LIMIT_SLOTS as i32;
		assert_eq!(wrapped_before(&before(3, limit - 15, 15), 10, 3), Some(15));
		assert_eq!(wrapped_before(&before(3, limit - 15, 15), 10, 4), None, "another global");
		assert_eq!(wrapped_before(&before(3, limit - 14, 15), 10, 3), None, "room and slots disagree");
		// More slots than the limit: the room is negative, which `i32.gt_u` reads as the
		// largest number, so the check would never trap however deep the calls go.
		assert_eq!(wrapped_before(&before(3, -1, limit + 1), 10, 3), None);
		assert_eq!(wrapped_before(&before(3, 0, limit), 10, 3), Some(names::STACK_LIMIT_SLOTS));
	}
}
