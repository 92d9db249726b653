//! Target names: an item's path turned into a file-name stem (`demo::config::Server<u32>` →
//! `config_server_u32`), shared by discovery (parse entry points name their stems) and emission.

/// `demo::config::Server<u32>` → `config_server_u32` (the crate's name dropped everywhere).
pub(crate) fn target_stem(item: &str) -> String {
    let krate = item.split("::").next().unwrap_or_default();
    let mut parts: Vec<&str> = item.split("::").collect();
    if parts.len() > 1 {
        parts.remove(0);
    }
    let joined = parts
        .join("_")
        .replace(&format!("<{krate}_"), "<")
        .replace(&format!(" {krate}_"), " ");
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in joined.chars() {
        if ch.is_ascii_alphanumeric() {
            if ch.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
            out.push(ch.to_ascii_lowercase());
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(
            target_stem("demo::config::ServerOptions"),
            "config_server_options"
        );
        assert_eq!(target_stem("demo::Wrapper<u32>"), "wrapper_u32");
        assert_eq!(
            target_stem("demo::Enc<std::io::Cursor<Vec<u8>>>"),
            "enc_std_io_cursor_vec_u8"
        );
    }
}
