//! What the pallets' invariants (`try_state`) share.

use alloc::collections::btree_map::BTreeMap;
use sp_runtime::{traits::Saturating, TryRuntimeError};

/// What each account should have on hold for one hold reason: the sum of the records the hold
/// secures (deposits, bonds, escrows), gathered while the invariants walk the records, then
/// compared with the hold each account has.
pub struct ExpectedHolds<AccountId, Balance>(BTreeMap<AccountId, Balance>);

impl<AccountId, Balance> Default for ExpectedHolds<AccountId, Balance> {
	fn default() -> Self {
		Self(BTreeMap::new())
	}
}

impl<AccountId: Ord, Balance: Saturating + Default + PartialEq + Copy> ExpectedHolds<AccountId, Balance> {
	/// Adds `amount` to what `who` should hold.
	pub fn add(&mut self, who: AccountId, amount: Balance) {
		let sum = self.0.entry(who).or_default();
		*sum = sum.saturating_add(amount);
	}

	/// Compares each account's hold, as `held` reads it, with the sum of its records; `error`
	/// when one differs.
	pub fn check(self, held: impl Fn(&AccountId) -> Balance, error: &'static str) -> Result<(), TryRuntimeError> {
		for (who, expected) in self.0 {
			if held(&who) != expected {
				return Err(error.into());
			}
		}
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn each_hold_must_equal_the_sum_of_its_records() {
		let holds = |who: &u32| match who {
			1 => 30u128,
			2 => 5,
			_ => 0,
		};
		let expected = || {
			let mut expected = ExpectedHolds::default();
			expected.add(1u32, 10u128);
			expected.add(1, 20);
			expected.add(2, 5);
			expected
		};
		assert_eq!(expected().check(holds, "differs"), Ok(()));

		let mut short = expected();
		short.add(2, 1);
		assert_eq!(short.check(holds, "differs"), Err("differs".into()));

		let mut unheld = expected();
		unheld.add(3, 1);
		assert_eq!(unheld.check(holds, "differs"), Err("differs".into()));
		assert_eq!(ExpectedHolds::<u32, u128>::default().check(holds, "differs"), Ok(()));
	}
}
