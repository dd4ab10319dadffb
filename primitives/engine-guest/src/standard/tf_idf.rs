//! `TfIdfVectorizer` (opset 9) on integer tokens: for each row of token ids ([C] or [B, C]), how
//! often each n-gram of the model's pool occurs, as counts (`TF`), weights where it occurs
//! (`IDF`) or weighted counts (`TFIDF`), in the columns `ngram_indexes` gives; n-grams of
//! `min_gram_length` to `max_gram_length` tokens, with up to `max_skip_count` tokens skipped
//! between them (unigrams counted once). As onnxruntime counts them: for each skip distance,
//! from each start, the tokens at that distance, one n-gram size after another. Strings (a
//! `pool_strings` vocabulary) are no dtype of the engine's interface and are refused.

use std::collections::BTreeMap;

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use crate::expansion::{Expanded, Rules};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Weighting {
	Tf,
	Idf,
	TfIdf,
}

/// `TfIdfVectorizer` with its pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TfIdf {
	weighting: Weighting,
	min_gram: usize,
	max_gram: usize,
	max_skip: usize,
	/// onnxruntime's trie as one map: every n-gram of the pool of an allowed length with its
	/// output column, and every shorter start of one (no column).
	trie: BTreeMap<Vec<i64>, Option<usize>>,
	/// Each column's weight, as bits (`weights`; none: 1).
	weights: Vec<u32>,
	output_size: usize,
}

/// Builds the op for an ONNX `TfIdfVectorizer` node.
pub fn tf_idf(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	if node.get_attr_opt_tvec::<&str>("pool_strings")?.is_some() {
		bail!("a vocabulary of strings: the engine's inputs are numbers (map the tokens to integers)")
	}
	let weighting = match node.get_attr::<&str>("mode")? {
		"TF" => Weighting::Tf,
		"IDF" => Weighting::Idf,
		"TFIDF" => Weighting::TfIdf,
		other => bail!("unknown mode {other}"),
	};
	let count = |name: &str| -> TractResult<usize> {
		usize::try_from(node.get_attr::<i64>(name)?).with_context(|| format!("{name} must not be negative"))
	};
	let (min_gram, max_gram, max_skip) =
		(count("min_gram_length")?, count("max_gram_length")?, count("max_skip_count")?);
	if min_gram == 0 || min_gram > max_gram {
		bail!("gram lengths {min_gram}..={max_gram} are not a range of positive lengths")
	}
	let pool = node.get_attr_slice::<i64>("pool_int64s")?;
	let starts = node.get_attr_slice::<i64>("ngram_counts")?;
	let indexes = node.get_attr_slice::<i64>("ngram_indexes")?;
	let mut trie = BTreeMap::new();
	let mut k = 0usize;
	for (i, start) in starts.iter().enumerate() {
		let size = i + 1;
		let start =
			usize::try_from(*start).ok().filter(|s| *s <= pool.len()).context("ngram_counts is out of range")?;
		let end = match starts.get(i + 1) {
			Some(end) => usize::try_from(*end).ok().filter(|e| *e >= start && *e <= pool.len()),
			None => Some(pool.len()),
		}
		.context("ngram_counts is not ascending")?;
		for gram in pool[start..end].chunks_exact(size) {
			if (min_gram..=max_gram).contains(&size) {
				let index = indexes.get(k).context("ngram_indexes has fewer entries than the pool has n-grams")?;
				let column = usize::try_from(*index).context("ngram_indexes must not be negative")?;
				for end in 1..size {
					trie.entry(gram[..end].to_vec()).or_insert(None);
				}
				trie.insert(gram.to_vec(), Some(column));
			}
			k += 1;
		}
	}
	let output_size = indexes
		.iter()
		.map(|i| usize::try_from(*i).ok().and_then(|i| i.checked_add(1)))
		.try_fold(0usize, |max, i| i.map(|i| max.max(i)))
		.context("ngram_indexes must not be negative")?;
	let weights = node.get_attr_opt_vec::<f32>("weights")?.unwrap_or_default();
	if !weights.is_empty() && weights.len() < output_size {
		bail!("{} weights for {output_size} columns", weights.len())
	}
	let op = TfIdf {
		weighting,
		min_gram,
		// No n-gram of the pool is longer than `ngram_counts` has sizes.
		max_gram: max_gram.min(starts.len()),
		max_skip,
		trie,
		weights: weights.into_iter().map(f32::to_bits).collect(),
		output_size,
	};
	Ok((expand(Expanded(op)), vec![]))
}

