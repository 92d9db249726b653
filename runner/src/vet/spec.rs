//! `CRATE[@VERSION]` as `vet` takes it: a valid crate name and, optionally, one exact semver
//! version. Anything else (`foo@@1`, `foo@notaversion`, `@1.0.0`, `foo@`) is an error that says
//! what is wrong. `CRATE@OLD..NEW` ([`UpdateSpec`]) names an update to vet against its base.

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
    /// An update is not `CRATE@OLD..NEW`.
    #[error("`{spec}`: an update is written CRATE@OLD..NEW with two exact versions, e.g. serde@1.0.199..1.0.200")]
    BadUpdate {
        /// The whole argument.
        spec: String,
    },
    /// The version part is not one exact semver version.
    #[error("`{spec}`: `{version}` is not a version (expected CRATE@MAJOR.MINOR.PATCH, e.g. serde@1.0.200)")]
    BadVersion {
        /// The whole argument.
        spec: String,
        /// The version part.
        version: String,
        /// The underlying error.
        #[source]
        source: semver::Error,
    },
}

/// `CRATE@OLD..NEW`: vet NEW and compare it with OLD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSpec {
    /// The version updated from.
    pub old: CrateSpec,
    /// The version updated to.
    pub new: CrateSpec,
}

impl UpdateSpec {
    /// Whether `spec` is written as an update (`..` in it).
    pub fn is_update(spec: &str) -> bool {
        spec.contains("..")
    }
}

impl FromStr for UpdateSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = || SpecError::BadUpdate {
            spec: spec.to_owned(),
        };
        let (name, versions) = spec.split_once('@').ok_or_else(bad)?;
        let (old, new) = versions.split_once("..").ok_or_else(bad)?;
        if old.is_empty() || new.is_empty() {
            return Err(bad());
        }
        let part = |version: &str| -> Result<CrateSpec, SpecError> {
            let one: CrateSpec = format!("{name}@{version}").parse()?;
            Ok(one)
        };
        Ok(Self {
            old: part(old).map_err(|e| e.within(spec))?,
            new: part(new).map_err(|e| e.within(spec))?,
        })
    }
}

impl SpecError {
    /// The same error, naming the whole argument `spec`.
    fn within(self, spec: &str) -> Self {
        match self {
            SpecError::BadName { name, .. } => SpecError::BadName {
                spec: spec.to_owned(),
                name,
            },
            SpecError::BadVersion {
                version, source, ..
            } => SpecError::BadVersion {
                spec: spec.to_owned(),
                version,
                source,
            },
            other => other,
        }
    }
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
    fn updates_name_two_exact_versions() {
        let u: UpdateSpec = "serde@1.0.199..1.0.200".parse().unwrap();
        assert_eq!(u.old.to_string(), "serde@1.0.199");
        assert_eq!(u.new.to_string(), "serde@1.0.200");
        for bad in [
            "serde..1.0.0",
            "serde@1.0.0..",
            "serde@..1.0.0",
            "serde@1..x.y",
        ] {
            let err = bad.parse::<UpdateSpec>().unwrap_err();
            assert!(err.to_string().starts_with(&format!("`{bad}`")), "{err}");
        }
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
