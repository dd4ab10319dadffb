//! `TreeEnsembleRegressor` and `TreeEnsembleClassifier` (ai.onnx.ml versions 1 and 3) and the
//! unified `TreeEnsemble` (version 5, the regressor of its unrolled trees) on flat arrays: what
//! scikit-learn's gradient boosting, random forests and extra trees, and XGBoost and LightGBM
//! through onnxmltools, export.
//!
//! The forest is checked when the model is loaded: every child and every leaf weight names a
//! node of its own tree, every target or class index is in range, and every tree is a tree (no
//! node reached twice from its root), so a run walks at most each tree's nodes once per row.
//! Rows are evaluated tree after tree in tree id order, each leaf's weights in the order the
//! model lists them, sums in f32 (in f64 where the model gives its weights as doubles, the
//! `_as_tensor` attributes), as onnxruntime does with one thread.

use std::collections::BTreeMap;

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{
	batch_of, floats_or_doubles, input_rows, input_values, transform_row, Expanded, PostTransform, Signature, Signed,
};

/// How a branch compares a feature with its threshold (`nodes_modes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
	Leq,
	Lt,
	Gte,
	Gt,
	Eq,
	Neq,
	/// The unified `TreeEnsemble`'s `BRANCH_MEMBER`: the value is one of a set.
	Member,
	Leaf,
}

impl Mode {
	fn parse(mode: &str) -> TractResult<Self> {
		Ok(match mode {
			"BRANCH_LEQ" => Self::Leq,
			"BRANCH_LT" => Self::Lt,
			"BRANCH_GTE" => Self::Gte,
			"BRANCH_GT" => Self::Gt,
			"BRANCH_EQ" => Self::Eq,
			"BRANCH_NEQ" => Self::Neq,
			"LEAF" => Self::Leaf,
			other => bail!("unknown node mode {other}"),
		})
	}

	/// A mode of the unified `TreeEnsemble` (`nodes_modes`).
	fn from_code(code: i64) -> TractResult<Self> {
		Ok(match code {
			0 => Self::Leq,
			1 => Self::Lt,
			2 => Self::Gte,
			3 => Self::Gt,
			4 => Self::Eq,
			5 => Self::Neq,
			6 => Self::Member,
			other => bail!("unknown node mode {other}"),
		})
	}
}

/// One node: a branch (feature, mode, threshold, children) or a leaf (its weights).
#[derive(Clone, Copy, Debug)]
struct Node {
	mode: Mode,
	feature: u32,
	nan_goes_true: bool,
	threshold: f64,
	true_child: u32,
	false_child: u32,
	first_weight: u32,
	weight_count: u32,
	/// A `Member` branch's set: `members[first_member..first_member + member_count]`.
	first_member: u32,
	member_count: u32,
}

impl Node {
	/// The child a row with `value` for this branch's feature goes to (`members`: the forest's
	/// sets of `Member` branches).
	fn child(&self, value: f64, members: &[f64]) -> u32 {
		let goes_true = if value.is_nan() {
			// NaN differs from every threshold: onnxruntime sends it true at BRANCH_NEQ.
			self.nan_goes_true || self.mode == Mode::Neq
		} else {
			match self.mode {
				Mode::Leq => value <= self.threshold,
				Mode::Lt => value < self.threshold,
				Mode::Gte => value >= self.threshold,
				Mode::Gt => value > self.threshold,
				Mode::Eq => value == self.threshold,
				Mode::Neq => value != self.threshold,
				Mode::Member => {
					let first = self.first_member as usize;
					members[first..first + self.member_count as usize].contains(&value)
				},
				Mode::Leaf => unreachable!("a leaf has no children"),
			}
		};
		if goes_true {
			self.true_child
		} else {
			self.false_child
		}
	}
}

/// How the weights of the leaves a row reaches are combined per target (`aggregate_function`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
	Sum,
	Average,
	Min,
	Max,
}

/// A target's score for one row, and whether any leaf voted for it.
#[derive(Clone, Copy, Debug, Default)]
struct Score {
	value: f64,
	voted: bool,
}

