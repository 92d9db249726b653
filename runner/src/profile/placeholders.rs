//! The placeholders a profile's paths may use (`{home}`, `{cargo_home}`, `{rustup_home}`) and
//! their expansion into absolute paths.

use std::path::PathBuf;

/// Values for the placeholders a profile's paths may use: `{home}`, `{cargo_home}`,
/// `{rustup_home}`.
#[derive(Debug, Clone)]
pub struct Placeholders {
    /// `{home}`: the caller's home directory.
    pub home: PathBuf,
    /// `{cargo_home}`: cargo's home (`$CARGO_HOME` or `~/.cargo`).
    pub cargo_home: PathBuf,
    /// `{rustup_home}`: rustup's home (`$RUSTUP_HOME` or `~/.rustup`).
    pub rustup_home: PathBuf,
}

impl Placeholders {
    /// Reads `HOME`, `CARGO_HOME` and `RUSTUP_HOME` from the caller's environment.
    pub fn from_env() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"));
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cargo"));
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".rustup"));
        Placeholders {
            home,
            cargo_home,
            rustup_home,
        }
    }

    pub(super) fn expand(&self, raw: &str) -> Result<PathBuf, String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed placeholder in `{raw}`"))?;
            let key = &rest[start + 1..start + end];
            let value = match key {
                "home" => &self.home,
                "cargo_home" => &self.cargo_home,
                "rustup_home" => &self.rustup_home,
                other => {
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` (known: {{home}}, {{cargo_home}}, {{rustup_home}})"
                    ))
                }
            };
            out.push_str(&value.to_string_lossy());
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        let path = PathBuf::from(out);
        if !path.is_absolute() {
            return Err(format!("path `{raw}` is not absolute"));
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Placeholders {
        Placeholders {
            home: "/home/u".into(),
            cargo_home: "/home/u/.cargo".into(),
            rustup_home: "/home/u/.rustup".into(),
        }
    }

    #[test]
    fn placeholders_expand_and_unknown_ones_fail() {
        assert_eq!(
            vars().expand("{cargo_home}/registry").unwrap(),
            PathBuf::from("/home/u/.cargo/registry")
        );
        assert!(vars().expand("{nope}/x").is_err());
        assert!(vars().expand("{home").is_err());
    }
}
