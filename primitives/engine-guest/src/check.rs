//! What a model must satisfy before the engine types it: every operator deterministic and
//! implemented, from a known domain, with all its data inside the file.

use tract_onnx::{pb, Onnx};
use veriml_inference_primitives::EngineError;

/// Operators whose output is drawn at random: no two nodes would agree on them.
pub const NON_DETERMINISTIC_OPERATORS: &[&str] = &[
	"RandomNormal",
	"RandomNormalLike",
	"RandomUniform",
	"RandomUniformLike",
	"Multinomial",
	"Bernoulli",
];

/// Operator domains the engine implements: standard ONNX and ONNX-ML.
const DOMAINS: &[&str] = &["", "ai.onnx", "ai.onnx.ml"];

/// ONNX `TensorProto.DataLocation.EXTERNAL`.
const EXTERNAL: i32 = 1;

/// Most nodes a graph (with its subgraphs) may have.
pub const MAX_NODES: usize = 100_000;

/// Checks the whole model; answers its node count.
pub fn check_model(model: &pb::ModelProto, onnx: &Onnx) -> Result<u32, EngineError> {
	let graph = model.graph.as_ref().ok_or(EngineError::MalformedModel)?;
	if !model.functions.is_empty() {
		// Model-local functions would be expanded by name; tract does not implement them.
		return Err(EngineError::UnsupportedOperator)
	}
	let mut nodes = 0usize;
	check_graph(graph, onnx, &mut nodes, 0)?;
	Ok(nodes as u32)
}

fn check_graph(
	graph: &pb::GraphProto,
	onnx: &Onnx,
	nodes: &mut usize,
	depth: usize,
) -> Result<(), EngineError> {
	// Subgraphs nest through If/Loop/Scan; a hostile file could nest without end.
	if depth > 16 {
		return Err(EngineError::MalformedModel)
	}
	for tensor in &graph.initializer {
		check_tensor(tensor)?;
	}
	if !graph.sparse_initializer.is_empty() {
		return Err(EngineError::UnsupportedOperator)
	}
	for node in &graph.node {
		*nodes += 1;
		if *nodes > MAX_NODES {
			return Err(EngineError::ModelTooLarge)
		}
		check_node(node, onnx, nodes, depth)?;
	}
	Ok(())
}

fn check_node(
	node: &pb::NodeProto,
	onnx: &Onnx,
	nodes: &mut usize,
	depth: usize,
) -> Result<(), EngineError> {
	if NON_DETERMINISTIC_OPERATORS.contains(&node.op_type.as_str()) {
		return Err(EngineError::NonDeterministicOperator)
	}
	if !DOMAINS.contains(&node.domain.as_str()) || !onnx.op_register.0.contains_key(&node.op_type)
	{
		return Err(EngineError::UnsupportedOperator)
	}
	for attribute in &node.attribute {
		if let Some(tensor) = &attribute.t {
			check_tensor(tensor)?;
		}
		for tensor in &attribute.tensors {
			check_tensor(tensor)?;
		}
		if let Some(graph) = &attribute.g {
			check_graph(graph, onnx, nodes, depth + 1)?;
		}
		for graph in &attribute.graphs {
			check_graph(graph, onnx, nodes, depth + 1)?;
		}
	}
	Ok(())
}

fn check_tensor(tensor: &pb::TensorProto) -> Result<(), EngineError> {
	if tensor.data_location == Some(EXTERNAL) || !tensor.external_data.is_empty() {
		return Err(EngineError::ExternalData)
	}
	Ok(())
}