/// The trees of one ensemble, flattened: nodes of tree `t` follow its root `roots[t]`.
#[derive(Debug)]
pub struct Forest {
	nodes: Vec<Node>,
	roots: Vec<u32>,
	/// (target or class index, weight), each leaf's run contiguous.
	weights: Vec<(u32, f64)>,
	targets: usize,
	/// The sets of `Member` branches, each a run.
	members: Vec<f64>,
	/// The highest feature index a branch reads.
	max_feature: Option<usize>,
	/// Weights (and thresholds) given as doubles: sums run in f64.
	doubles: bool,
}

fn same_length<T>(node: &NodeProto, name: &str, values: &[T], expected: usize) -> TractResult<()> {
	node.expect_attr(name, values.len() == expected, || {
		format!("{expected} values, as many as nodes_treeids has, got {}", values.len())
	})
}

fn index(value: i64, what: &str) -> TractResult<u32> {
	u32::try_from(value).map_err(|_| format_err!("{what} {value} is out of range"))
}

/// A forest as versions 1 and 3 list it: nodes by (tree id, node id), each with its mode,
/// feature, threshold and children, and leaf weights naming their (tree id, node id).
#[derive(Debug, Default)]
struct Listing {
	tree_ids: Vec<i64>,
	node_ids: Vec<i64>,
	features: Vec<i64>,
	true_ids: Vec<i64>,
	false_ids: Vec<i64>,
	modes: Vec<Mode>,
	thresholds: Vec<f64>,
	missing_goes_true: Vec<bool>,
	/// Each node's set as (first, count) in `members` (`Member` branches; (0, 0) otherwise).
	sets: Vec<(u32, u32)>,
	members: Vec<f64>,
	leaf_trees: Vec<i64>,
	leaf_nodes: Vec<i64>,
	leaf_targets: Vec<i64>,
	leaf_weights: Vec<f64>,
	/// Thresholds or weights given as doubles: sums run in f64.
	doubles: bool,
}

impl Forest {
	/// Reads the nodes and the leaf weights named `{leaf}_treeids`, `{leaf}_nodeids`,
	/// `{leaf}_ids`, `{leaf}_weights` (`leaf` is "target" or "class").
	fn parse(ctx: &ParsingContext, node: &NodeProto, leaf: &str, targets: usize) -> TractResult<Self> {
		let tree_ids = node.get_attr_slice::<i64>("nodes_treeids")?;
		let n = tree_ids.len();
		node.expect_attr("nodes_treeids", n > 0, "at least one node")?;
		let node_ids = node.get_attr_slice::<i64>("nodes_nodeids")?;
		let features = node.get_attr_slice::<i64>("nodes_featureids")?;
		let true_ids = node.get_attr_slice::<i64>("nodes_truenodeids")?;
		let false_ids = node.get_attr_slice::<i64>("nodes_falsenodeids")?;
		let modes = node.get_attr_tvec::<&str>("nodes_modes")?;
		let (thresholds, threshold_doubles) = floats_or_doubles(ctx, node, "nodes_values")?
			.ok_or_else(|| format_err!("nodes_values (or nodes_values_as_tensor) is missing"))?;
		let missing = node.get_attr_opt_slice::<i64>("nodes_missing_value_tracks_true")?;
		same_length(node, "nodes_nodeids", node_ids, n)?;
		same_length(node, "nodes_featureids", features, n)?;
		same_length(node, "nodes_truenodeids", true_ids, n)?;
		same_length(node, "nodes_falsenodeids", false_ids, n)?;
		same_length(node, "nodes_modes", &modes, n)?;
		same_length(node, "nodes_values", &thresholds, n)?;
		if let Some(missing) = missing {
			same_length(node, "nodes_missing_value_tracks_true", missing, n)?;
		}

		let leaf_trees = node.get_attr_slice::<i64>(&format!("{leaf}_treeids"))?;
		let m = leaf_trees.len();
		let leaf_nodes = node.get_attr_slice::<i64>(&format!("{leaf}_nodeids"))?;
		let leaf_targets = node.get_attr_slice::<i64>(&format!("{leaf}_ids"))?;
		let (leaf_weights, weight_doubles) = floats_or_doubles(ctx, node, &format!("{leaf}_weights"))?
			.ok_or_else(|| format_err!("{leaf}_weights (or {leaf}_weights_as_tensor) is missing"))?;
		for (name, len) in [("nodeids", leaf_nodes.len()), ("ids", leaf_targets.len()), ("weights", leaf_weights.len())]
		{
			node.expect_attr(&format!("{leaf}_{name}"), len == m, || {
				format!("{m} values, as many as {leaf}_treeids has, got {len}")
			})?;
		}
		let listing = Listing {
			tree_ids: tree_ids.to_vec(),
			node_ids: node_ids.to_vec(),
			features: features.to_vec(),
			true_ids: true_ids.to_vec(),
			false_ids: false_ids.to_vec(),
			modes: modes.iter().map(|mode| Mode::parse(mode)).collect::<TractResult<_>>()?,
			thresholds,
			missing_goes_true: (0..n).map(|i| missing.is_some_and(|m| m[i] != 0)).collect(),
			sets: vec![(0, 0); n],
			members: vec![],
			leaf_trees: leaf_trees.to_vec(),
			leaf_nodes: leaf_nodes.to_vec(),
			leaf_targets: leaf_targets.to_vec(),
			leaf_weights,
			doubles: threshold_doubles || weight_doubles,
		};
		Self::build(&listing, leaf, targets)
	}

