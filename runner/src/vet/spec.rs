//! `CRATE[@VERSION]` as `vet` takes it: a valid crate name and, optionally, one exact semver
//! version. Anything else (`foo@@1`, `foo@notaversion`, `@1.0.0`, `foo@`) is an error that says
//! what is wrong.

use std::fmt;
use std::str::FromStr;

use super::registry::index::is_valid_crate_name;

/// A crate to vet, with the version asked for (`None`: the newest non-yanked one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateSpec {
    /// The crate's name as given.
    pub name: String,
    /// The exact version, if one was given.
    pub version: Option<semver::Version>,
}

/// Why a `CRATE[@VERSION]` argument was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The name part is not a crate name.
    #[error(
        "`{spec}`: `{name}` is not a crate name (ASCII letters, digits, `-` and `_`, starting with a \
         letter or digit, at most 64 characters)"
    )]
    BadName {
        /// The whole argument.
        spec: String,
        /// The name part.
        name: String,
    },
    /// The version part is not one exact semver version.
    #[error("`{spec}`: `{version}` is not a version (expected CRATE@MAJOR.MINOR.PATCH, e.g. serde@1.0.200)")]
    BadVersion {
        /// The whole argument.
        spec: String,
        /// The version part.
        version: String,
        #[source]
        source: semver::Error,
    },
}

impl FromStr for CrateSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (name, version) = match spec.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (spec, None),
        };
        if !is_valid_crate_name(name) {
            return Err(SpecError::BadName {
                spec: spec.to_owned(),
                name: name.to_owned(),
            });
        }
        let version = version
            .map(|v| {
                semver::Version::parse(v).map_err(|source| SpecError::BadVersion {
                    spec: spec.to_owned(),
                    version: v.to_owned(),
                    source,
                })
            })
            .transpose()?;
        Ok(Self {
            name: name.to_owned(),
            version,
        })
    }
}

impl fmt::Display for CrateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_specs() {
        let s: CrateSpec = "semver@1.0.26".parse().unwrap();
        assert_eq!(
            (s.name.as_str(), s.version.unwrap().to_string()),
            ("semver", "1.0.26".into())
        );
        let s: CrateSpec = "rust_decimal".parse().unwrap();
        assert_eq!(s.version, None);
        assert_eq!(
            "foo@1.0.0-rc.1".parse::<CrateSpec>().unwrap().to_string(),
            "foo@1.0.0-rc.1"
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, bad_version) in [
            ("foo@@1", true),
            ("foo@notaversion", true),
            ("foo@", true),
            ("foo@1", true),
            ("@1.0.0", false),
            ("", false),
            ("a/b@1.0.0", false),
        ] {
            let err = spec.parse::<CrateSpec>().unwrap_err();
            assert_eq!(
                matches!(err, SpecError::BadVersion { .. }),
                bad_version,
                "{spec}: {err}"
            );
            assert!(err.to_string().starts_with(&format!("`{spec}`")), "{err}");
        }
    }
}
