//! `Upsample` (opset 9, deprecated by `Resize` in opset 10; old PyTorch exports use it): the
//! same computation as `Resize` of opset 10, which tract implements, with the `nearest` mode's
//! source index `floor(i / scale)` as the ONNX reference takes it. The node is parsed as that
//! `Resize` node: tract's own op, its scales a constant of the model (an initializer, or an
//! input pinned with `veriml-node infer --pin`).

use tract_onnx::{model::ParsingContext, pb, pb::NodeProto, tract_hir::internal::*};

/// Builds tract's `Resize` (opset 10) for an ONNX `Upsample` node of opset 9 (scales as its
/// second input); opset 7's scales attribute is refused.
pub fn upsample(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	if ctx.onnx_operator_set_version < 9 || node.input.len() != 2 {
		bail!("Upsample is implemented as of opset 9 (its scales an input)")
	}
	let mode = node.get_attr_opt::<&str>("mode")?.unwrap_or("nearest");
	if mode != "nearest" && mode != "linear" {
		bail!("Upsample: mode {mode}")
	}
	let resize = ctx.framework.op_register.0.get("Resize").context("tract's Resize")?;
	let attribute = |name: &str, value: &str| pb::AttributeProto {
		name: name.into(),
		r#type: pb::attribute_proto::AttributeType::String as i32,
		s: value.as_bytes().to_vec(),
		..Default::default()
	};
	let node = NodeProto {
		op_type: "Resize".into(),
		attribute: vec![attribute("mode", mode), attribute("nearest_mode", "floor")],
		..node.clone()
	};
	let ctx = ParsingContext {
		onnx_operator_set_version: 10,
		framework: ctx.framework,
		model: ctx.model,
		parent_graphs: ctx.parent_graphs.clone(),
		model_dir: ctx.model_dir,
		template: ctx.template.clone(),
	};
	resize(&ctx, &node)
}