	/// Builds the forest of a [`Listing`], checked (see the module's docs).
	fn build(listing: &Listing, leaf: &str, targets: usize) -> TractResult<Self> {
		let Listing { tree_ids, node_ids, features, true_ids, false_ids, modes, thresholds, .. } = listing;
		let n = tree_ids.len();
		// Nodes in (tree id, node id) order; a tree's root is its first node.
		let mut order: Vec<usize> = (0..n).collect();
		order.sort_by_key(|&i| (tree_ids[i], node_ids[i]));
		let mut position = BTreeMap::new();
		for (flat, &i) in order.iter().enumerate() {
			if position.insert((tree_ids[i], node_ids[i]), flat as u32).is_some() {
				bail!("tree {} has node {} twice", tree_ids[i], node_ids[i])
			}
		}
		let find = |tree: i64, id: i64| {
			position.get(&(tree, id)).copied().ok_or_else(|| format_err!("tree {tree} has no node {id}"))
		};

		let mut nodes = Vec::with_capacity(n);
		let mut roots = Vec::new();
		let mut max_feature = None;
		for (flat, &i) in order.iter().enumerate() {
			if flat == 0 || tree_ids[order[flat - 1]] != tree_ids[i] {
				roots.push(flat as u32);
			}
			let mode = modes[i];
			let (true_child, false_child, feature) = if mode == Mode::Leaf {
				(0, 0, 0)
			} else {
				let feature = index(features[i], "feature id")?;
				max_feature = max_feature.max(Some(feature as usize));
				(find(tree_ids[i], true_ids[i])?, find(tree_ids[i], false_ids[i])?, feature)
			};
			nodes.push(Node {
				mode,
				feature,
				nan_goes_true: listing.missing_goes_true[i],
				threshold: thresholds[i],
				true_child,
				false_child,
				first_weight: 0,
				weight_count: 0,
				first_member: listing.sets[i].0,
				member_count: listing.sets[i].1,
			});
		}

		// Each leaf's weights, in the order the model lists them.
		let m = listing.leaf_trees.len();
		let mut weights_of = Vec::with_capacity(m);
		for j in 0..m {
			let (tree, id) = (listing.leaf_trees[j], listing.leaf_nodes[j]);
			let flat = find(tree, id)?;
			if nodes[flat as usize].mode != Mode::Leaf {
				bail!("a weight names node {id} of tree {tree}, which is not a leaf")
			}
			let target = index(listing.leaf_targets[j], &format!("{leaf} id"))?;
			if target as usize >= targets {
				bail!("{leaf} id {target} is out of range: there are {targets}")
			}
			weights_of.push((flat, target, listing.leaf_weights[j]));
		}
		weights_of.sort_by_key(|(flat, _, _)| *flat);
		let mut weights = Vec::with_capacity(m);
		for (flat, target, weight) in weights_of {
			let leaf = &mut nodes[flat as usize];
			if leaf.weight_count == 0 {
				leaf.first_weight = weights.len() as u32;
			}
			leaf.weight_count += 1;
			weights.push((target, weight));
		}

		let members = listing.members.clone();
		let forest = Self { nodes, roots, weights, targets, members, max_feature, doubles: listing.doubles };
		forest.check_trees()?;
		Ok(forest)
	}

