//! The list of operators in docs/model-authors.md is the guest's registry, not a hand-kept one.

mod common;

use common::new_engine;

const START: &str = "<!-- operators: generated from the engine guest's registry";
const END: &str = "<!-- end of operators -->";

#[test]
fn the_model_authors_guide_lists_the_operators_the_guest_implements() {
	let operators = new_engine().operators().unwrap();
	for expected in ["Conv", "TreeEnsembleRegressor", "SVMClassifier", "Scaler", "LRN"] {
		assert!(operators.iter().any(|o| o == expected), "{expected} is not in {operators:?}");
	}
	assert!(!operators.iter().any(|o| o == "RandomNormal"), "a random operator is listed");
	let listed = operators.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ");
	let guide = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/model-authors.md");
	let guide = std::fs::read_to_string(guide).unwrap();
	let section = guide
		.split_once(START)
		.and_then(|(_, rest)| rest.split_once(END))
		.map(|(section, _)| section.lines().skip(1).collect::<Vec<_>>().join("\n"))
		.unwrap_or_default();
	assert_eq!(
		section.trim(),
		listed,
		"docs/model-authors.md lists other operators than the guest's registry: put this line between its markers"
	);
}