impl TfIdf {
	fn output_shape(&self, input: &[TDim]) -> TractResult<TVec<TDim>> {
		Ok(match input.len() {
			0 | 1 => tvec![self.output_size.to_dim()],
			2 => tvec![input[0].clone(), self.output_size.to_dim()],
			rank => bail!("TfIdfVectorizer takes [C] or [B, C], got rank {rank}"),
		})
	}

	/// Adds each pool n-gram's occurrences in `row` to `counts`.
	fn count(&self, row: &[i64], counts: &mut [u64]) {
		if row.is_empty() {
			return;
		}
		let mut gram = Vec::with_capacity(self.max_gram.min(row.len()));
		let mut smallest = self.min_gram;
		for distance in 1..=self.max_skip.saturating_add(1) {
			// No n-gram of `smallest` tokens fits at this distance, nor at any larger one.
			if distance.checked_mul(smallest - 1).is_none_or(|span| span >= row.len()) {
				break;
			}
			for start in 0..row.len() {
				if start + distance * (smallest - 1) >= row.len() {
					break;
				}
				gram.clear();
				let mut at = start;
				while gram.len() < self.max_gram && at < row.len() {
					gram.push(row[at]);
					// As onnxruntime's walk down its trie: no n-gram of the pool starts so.
					let Some(column) = self.trie.get(&gram) else { break };
					if let (Some(column), true) = (column, gram.len() >= smallest) {
						counts[*column] += 1;
					}
					at += distance;
				}
			}
			// Unigrams do not depend on the distance: they are counted at the first one only.
			if smallest == 1 {
				smallest = 2;
				if smallest > self.max_gram {
					break;
				}
			}
		}
	}

	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let input = crate::convert::without_dims(input)?;
		let tokens = input.cast_to::<i64>()?;
		let tokens = tokens.try_as_plain_ram()?.as_slice::<i64>()?;
		// Rows of tokens: one ([C], or a scalar) or a batch ([B, C]).
		let (rows, row_len, shape) = match *input.shape() {
			[] | [_] => (1, tokens.len(), vec![self.output_size]),
			[rows, row_len] => (rows, row_len, vec![rows, self.output_size]),
			ref shape => bail!("TfIdfVectorizer takes [C] or [B, C], got rank {}", shape.len()),
		};
		let mut output = Vec::with_capacity(rows * self.output_size);
		let mut counts = vec![0u64; self.output_size];
		for row in 0..rows {
			counts.fill(0);
			self.count(&tokens[row * row_len..(row + 1) * row_len], &mut counts);
			for (column, count) in counts.iter().enumerate() {
				let weight = self.weights.get(column).map(|w| f64::from(f32::from_bits(*w)));
				output.push(match self.weighting {
					Weighting::Tf => *count as f32,
					Weighting::Idf if *count > 0 => weight.unwrap_or(1.0) as f32,
					Weighting::Idf => 0.0,
					Weighting::TfIdf => (weight.unwrap_or(1.0) * *count as f64) as f32,
				});
			}
		}
		Tensor::from_shape(&shape, &output)
	}
}

impl Rules for TfIdf {
	fn arity(&self) -> (usize, usize) {
		(1, 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&outputs[0].datum_type, f32::datum_type())?;
		s.given(&inputs[0].shape, move |s, shape| s.equals(&outputs[0].shape, self.output_shape(&shape)?))
	}
}

one_input_op!(TfIdf, "TfIdfVectorizer");

impl TypedOp for TfIdf {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		if !matches!(inputs[0].datum_type, DatumType::I64 | DatumType::I32 | DatumType::TDim) {
			bail!("TfIdfVectorizer takes integer tokens, got {:?}", inputs[0].datum_type)
		}
		Ok(tvec!(f32::fact(self.output_shape(&inputs[0].shape)?)))
	}
}