	/// Reads a unified `TreeEnsemble` (ai.onnx.ml 5) of f32 splits and weights into a
	/// [`Listing`]: each tree from its root (a leaf if the root's two children are the same id,
	/// as onnxruntime decides), node ids in the order they are reached. A `BRANCH_MEMBER` node
	/// keeps its set (the sets follow each other in `membership_values`, each ended by a NaN):
	/// onnxruntime unrolls it into a chain of `BRANCH_EQ` nodes, one per member, each leading to
	/// a copy of the true subtree, which decides the same. A node or leaf reached twice (trees
	/// sharing a subtree, or a cycle) is refused, so the forest is no larger than the lists.
	fn unified(ctx: &ParsingContext, node: &NodeProto, targets: usize) -> TractResult<Self> {
		let tensor = |name: &str| -> TractResult<Option<Tensor>> {
			node.get_attr_opt::<&tract_onnx::pb::TensorProto>(name)?.map(|proto| ctx.load_tensor(proto)).transpose()
		};
		let floats = |name: &str| -> TractResult<Option<Vec<f64>>> {
			let Some(values) = tensor(name)? else { return Ok(None) };
			if values.datum_type() != f32::datum_type() {
				bail!("{name} of {:?}: TreeEnsemble is implemented for f32", values.datum_type())
			}
			Ok(Some(values.try_as_plain_ram()?.as_slice::<f32>()?.iter().map(|v| f64::from(*v)).collect()))
		};
		let splits = floats("nodes_splits")?.context("nodes_splits is missing")?;
		let leaf_weights = floats("leaf_weights")?.context("leaf_weights is missing")?;
		let members = floats("membership_values")?.unwrap_or_default();
		let modes = tensor("nodes_modes")?.context("nodes_modes is missing")?.cast_to::<i64>()?.into_owned();
		let modes = modes
			.try_as_plain_ram()?
			.as_slice::<i64>()?
			.iter()
			.map(|m| Mode::from_code(*m))
			.collect::<TractResult<Vec<_>>>()?;
		let features = node.get_attr_slice::<i64>("nodes_featureids")?;
		let true_ids = node.get_attr_slice::<i64>("nodes_truenodeids")?;
		let false_ids = node.get_attr_slice::<i64>("nodes_falsenodeids")?;
		let true_leafs = node.get_attr_slice::<i64>("nodes_trueleafs")?;
		let false_leafs = node.get_attr_slice::<i64>("nodes_falseleafs")?;
		let missing = node.get_attr_opt_slice::<i64>("nodes_missing_value_tracks_true")?.unwrap_or(&[]);
		let leaf_targets = node.get_attr_slice::<i64>("leaf_targetids")?;
		let roots = node.get_attr_slice::<i64>("tree_roots")?;
		let n = splits.len();
		for (name, len) in [
			("nodes_modes", modes.len()),
			("nodes_featureids", features.len()),
			("nodes_truenodeids", true_ids.len()),
			("nodes_falsenodeids", false_ids.len()),
			("nodes_trueleafs", true_leafs.len()),
			("nodes_falseleafs", false_leafs.len()),
		] {
			node.expect_attr(name, len == n, || format!("{n} values, as many as nodes_splits has, got {len}"))?;
		}
		node.expect_attr("nodes_missing_value_tracks_true", missing.is_empty() || missing.len() == n, || {
			format!("none or {n} values, got {}", missing.len())
		})?;
		node.expect_attr("leaf_targetids", leaf_targets.len() == leaf_weights.len(), "one per leaf weight")?;
		node.expect_attr("tree_roots", !roots.is_empty(), "at least one tree")?;

		// Each BRANCH_MEMBER node's set: (first, count) in `members`.
		let mut sets = Vec::with_capacity(n);
		let mut cursor = 0;
		for (i, mode) in modes.iter().enumerate() {
			if *mode != Mode::Member {
				sets.push((0, 0));
				continue;
			}
			let start = cursor;
			while cursor < members.len() && !members[cursor].is_nan() {
				cursor += 1;
			}
			if cursor == start {
				bail!("set membership node {i} has no members")
			}
			sets.push((start as u32, (cursor - start) as u32));
			// Past the NaN that ends this set.
			cursor += 1;
		}

		#[derive(Clone, Copy)]
		enum Next {
			Branch(usize),
			Leaf(usize),
		}
		let next = |index: i64, leaf: bool| -> TractResult<Next> {
			let count = if leaf { leaf_weights.len() } else { n };
			let index = usize::try_from(index).ok().filter(|i| *i < count).context("a child id is out of range")?;
			Ok(if leaf { Next::Leaf(index) } else { Next::Branch(index) })
		};
		let mut listing = Listing { members, ..Listing::default() };
		let (mut branch_seen, mut leaf_seen) = (vec![false; n], vec![false; leaf_weights.len()]);
		let mut last_member: Option<usize> = None;
		for (tree, &root) in roots.iter().enumerate() {
			let root_index = usize::try_from(root).ok().filter(|r| *r < n).context("a tree root is out of range")?;
			// onnxruntime reads a root whose children are one id as a leaf, the ONNX reference
			// only if both are leaves as well: a model where that differs is refused.
			let root_is_leaf = false_ids[root_index] == true_ids[root_index];
			if root_is_leaf && (true_leafs[root_index] == 0 || false_leafs[root_index] == 0) {
				bail!("tree {tree}'s root has one child id for both branches, not both leaves")
			}
			let mut stack = vec![(next(root, root_is_leaf)?, 0i64)];
			let mut next_id = 1i64;
			while let Some((at, id)) = stack.pop() {
				listing.tree_ids.push(tree as i64);
				listing.node_ids.push(id);
				let (mode, feature, threshold, (true_id, false_id), missing_goes_true, set) = match at {
					Next::Leaf(j) => {
						if std::mem::replace(&mut leaf_seen[j], true) {
							bail!("leaf {j} is reached twice: the trees are not trees")
						}
						listing.leaf_trees.push(tree as i64);
						listing.leaf_nodes.push(id);
						listing.leaf_targets.push(leaf_targets[j]);
						listing.leaf_weights.push(leaf_weights[j]);
						(Mode::Leaf, 0, 0.0, (0, 0), false, (0, 0))
					},
					Next::Branch(i) => {
						if std::mem::replace(&mut branch_seen[i], true) {
							bail!("node {i} is reached twice: the trees are not trees")
						}
						// onnxruntime gives the sets out in node order, the ONNX reference in the
						// order the trees reach them: a model where they differ is refused.
						if modes[i] == Mode::Member {
							if last_member.is_some_and(|last| last > i) {
								bail!("set membership node {i} comes before one the trees reach earlier")
							}
							last_member = Some(i);
						}
						let children = (next_id, next_id + 1);
						next_id += 2;
						stack.push((next(false_ids[i], false_leafs[i] != 0)?, children.1));
						stack.push((next(true_ids[i], true_leafs[i] != 0)?, children.0));
						(modes[i], features[i], splits[i], children, missing.get(i).is_some_and(|m| *m != 0), sets[i])
					},
				};
				listing.modes.push(mode);
				listing.features.push(feature);
				listing.thresholds.push(threshold);
				listing.true_ids.push(true_id);
				listing.false_ids.push(false_id);
				listing.missing_goes_true.push(missing_goes_true);
				listing.sets.push(set);
			}
		}
		Self::build(&listing, "target", targets)
	}

