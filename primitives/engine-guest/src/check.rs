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
	if !implemented(node, onnx) {
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

/// Whether the engine implements `node`'s operator: a known domain and a registered op.
fn implemented(node: &pb::NodeProto, onnx: &Onnx) -> bool {
	DOMAINS.contains(&node.domain.as_str()) && onnx.op_register.0.contains_key(&node.op_type)
}

/// What in `model` the engine does not implement, in words, for a person: the first operator
/// (with its domain and the opset version the model imports for it), a model-local function
/// or a sparse initializer. `None` if every operator is implemented. Never part of a verdict:
/// `veriml-node infer` prints it beside an `UnsupportedOperator` refusal.
pub fn describe_unsupported(model: &pb::ModelProto, onnx: &Onnx) -> Option<String> {
	if let Some(function) = model.functions.first() {
		let domain = function.domain.as_deref().unwrap_or("");
		let name = function.name.as_deref().unwrap_or("");
		return Some(format!("the model-local function {domain}.{name} (functions are not implemented)"))
	}
	let graph = model.graph.as_ref()?;
	describe_in_graph(model, graph, onnx, 0)
}

fn describe_in_graph(model: &pb::ModelProto, graph: &pb::GraphProto, onnx: &Onnx, depth: usize) -> Option<String> {
	if depth > 16 {
		return None
	}
	if !graph.sparse_initializer.is_empty() {
		return Some("a sparse initializer (sparse tensors are not implemented)".into())
	}
	for node in &graph.node {
		if !implemented(node, onnx) {
			let domain = if node.domain.is_empty() { "ai.onnx" } else { node.domain.as_str() };
			let version = model
				.opset_import
				.iter()
				.find(|opset| opset.domain == node.domain || (node.domain.is_empty() && opset.domain == "ai.onnx"))
				.map_or_else(|| "no opset imported".into(), |opset| format!("opset {}", opset.version));
			return Some(format!("the operator {domain}.{} ({version}) of node {:?}", node.op_type, node.name))
		}
		for attribute in &node.attribute {
			for graph in attribute.g.iter().chain(&attribute.graphs) {
				if let Some(found) = describe_in_graph(model, graph, onnx, depth + 1) {
					return Some(found)
				}
			}
		}
	}
	None
}

fn check_tensor(tensor: &pb::TensorProto) -> Result<(), EngineError> {
	if tensor.data_location == Some(EXTERNAL) || !tensor.external_data.is_empty() {
		return Err(EngineError::ExternalData)
	}
	Ok(())
}
