//! Tiny ONNX models built in code (protobuf by hand), for tests and benchmarks that must not
//! depend on files: one unary operator over a `[1, width]` float tensor, and an embedding
//! (rows gathered from a table of weights of any size).

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
	let mut shape = Vec::new();
	for &dim in dims {
		let mut dimension = Vec::new();
		field_varint(&mut dimension, 1, dim);
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

/// A model computing `y = op_type(x)` for `x: f32[1, width]`, with `padding` bytes of doc
/// string (to reach a given file size without changing the work).
pub fn unary_model(op_type: &str, width: u32, padding: usize) -> Vec<u8> {
	let mut node = Vec::new();
	field_bytes(&mut node, 1, b"x");
	field_bytes(&mut node, 2, b"y");
	field_bytes(&mut node, 4, op_type.as_bytes());
	let mut graph = Vec::new();
	field_bytes(&mut graph, 1, &node);
	field_bytes(&mut graph, 2, b"unary");
	field_bytes(&mut graph, 11, &float_value_info("x", width));
	field_bytes(&mut graph, 12, &float_value_info("y", width));
	let mut opset = Vec::new();
	field_bytes(&mut opset, 1, b"");
	field_varint(&mut opset, 2, 13);
	let mut model = Vec::new();
	field_varint(&mut model, 1, 7); // ir_version
	field_bytes(&mut model, 6, &alloc::vec![b' '; padding]);
	field_bytes(&mut model, 7, &graph);
	field_bytes(&mut model, 8, &opset);
	model
}

/// The input spec of [`unary_model`].
pub fn unary_model_input(width: u32) -> crate::TensorSpec {
	crate::TensorSpec::new(crate::DType::F32, &[1, width]).expect("rank 2")
}

/// A model gathering `picked` rows of a `[rows, width]` f32 table held as an initializer (an
/// embedding's weights), `table` its little-endian bytes: `y = table[x]` for `x: i64[picked]`.
/// Its file is the table's size and a few hundred bytes.
pub fn embedding_model(rows: u32, width: u32, table: &[u8], picked: u32) -> Vec<u8> {
	let mut initializer = Vec::new();
	field_varint(&mut initializer, 1, rows as u64); // dims
	field_varint(&mut initializer, 1, width as u64);
	field_varint(&mut initializer, 2, FLOAT); // data_type
	field_bytes(&mut initializer, 8, b"table"); // name
	field_bytes(&mut initializer, 9, table); // raw_data
	let mut node = Vec::new();
	field_bytes(&mut node, 1, b"table");
	field_bytes(&mut node, 1, b"x");
	field_bytes(&mut node, 2, b"y");
	field_bytes(&mut node, 4, b"Gather");
	let mut graph = Vec::new();
	field_bytes(&mut graph, 1, &node);
	field_bytes(&mut graph, 2, b"embedding");
	field_bytes(&mut graph, 5, &initializer);
	field_bytes(&mut graph, 11, &value_info("x", INT64, &[picked as u64]));
	field_bytes(&mut graph, 12, &value_info("y", FLOAT, &[picked as u64, width as u64]));
	let mut opset = Vec::new();
	field_bytes(&mut opset, 1, b"");
	field_varint(&mut opset, 2, 13);
	let mut model = Vec::new();
	field_varint(&mut model, 1, 7); // ir_version
	field_bytes(&mut model, 7, &graph);
	field_bytes(&mut model, 8, &opset);
	model
}