	/// Every tree is a tree: no node is reached twice from its root (a cycle would never end).
	fn check_trees(&self) -> TractResult<()> {
		let mut reached = vec![false; self.nodes.len()];
		let mut stack = Vec::new();
		for &root in &self.roots {
			stack.push(root);
			while let Some(at) = stack.pop() {
				if std::mem::replace(&mut reached[at as usize], true) {
					bail!("node {at} of the forest is reached twice: its trees are not trees")
				}
				let node = &self.nodes[at as usize];
				if node.mode != Mode::Leaf {
					stack.push(node.true_child);
					stack.push(node.false_child);
				}
			}
		}
		Ok(())
	}

	fn check_features(&self, features: usize) -> TractResult<()> {
		match self.max_feature {
			Some(max) if max >= features => {
				bail!("the trees read feature {max}, the input has {features} features")
			},
			_ => Ok(()),
		}
	}

	/// Rounds to the width the sums run in.
	fn round(&self, value: f64) -> f64 {
		if self.doubles {
			value
		} else {
			f64::from(value as f32)
		}
	}

	/// Each target's score for one row (`features`), aggregated over every tree's leaf.
	fn scores(&self, features: &[f64], aggregate: Aggregate, scores: &mut [Score]) {
		scores.fill(Score::default());
		for &root in &self.roots {
			let mut at = root;
			let leaf = loop {
				let node = &self.nodes[at as usize];
				if node.mode == Mode::Leaf {
					break node;
				}
				at = node.child(features[node.feature as usize], &self.members);
			};
			let first = leaf.first_weight as usize;
			for &(target, weight) in &self.weights[first..first + leaf.weight_count as usize] {
				let score = &mut scores[target as usize];
				score.value = match aggregate {
					Aggregate::Sum | Aggregate::Average => self.round(score.value + weight),
					Aggregate::Min if score.voted => {
						if weight < score.value {
							weight
						} else {
							score.value
						}
					},
					Aggregate::Max if score.voted => {
						if weight > score.value {
							weight
						} else {
							score.value
						}
					},
					Aggregate::Min | Aggregate::Max => weight,
				};
				score.voted = true;
			}
		}
	}
}

