//! The result hash native tract gives for a model and an input: the guest's own code built
//! for the host, so plain tract with the matrix kernels it picks for this CPU at run time.
//! `scripts/determinism.sh` runs it on this CPU and under `qemu-x86_64 -cpu Nehalem` to show
//! whether native tract alone would have split honest nodes.
//!
//! `cargo run --manifest-path primitives/engine-guest/Cargo.toml --profile native-check --example native_result -- MODEL.onnx INPUT.json`
//!
//! Prints `{"result_hash": "0x…"}`, or `{"error": "…"}` when tract refuses the model or input.

use veriml_inference_primitives::{input_hash, json::parse_inputs, model_hash, result_hash, ENGINE_VERSION};

fn main() {
	let args: Vec<String> = std::env::args().collect();
	if args.len() != 3 {
		eprintln!("usage: native_result MODEL.onnx INPUT.json");
		std::process::exit(2);
	}
	let model = std::fs::read(&args[1]).unwrap_or_else(|e| fail(&format!("{}: {e}", args[1])));
	let inputs = std::fs::read_to_string(&args[2])
		.map_err(|e| format!("{}: {e}", args[2]))
		.and_then(|json| parse_inputs(&json))
		.unwrap_or_else(|e| fail(&e));
	let specs = inputs.iter().map(|t| t.spec()).collect::<Option<Vec<_>>>().unwrap_or_else(|| fail("rank above 8"));
	let outputs = veriml_engine_guest::load(&model, specs)
		.and_then(|(plan, _)| veriml_engine_guest::run(&plan, &inputs));
	match outputs {
		Ok(outputs) => {
			let hash = result_hash(ENGINE_VERSION, &model_hash(&model), &input_hash(&inputs), &outputs);
			println!("{{\"result_hash\": \"{hash:?}\"}}");
		},
		Err(error) => println!("{{\"error\": \"{error:?}\"}}"),
	}
}

fn fail(message: &str) -> ! {
	eprintln!("native_result: {message}");
	std::process::exit(1)
}
