//! Value parsers for flags that several binaries share, so that each value is checked the same
//! way wherever it is given (and wherever it is read back from a run's record).

use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::str::FromStr;

/// A finite number > 0 (learning rates, clip bounds).
pub fn positive_finite(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("must be a finite number > 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A run (or sweep) name: one plain path component.
pub fn run_name(s: &str) -> Result<String, String> {
    rundir::check_run_name(s).map(|()| s.to_string())
}

/// One of `names`, as the type they name (an enum of the model's, which knows no clap): `--help`
/// and the error for a wrong value list the names.
pub fn one_of<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    PossibleValuesParser::new(names).try_map(|s| s.parse::<T>().map_err(|e| e.to_string()))
}