/// The input's rows (its values as the thresholds compare them) and the output's row count.
fn rows(forest: &Forest, input: &Tensor) -> TractResult<(Vec<f64>, usize, usize)> {
	let (rows, features) = input_rows(input)?;
	forest.check_features(features)?;
	Ok((input_values(input, forest.doubles)?, rows, features))
}

fn check_features_of(forest: &Forest, input: &TypedFact) -> TractResult<()> {
	if let Some(features) = input.shape.last().and_then(|d| d.to_usize().ok()) {
		forest.check_features(features)?;
	}
	Ok(())
}

fn parse_aggregate(node: &NodeProto) -> TractResult<Aggregate> {
	Ok(match node.get_attr_opt::<&str>("aggregate_function")?.unwrap_or("SUM") {
		"SUM" => Aggregate::Sum,
		"AVERAGE" => Aggregate::Average,
		"MIN" => Aggregate::Min,
		"MAX" => Aggregate::Max,
		other => bail!("unknown aggregate_function {other}"),
	})
}

/// `TreeEnsembleRegressor`: [N, F] (or [F]) → [N, n_targets] f32.
#[derive(Debug, Clone)]
pub struct TreeEnsembleRegressor {
	forest: Arc<Forest>,
	aggregate: Aggregate,
	base_values: Vec<f64>,
	post_transform: PostTransform,
}

/// Builds the op for an ONNX `TreeEnsembleRegressor` node.
pub fn regressor(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
	node.expect_attr("n_targets", targets >= 1, "at least one target")?;
	let targets = index(targets, "n_targets")? as usize;
	let forest = Forest::parse(ctx, node, "target", targets)?;
	let base_values = floats_or_doubles(ctx, node, "base_values")?.map(|(v, _)| v).unwrap_or_default();
	node.expect_attr("base_values", base_values.is_empty() || base_values.len() == targets, || {
		format!("none or one per target ({targets}), got {}", base_values.len())
	})?;
	let op = TreeEnsembleRegressor {
		forest: Arc::new(forest),
		aggregate: parse_aggregate(node)?,
		base_values,
		post_transform: PostTransform::parse(node)?,
	};
	Ok((expand(Expanded(op)), vec![]))
}

/// Builds the op for an ONNX `TreeEnsemble` node (ai.onnx.ml 5, f32): the regressor of its
/// trees, unrolled as onnxruntime does (see [`Forest::unified`]).
pub fn unified(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let targets: i64 = node.get_attr("n_targets")?;
	node.expect_attr("n_targets", targets >= 1, "at least one target")?;
	let targets = index(targets, "n_targets")? as usize;
	let forest = Forest::unified(ctx, node, targets)?;
	let aggregate = match node.get_attr_opt::<i64>("aggregate_function")?.unwrap_or(1) {
		0 => Aggregate::Average,
		1 => Aggregate::Sum,
		2 => Aggregate::Min,
		3 => Aggregate::Max,
		other => bail!("unknown aggregate_function {other}"),
	};
	let post_transform = match node.get_attr_opt::<i64>("post_transform")?.unwrap_or(0) {
		0 => PostTransform::None,
		1 => PostTransform::Softmax,
		2 => PostTransform::Logistic,
		3 => PostTransform::SoftmaxZero,
		4 => PostTransform::Probit,
		other => bail!("unknown post_transform {other}"),
	};
	let op = TreeEnsembleRegressor { forest: Arc::new(forest), aggregate, base_values: vec![], post_transform };
	Ok((expand(Expanded(op)), vec![]))
}

