//! `veriml-upgrade-check SNAPSHOT.json`: runs this runtime's upgrade on a chain's state with every
//! `try-runtime` check (see the library's docs); exits 0 when all hold, 1 naming the first that
//! fails. `scripts/upgrade-check.sh` takes the snapshot and runs it.

use std::process::ExitCode;

/// The runtime's log (which migration ran, which pallet's check failed) on stderr.
struct Stderr;

impl log::Log for Stderr {
	fn enabled(&self, metadata: &log::Metadata) -> bool {
		metadata.level() <= log::Level::Info
	}

	fn log(&self, record: &log::Record) {
		if self.enabled(record.metadata()) {
			eprintln!("{:<5} {}: {}", record.level(), record.target(), record.args());
		}
	}

	fn flush(&self) {}
}

fn main() -> ExitCode {
	let mut args = std::env::args().skip(1);
	let (Some(path), None) = (args.next(), args.next()) else {
		eprintln!("usage: veriml-upgrade-check SNAPSHOT.json (scripts/upgrade-check.sh writes one)");
		return ExitCode::from(2);
	};
	if log::set_logger(&Stderr).is_ok() {
		log::set_max_level(log::LevelFilter::Info);
	}
	let verdict = std::fs::read(&path)
		.map_err(|error| format!("cannot read {path}: {error}"))
		.and_then(|json| veriml_upgrade_check::Snapshot::from_json(&json).map_err(|error| error.to_string()))
		.and_then(|snapshot| {
			let report = veriml_upgrade_check::check(&snapshot).map_err(|error| error.to_string())?;
			Ok(veriml_upgrade_check::describe(&snapshot, &report))
		});
	match verdict {
		Ok(report) => {
			print!("{report}");
			ExitCode::SUCCESS
		},
		Err(error) => {
			eprintln!("upgrade check failed: {error}");
			ExitCode::FAILURE
		},
	}
}
