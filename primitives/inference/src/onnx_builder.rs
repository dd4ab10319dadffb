//! Tiny ONNX models built in code (protobuf by hand), for tests and benchmarks that must not
//! depend on files: one unary operator over a `[1, width]` float tensor, an embedding (rows
//! gathered from a table of weights of any size), and a one-layer decoder in Hugging Face's
//! layout.

use alloc::vec::Vec;

fn varint(out: &mut Vec<u8>, mut value: u64) {
	while value >= 0x80 {
		out.push((value as u8) | 0x80);
		value >>= 7;
	}
	out.push(value as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u32, value: u64) {
	varint(out, (field as u64) << 3);
	varint(out, value);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
	varint(out, ((field as u64) << 3) | 2);
	varint(out, bytes.len() as u64);
	out.extend_from_slice(bytes);
}

/// ONNX `TensorProto.DataType` of f32.
const FLOAT: u64 = 1;
/// ONNX `TensorProto.DataType` of i64.
const INT64: u64 = 7;

/// `ValueInfoProto` of a float tensor `[1, width]` named `name`.
fn float_value_info(name: &str, width: u32) -> Vec<u8> {
	value_info(name, FLOAT, &[1, width as u64])
}

/// `ValueInfoProto` of a tensor of ONNX type `elem_type` and shape `dims` named `name`.
fn value_info(name: &str, elem_type: u64, dims: &[u64]) -> Vec<u8> {
	let dims: Vec<Dim> = dims.iter().map(|&dim| Dim::Fixed(dim)).collect();
	symbolic_value_info(name, elem_type, &dims)
}

/// A dimension of a declared shape: a number, or a name (`dim_param`) fixed by the inputs.
enum Dim {
	Fixed(u64),
	Named(&'static str),
}

/// [`value_info`] with dimensions that may be named.
fn symbolic_value_info(name: &str, elem_type: u64, dims: &[Dim]) -> Vec<u8> {
	let mut shape = Vec::new();
	for dim in dims {
		let mut dimension = Vec::new();
		match dim {
			Dim::Fixed(value) => field_varint(&mut dimension, 1, *value),
			Dim::Named(param) => field_bytes(&mut dimension, 2, param.as_bytes()),
		}
		field_bytes(&mut shape, 1, &dimension);
	}
	let mut tensor_type = Vec::new();
	field_varint(&mut tensor_type, 1, elem_type);
	field_bytes(&mut tensor_type, 2, &shape);
	let mut type_proto = Vec::new();
	field_bytes(&mut type_proto, 1, &tensor_type);
	let mut value_info = Vec::new();
	field_bytes(&mut value_info, 1, name.as_bytes());
	field_bytes(&mut value_info, 2, &type_proto);
	value_info
}

/// `ModelProto` of IR version 7 and opset 13 around `graph`, with a doc string of `padding`
/// spaces if given (its field written even when empty).
fn model_of(graph: &[u8], padding: Option<usize>) -> Vec<u8> {
	let mut opset = Vec::new();
	field_bytes(&mut opset, 1, b"");
	field_varint(&mut opset, 2, 13);
	let mut model = Vec::new();
	field_varint(&mut model, 1, 7); // ir_version
	if let Some(padding) = padding {
		field_bytes(&mut model, 6, &alloc::vec![b' '; padding]);
	}
	field_bytes(&mut model, 7, graph);
	field_bytes(&mut model, 8, &opset);
	model
}

/// A model computing `y = op_type(x)` for `x: f32[1, width]`, with `padding` bytes of doc
/// string (to reach a given file size without changing the work).
pub fn unary_model(op_type: &str, width: u32, padding: usize) -> Vec<u8> {
	let mut graph = Vec::new();
	field_bytes(&mut graph, 1, &node(op_type, &["x"], "y", None));
	field_bytes(&mut graph, 2, b"unary");
	field_bytes(&mut graph, 11, &float_value_info("x", width));
	field_bytes(&mut graph, 12, &float_value_info("y", width));
	model_of(&graph, Some(padding))
}

/// The input spec of [`unary_model`].
pub fn unary_model_input(width: u32) -> crate::TensorSpec {
	crate::TensorSpec::new(crate::DType::F32, &[1, width]).expect("rank 2")
}

/// A model gathering `picked` rows of a `[rows, width]` f32 table held as an initializer (an
/// embedding's weights), `table` its little-endian bytes: `y = table[x]` for `x: i64[picked]`.
/// Its file is the table's size and a few hundred bytes.
pub fn embedding_model(rows: u32, width: u32, table: &[u8], picked: u32) -> Vec<u8> {
	let mut graph = Vec::new();
	field_bytes(&mut graph, 1, &node("Gather", &["table", "x"], "y", None));
	field_bytes(&mut graph, 2, b"embedding");
	field_bytes(&mut graph, 5, &initializer("table", &[rows.into(), width.into()], table, FLOAT));
	field_bytes(&mut graph, 11, &value_info("x", INT64, &[picked as u64]));
	field_bytes(&mut graph, 12, &value_info("y", FLOAT, &[picked as u64, width as u64]));
	model_of(&graph, None)
}

/// `NodeProto` of `op_type` from `inputs` to `output`, with at most one integer attribute.
fn node(op_type: &str, inputs: &[&str], output: &str, attribute: Option<(&str, i64)>) -> Vec<u8> {
	let mut node = Vec::new();
	for input in inputs {
		field_bytes(&mut node, 1, input.as_bytes());
	}
	field_bytes(&mut node, 2, output.as_bytes());
	field_bytes(&mut node, 4, op_type.as_bytes());
	if let Some((name, value)) = attribute {
		let mut attribute = Vec::new();
		field_bytes(&mut attribute, 1, name.as_bytes());
		field_varint(&mut attribute, 3, value as u64); // i
		field_varint(&mut attribute, 20, 2); // type: INT
		field_bytes(&mut node, 5, &attribute);
	}
	node
}

/// `TensorProto` initializer `name` of shape `dims` and ONNX type `data_type`, `raw` its
/// little-endian bytes.
fn initializer(name: &str, dims: &[u64], raw: &[u8], data_type: u64) -> Vec<u8> {
	let mut tensor = Vec::new();
	for &dim in dims {
		field_varint(&mut tensor, 1, dim);
	}
	field_varint(&mut tensor, 2, data_type);
	field_bytes(&mut tensor, 8, name.as_bytes());
	field_bytes(&mut tensor, 9, raw);
	tensor
}

/// A one-layer decoder in Hugging Face's layout (`input_ids`, `attention_mask`,
/// `position_ids`, `past_key_values.0.key/value` → `logits`, `present.0.key/value`) over a
/// vocabulary of `vocabulary` tokens, with `heads` heads of `head_size`: the token fed picks a
/// row of logits (token `t` makes token `(t + 1) % vocabulary` the likeliest) and a row of
/// key/value it appends to the cache. The past length and the mask's are named dimensions, so
/// one file serves every step.
pub fn decoder_model(vocabulary: u32, heads: u32, head_size: u32) -> Vec<u8> {
	decoder_graph(vocabulary, heads, head_size, None)
}

/// [`decoder_model`] made costly to prepare for caches of middling length, as a hostile
/// author would, with the same tokens and states. Its logits gain zeros computed from
/// constants the engine folds while it prepares the model for a cache of `past` rows:
/// - the sum of a one-element tensor of rank `1 + scale × past × (context_length − 1 − past)`
///   (work that grows with the square of that rank, in little memory), so its first and last
///   steps (an empty cache, a full one: all a decoder's registration measures) prepare as
///   cheaply as any, and the steps between dearer and dearer;
/// - a term from `ballast` zeros, folded at every step, which makes every step's preparation
///   and run dearer alike: a run pays for the memory its preparation left, so the ballast
///   keeps the runs between the ends within a request's margin over the ends' fuel.
pub fn decoder_model_costly_midway(
	vocabulary: u32,
	heads: u32,
	head_size: u32,
	context_length: u32,
	scale: u32,
	ballast: u32,
) -> Vec<u8> {
	decoder_graph(vocabulary, heads, head_size, Some((context_length, scale, ballast)))
}

fn decoder_graph(vocabulary: u32, heads: u32, head_size: u32, costly: Option<(u32, u32, u32)>) -> Vec<u8> {
	let (v, width) = (vocabulary as usize, (heads * head_size) as usize);
	let logits: Vec<u8> = (0..v * v)
		.flat_map(|i| {
			let (row, column) = (i / v, i % v);
			let value = if column == (row + 1) % v { 1.0f32 } else { -(column as f32) / v as f32 };
			value.to_le_bytes()
		})
		.collect();
	let rows: Vec<u8> = (0..v * width).flat_map(|i| ((i % 7) as f32 * 0.25).to_le_bytes()).collect();
	let shape: Vec<u8> =
		[1i64, i64::from(heads), 1, i64::from(head_size)].iter().flat_map(|d| d.to_le_bytes()).collect();
	let (heads, head_size) = (u64::from(heads), u64::from(head_size));
	let cache = |name| {
		symbolic_value_info(name, FLOAT, &[Dim::Fixed(1), Dim::Fixed(heads), Dim::Named("past"), Dim::Fixed(head_size)])
	};
	let present = |name| {
		symbolic_value_info(
			name,
			FLOAT,
			&[Dim::Fixed(1), Dim::Fixed(heads), Dim::Named("total"), Dim::Fixed(head_size)],
		)
	};
	let mut graph = Vec::new();
	let gathered = if costly.is_some() { "raw_logits" } else { "logits" };
	field_bytes(&mut graph, 1, &node("Gather", &["logit_table", "input_ids"], gathered, None));
	if let Some((context_length, scale, ballast)) = costly {
		let int = |name: &str, value: i64| initializer(name, &[1], &value.to_le_bytes(), INT64);
		field_bytes(&mut graph, 5, &int("past_axis", 2));
		field_bytes(&mut graph, 5, &int("last_past", i64::from(context_length) - 1));
		field_bytes(&mut graph, 5, &int("scale", i64::from(scale)));
		field_bytes(&mut graph, 5, &int("one", 1));
		field_bytes(&mut graph, 5, &int("start", 0));
		field_bytes(&mut graph, 5, &int("ballast_len", i64::from(ballast)));
		for (op, inputs, output, attribute) in [
			("Shape", &["past_key_values.0.key"][..], "cache_shape", None),
			("Gather", &["cache_shape", "past_axis"], "past", None),
			("Sub", &["last_past", "past"], "rows_left", None),
			("Mul", &["past", "rows_left"], "midway", None),
			("Mul", &["midway", "scale"], "scaled", None),
			("Add", &["scaled", "one"], "zero_count", None),
			("ConstantOfShape", &["zero_count"], "zeros", None),
			("Cast", &["zeros"], "int_zeros", Some(("to", INT64 as i64))),
			("Add", &["int_zeros", "one"], "ones", None),
			("Expand", &["start", "ones"], "deep", None),
			("ReduceSum", &["deep"], "deep_sum", Some(("keepdims", 0))),
			("Mul", &["deep_sum", "start"], "deep_zero", None),
			("ConstantOfShape", &["ballast_len"], "ballast", None),
			("Shape", &["ballast"], "ballast_shape", None),
			("Mul", &["ballast_shape", "start"], "ballast_zero", None),
			("Add", &["deep_zero", "ballast_zero"], "zero", None),
			("Cast", &["zero"], "float_zero", Some(("to", FLOAT as i64))),
			("Add", &["raw_logits", "float_zero"], "logits", None),
		] {
			field_bytes(&mut graph, 1, &node(op, inputs, output, attribute));
		}
	}
	field_bytes(&mut graph, 1, &node("Gather", &["kv_table", "input_ids"], "kv_row", None));
	field_bytes(&mut graph, 1, &node("Reshape", &["kv_row", "kv_shape"], "kv_new", None));
	field_bytes(
		&mut graph,
		1,
		&node("Concat", &["past_key_values.0.key", "kv_new"], "present.0.key", Some(("axis", 2))),
	);
	field_bytes(
		&mut graph,
		1,
		&node("Concat", &["past_key_values.0.value", "kv_new"], "present.0.value", Some(("axis", 2))),
	);
	field_bytes(&mut graph, 2, b"decoder");
	field_bytes(&mut graph, 5, &initializer("logit_table", &[v as u64, v as u64], &logits, FLOAT));
	field_bytes(&mut graph, 5, &initializer("kv_table", &[v as u64, width as u64], &rows, FLOAT));
	field_bytes(&mut graph, 5, &initializer("kv_shape", &[4], &shape, INT64));
	field_bytes(&mut graph, 11, &value_info("input_ids", INT64, &[1, 1]));
	field_bytes(&mut graph, 11, &symbolic_value_info("attention_mask", INT64, &[Dim::Fixed(1), Dim::Named("total")]));
	field_bytes(&mut graph, 11, &value_info("position_ids", INT64, &[1, 1]));
	field_bytes(&mut graph, 11, &cache("past_key_values.0.key"));
	field_bytes(&mut graph, 11, &cache("past_key_values.0.value"));
	field_bytes(&mut graph, 12, &value_info("logits", FLOAT, &[1, 1, v as u64]));
	field_bytes(&mut graph, 12, &present("present.0.key"));
	field_bytes(&mut graph, 12, &present("present.0.value"));
	model_of(&graph, None)
}