impl Signed for TreeEnsembleRegressor {
	fn signature(&self) -> Signature {
		Signature::Scores { columns: self.forest.targets }
	}
}

impl TreeEnsembleRegressor {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let forest = &*self.forest;
		let (values, rows, features) = rows(forest, input)?;
		let targets = forest.targets;
		let trees = forest.roots.len() as f64;
		let mut scores = vec![Score::default(); targets];
		let mut output = Vec::with_capacity(rows * targets);
		let mut row_out = vec![0f32; targets];
		for row in 0..rows {
			forest.scores(&values[row * features..(row + 1) * features], self.aggregate, &mut scores);
			for (k, score) in scores.iter().enumerate() {
				// A target no leaf voted for scores 0, whatever the aggregate.
				let mut value = score.value;
				if self.aggregate == Aggregate::Average {
					value = forest.round(value / trees);
				}
				if let Some(base) = self.base_values.get(k) {
					value = forest.round(value + base);
				}
				row_out[k] = value as f32;
			}
			if targets == 1 {
				// onnxruntime's one-target path applies PROBIT only.
				if self.post_transform == PostTransform::Probit {
					row_out[0] = super::probit(row_out[0]);
				}
			} else {
				transform_row(self.post_transform, &mut row_out);
			}
			output.extend_from_slice(&row_out);
		}
		Tensor::from_shape(&[rows, targets], &output)
	}
}

impl PartialEq for TreeEnsembleRegressor {
	fn eq(&self, other: &Self) -> bool {
		Arc::ptr_eq(&self.forest, &other.forest)
	}
}
impl Eq for TreeEnsembleRegressor {}

one_input_op!(TreeEnsembleRegressor, "TreeEnsembleRegressor");

impl TypedOp for TreeEnsembleRegressor {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		check_features_of(&self.forest, inputs[0])?;
		Ok(tvec!(f32::fact(&[batch_of(inputs[0])?, self.forest.targets.to_dim()])))
	}
}

/// `TreeEnsembleClassifier`: [N, F] (or [F]) → labels [N] i64 and scores [N, classes] f32.
#[derive(Debug, Clone)]
pub struct TreeEnsembleClassifier {
	forest: Arc<Forest>,
	labels: Vec<i64>,
	base_values: Vec<f64>,
	post_transform: PostTransform,
	/// Two classes, and the leaves vote for one of them only.
	binary: bool,
	/// No leaf weight is negative.
	weights_positive: bool,
}

/// Builds the op for an ONNX `TreeEnsembleClassifier` node (integer class labels).
pub fn classifier(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	if node.get_attr_opt_tvec::<&str>("classlabels_strings")?.is_some() {
		bail!("string class labels: the engine's outputs are numbers (relabel the classes as integers)")
	}
	let labels = node.get_attr_slice::<i64>("classlabels_int64s")?.to_vec();
	node.expect_attr("classlabels_int64s", labels.len() >= 2, "two classes or more")?;
	let forest = Forest::parse(ctx, node, "class", labels.len())?;
	let base_values = floats_or_doubles(ctx, node, "base_values")?.map(|(v, _)| v).unwrap_or_default();
	node.expect_attr("base_values", base_values.len() <= labels.len(), || {
		format!("at most one per class ({}), got {}", labels.len(), base_values.len())
	})?;
	let mut voted_classes: Vec<u32> = forest.weights.iter().map(|(class, _)| *class).collect();
	voted_classes.sort_unstable();
	voted_classes.dedup();
	let op = TreeEnsembleClassifier {
		binary: labels.len() == 2 && voted_classes.len() == 1,
		weights_positive: forest.weights.iter().all(|(_, w)| *w >= 0.0),
		forest: Arc::new(forest),
		labels,
		base_values,
		post_transform: PostTransform::parse(node)?,
	};
	Ok((expand(Expanded(op)), vec![]))
}

impl Signed for TreeEnsembleClassifier {
	fn signature(&self) -> Signature {
		Signature::LabelsAndScores { columns: self.labels.len() }
	}
}

impl TreeEnsembleClassifier {
	/// One row's label and scores (`out`, one per class) from its class scores, as
	/// onnxruntime's `TreeAggregatorClassifier::FinalizeScores` decides them.
	fn finalize(&self, scores: &mut Vec<Score>, out: &mut [f32]) -> i64 {
		let forest = &*self.forest;
		out.fill(0.0);
		if self.labels.len() > 2 {
			for (score, base) in scores.iter_mut().zip(&self.base_values) {
				score.value = if score.voted { forest.round(score.value + base) } else { *base };
				score.voted = true;
			}
			let mut best: Option<(usize, f64)> = None;
			for (class, score) in scores.iter().enumerate() {
				if score.voted && best.is_none_or(|(_, value)| score.value > value) {
					best = Some((class, score.value));
				}
			}
			for (o, score) in out.iter_mut().zip(scores.iter()) {
				*o = score.value as f32;
			}
			transform_row(self.post_transform, out);
			// No class voted and no base values: onnxruntime leaves this open; the first label.
			return self.labels[best.map_or(0, |(class, _)| class)];
		}
		// Two classes.
		let mut second_class = None;
		match self.base_values.len() {
			2 if scores[1].voted => {
				scores[1].value = forest.round(self.base_values[1] + scores[0].value);
				scores[0].value = -scores[1].value;
			},
			2 => {
				scores[1].value = forest.round(scores[1].value + self.base_values[1]);
				scores[0].value = forest.round(scores[0].value + self.base_values[0]);
			},
			1 => {
				scores[0].value = forest.round(scores[0].value + self.base_values[0]);
				if !scores[1].voted {
					scores.pop();
				}
			},
			_ => {
				second_class = Some(3);
				if !scores[1].voted {
					scores.pop();
				}
			},
		}
		let positive = match scores.get(1) {
			Some(second) if second.voted => second.value,
			_ if scores[0].voted => scores[0].value,
			_ => 0.0,
		};
		let label = if self.binary {
			let (wins, kind) = if self.weights_positive { (positive > 0.5, 0) } else { (positive > 0.0, 2) };
			second_class = Some(kind + u8::from(!wins));
			self.labels[usize::from(wins)]
		} else {
			// onnxruntime answers 1 or 0 here, whatever the class labels.
			i64::from(positive > 0.0)
		};
		if scores.len() == 2 {
			out[0] = scores[0].value as f32;
			out[1] = scores[1].value as f32;
			transform_row(self.post_transform, out);
		} else {
			let score = scores[0].value as f32;
			match (self.post_transform, second_class) {
				(PostTransform::Probit, _) => out[0] = super::probit(score),
				(_, Some(0 | 1)) => (out[0], out[1]) = (1.0 - score, score),
				(PostTransform::Logistic, Some(2 | 3)) => {
					(out[0], out[1]) = (super::logistic(-score), super::logistic(score))
				},
				(_, Some(2 | 3)) => (out[0], out[1]) = (-score, score),
				_ => out[0] = score,
			}
		}
		label
	}

	fn eval_one(&self, input: &Tensor) -> TractResult<(Tensor, Tensor)> {
		let forest = &*self.forest;
		let (values, rows, features) = rows(forest, input)?;
		let classes = self.labels.len();
		let mut scores = Vec::with_capacity(classes);
		let mut labels = Vec::with_capacity(rows);
		let mut output = vec![0f32; rows * classes];
		for (row, out) in output.chunks_exact_mut(classes).enumerate() {
			// `finalize` may drop the second class's score; `scores` sets every one again.
			scores.resize(classes, Score::default());
			forest.scores(&values[row * features..(row + 1) * features], Aggregate::Sum, &mut scores);
			labels.push(self.finalize(&mut scores, out));
		}
		Ok((Tensor::from_shape(&[rows], &labels)?, Tensor::from_shape(&[rows, classes], &output)?))
	}
}

impl PartialEq for TreeEnsembleClassifier {
	fn eq(&self, other: &Self) -> bool {
		Arc::ptr_eq(&self.forest, &other.forest)
	}
}
impl Eq for TreeEnsembleClassifier {}

one_input_op!(TreeEnsembleClassifier, "TreeEnsembleClassifier");

impl TypedOp for TreeEnsembleClassifier {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		check_features_of(&self.forest, inputs[0])?;
		let batch = batch_of(inputs[0])?;
		Ok(tvec!(i64::fact(&[batch.clone()]), f32::fact(&[batch, self.labels.len().to_dim()])))
	}
}
