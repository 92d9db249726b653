//! Binary file recognition by magic number (ELF, PE, Mach-O, COFF objects, wasm, Java classes,
//! `ar` archives, compressed archives), with `ar` archives opened to tell a Windows import
//! library (declarations of DLL imports, no code) from a static library of object code.

/// What a binary file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryKind {
    /// An ELF executable or shared library.
    Elf,
    /// A relocatable object file (ELF `ET_REL`, Mach-O `MH_OBJECT`, a WebAssembly object with
    /// a `linking` section): code that only runs once something links it.
    Object,
    /// A Windows PE executable or DLL.
    Pe,
    /// A Mach-O executable or library (or a universal binary).
    MachO,
    /// A COFF object file (`.obj`, what assemblers emit on Windows).
    Coff,
    /// A WebAssembly module.
    Wasm,
    /// A Java class file.
    JavaClass,
    /// An `ar` archive of object code (a static library).
    StaticLibrary,
    /// An `ar` archive whose members only declare DLL imports (`windows-targets`' `.lib`/`.a`).
    ImportLibrary,
    /// A compressed or packed archive (gzip, zip, xz, zstd, bzip2, 7z, tar).
    Archive(&'static str),
    /// A file named like a library or program (`.so`, `.dll`, `.exe`...) without known magic.
    ByExtension,
    /// Other non-text data.
    Data,
}

impl BinaryKind {
    /// Whether the file holds machine code that could be linked or run.
    pub(crate) fn is_code(self) -> bool {
        self.is_runnable() || self.is_linkable_object()
    }

    /// Whether the file is a program or library that can be run or loaded as it is.
    pub(crate) fn is_runnable(self) -> bool {
        matches!(
            self,
            BinaryKind::Elf
                | BinaryKind::Pe
                | BinaryKind::MachO
                | BinaryKind::Wasm
                | BinaryKind::JavaClass
        )
    }

    /// Whether the file is object code that only runs once a build links it (object files,
    /// static libraries of them): prebuilt assembly such as `ring`'s.
    pub(crate) fn is_linkable_object(self) -> bool {
        matches!(
            self,
            BinaryKind::Object | BinaryKind::Coff | BinaryKind::StaticLibrary
        )
    }

    /// A few words for a reason text.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            BinaryKind::Elf => "an ELF executable or library (magic 7f 45 4c 46)",
            BinaryKind::Object => {
                "a relocatable object file (ELF, Mach-O or WebAssembly object code)"
            }
            BinaryKind::Pe => "a Windows PE executable or DLL (MZ header with a PE signature)",
            BinaryKind::MachO => "a Mach-O executable or library",
            BinaryKind::Coff => {
                "a COFF object file (Windows object code, such as prebuilt assembly)"
            }
            BinaryKind::Wasm => "a WebAssembly module",
            BinaryKind::JavaClass => "a Java class file",
            BinaryKind::StaticLibrary => "a static library (ar archive of object code)",
            BinaryKind::ImportLibrary => {
                "a Windows import library (declares DLL imports, holds no code)"
            }
            BinaryKind::Archive(_) => "a compressed archive",
            BinaryKind::ByExtension => "a file named like a program or library",
            BinaryKind::Data => "binary data",
        }
    }
}

/// Extensions of programs and libraries.
pub(crate) const BINARY_EXTENSIONS: &[&str] = &[
    "a", "so", "dll", "dylib", "exe", "lib", "o", "obj", "node", "bin", "sys", "com", "scr",
];

/// Classifies a file from its first bytes (`head`, at least the first 4 KiB when the file is
/// that long) and its extension. `None` means text or an image/font/media file.
pub(crate) fn classify(head: &[u8], ext: &str) -> Option<BinaryKind> {
    if head.starts_with(b"\x7fELF") {
        // e_type (offset 16) in the byte order of EI_DATA (offset 5: 2 is big-endian).
        let e_type = head.get(16..18).map(|t| {
            if head.get(5) == Some(&2) {
                u16::from_be_bytes([t[0], t[1]])
            } else {
                u16::from_le_bytes([t[0], t[1]])
            }
        });
        return Some(if e_type == Some(1) {
            BinaryKind::Object
        } else {
            BinaryKind::Elf
        });
    }
    if head.starts_with(b"MZ") && pe_signature(head) {
        return Some(BinaryKind::Pe);
    }
    let macho: [&[u8]; 4] = [
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
    ];
    if macho.iter().any(|m| head.starts_with(m)) {
        // filetype (offset 12) in the byte order of the magic (cf fa ed fe / ce fa ed fe:
        // little-endian); 1 is MH_OBJECT.
        let filetype = head.get(12..16).map(|t| {
            let b = [t[0], t[1], t[2], t[3]];
            if head[0] == 0xfe {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        });
        return Some(if filetype == Some(1) {
            BinaryKind::Object
        } else {
            BinaryKind::MachO
        });
    }
    if head.starts_with(b"\xca\xfe\xba\xbe") {
        // Universal Mach-O and Java class share a magic; the next word tells them apart
        // (a small architecture count vs. a class-file version).
        let n = head
            .get(4..8)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        return Some(if n < 40 {
            BinaryKind::MachO
        } else {
            BinaryKind::JavaClass
        });
    }
    if head.starts_with(b"\0asm") {
        return Some(if wasm_linking_section(head) {
            BinaryKind::Object
        } else {
            BinaryKind::Wasm
        });
    }
    if head.starts_with(b"!<arch>\n") {
        return Some(BinaryKind::StaticLibrary);
    }
    if ext == "obj" || ext == "o" {
        // COFF machine types: i386, x86_64, arm64, armnt.
        if let Some(m) = head.get(0..2) {
            if matches!(
                u16::from_le_bytes([m[0], m[1]]),
                0x14c | 0x8664 | 0xaa64 | 0x1c4
            ) {
                return Some(BinaryKind::Coff);
            }
        }
    }
    let archives: [(&[u8], &str); 7] = [
        (b"\x1f\x8b", "gzip"),
        (b"PK\x03\x04", "zip"),
        (b"\xfd7zXZ\0", "xz"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"BZh", "bzip2"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"Rar!", "rar"),
    ];
    if let Some((_, name)) = archives.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(BinaryKind::Archive(name));
    }
    if head.len() > 262 && &head[257..262] == b"ustar" {
        return Some(BinaryKind::Archive("tar"));
    }
    if media(head) || is_text(head) {
        return (BINARY_EXTENSIONS.contains(&ext) && !is_text(head))
            .then_some(BinaryKind::ByExtension);
    }
    Some(if BINARY_EXTENSIONS.contains(&ext) {
        BinaryKind::ByExtension
    } else {
        BinaryKind::Data
    })
}

/// Whether a WebAssembly module has a custom section named `linking`, which only relocatable
/// object files carry (what `clang --target=wasm32 -c` emits, such as `psm`'s prebuilt
/// `wasm32.o`): only the sections within `head` are read, so a section beyond it leaves the
/// file a module.
fn wasm_linking_section(head: &[u8]) -> bool {
    /// An unsigned LEB128 number at `*at` (at most 5 bytes), advancing `*at` past it.
    fn leb(head: &[u8], at: &mut usize) -> Option<usize> {
        let mut value = 0usize;
        for shift in (0..35).step_by(7) {
            let byte = *head.get(*at)?;
            *at += 1;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut at = 8; // magic and version
    while at < head.len() {
        let id = head[at];
        at += 1;
        let Some(size) = leb(head, &mut at) else {
            return false;
        };
        let Some(end) = at.checked_add(size).filter(|&e| e <= head.len()) else {
            return false;
        };
        if id == 0 {
            let mut name_at = at;
            if let Some(len) = leb(head, &mut name_at) {
                if head.get(name_at..name_at + len) == Some(b"linking".as_slice()) {
                    return true;
                }
            }
        }
        at = end;
    }
    false
}

fn pe_signature(head: &[u8]) -> bool {
    let Some(off) = head.get(0x3c..0x40) else {
        return false;
    };
    let off = u32::from_le_bytes([off[0], off[1], off[2], off[3]]) as usize;
    head.get(off..off + 4) == Some(b"PE\0\0")
}

/// Images, fonts and media: binary but not code.
pub(crate) fn media(head: &[u8]) -> bool {
    let magics: [&[u8]; 12] = [
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"GIF8",
        b"RIFF",
        b"\0\0\x01\0",
        b"BM",
        b"wOFF",
        b"wOF2",
        b"\0\x01\0\0",
        b"OTTO",
        b"%PDF",
        b"II*\0",
    ];
    magics.iter().any(|m| head.starts_with(m))
        || head.starts_with(b"<svg")
        || head.starts_with(b"<?xml")
}

/// Text: valid UTF-8 (allowing a multi-byte char cut at the end) without NUL bytes.
pub(crate) fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

/// Whether an `ar` archive holds only import declarations (Microsoft short-import members, or
/// GNU `dlltool` objects whose sections are all `.idata$*`/import thunks).
pub(crate) fn import_library(data: &[u8]) -> bool {
    let Some(mut rest) = data.strip_prefix(b"!<arch>\n") else {
        return false;
    };
    let mut members = 0;
    while rest.len() >= 60 {
        let header = &rest[..60];
        let name = std::str::from_utf8(&header[..16]).unwrap_or("").trim_end();
        let size: usize = match std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            Some(n) => n,
            None => return false,
        };
        let Some(body) = rest.get(60..60 + size) else {
            return false;
        };
        let special = matches!(
            name,
            "/" | "//"
                | "/SYM64/"
                | "/SYM64"
                | "__.SYMDEF"
                | "__.SYMDEF SORTED"
                | "/<ECSYMBOLS>/"
                | "/<ECSYMBOLS>"
        );
        if !special {
            members += 1;
            let short_import = body.starts_with(b"\0\0\xff\xff");
            if !short_import && !coff_only_import_sections(body) {
                return false;
            }
        }
        let next = 60 + size + (size & 1);
        rest = rest.get(next..).unwrap_or(&[]);
    }
    members > 0
}

/// A COFF object whose sections are only import tables (`.idata$N`) and import thunks, as
/// `dlltool` writes them (it may add `.text` with a jump thunk, which is a few bytes).
fn coff_only_import_sections(obj: &[u8]) -> bool {
    let u16_at = |o: usize| obj.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        obj.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(nsec), Some(opt)) = (u16_at(2), u16_at(16)) else {
        return false;
    };
    let mut idata = false;
    for i in 0..usize::from(nsec) {
        let at = 20 + usize::from(opt) + i * 40;
        let Some(name) = obj.get(at..at + 8) else {
            return false;
        };
        let name = String::from_utf8_lossy(name);
        let name = name.trim_end_matches('\0');
        let size = u32_at(at + 16).unwrap_or(u32::MAX);
        if name.starts_with(".idata$") {
            idata = true;
        } else if name == ".text" && size <= 16 {
            // dlltool's jump thunk: `jmp *__imp_name`.
        } else if size != 0 && !matches!(name, ".bss" | ".data" | ".debug$S" | ".debug$T") {
            return false;
        }
    }
    idata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webassembly_object_file_is_object_code_and_a_module_is_runnable() {
        // Header, a type section (one `() -> ()`), then a custom section `linking` (version 2).
        let mut object = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0".to_vec();
        object.extend_from_slice(b"\0\x09\x07linking\x02");
        assert_eq!(classify(&object, "o"), Some(BinaryKind::Object));
        // Another custom section's name, or none: a module.
        let named = b"\0asm\x01\0\0\0\0\x05\x04name".to_vec();
        assert_eq!(classify(&named, "wasm"), Some(BinaryKind::Wasm));
        assert_eq!(
            classify(b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0", "wasm"),
            Some(BinaryKind::Wasm)
        );
        // A section that claims more bytes than there are ends the walk.
        assert_eq!(
            classify(b"\0asm\x01\0\0\0\0\xff\x7f\x07linking", "o"),
            Some(BinaryKind::Wasm)
        );
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(
            classify(b"\x7fELF\x02\x01\x01", "bin"),
            Some(BinaryKind::Elf)
        );
        assert_eq!(classify(b"\x7fELF", "txt"), Some(BinaryKind::Elf));
        assert_eq!(
            classify(b"\x1f\x8b\x08\0", "gz"),
            Some(BinaryKind::Archive("gzip"))
        );
        assert_eq!(classify(b"fn main() {}", "rs"), None);
        assert_eq!(classify(b"\x89PNG\r\n", "png"), None);
        assert_eq!(classify(b"\x00\x01\x02\xff", "dat"), Some(BinaryKind::Data));
        assert_eq!(
            classify(b"INPUT(-lfoo)", "so"),
            None,
            "a linker script is text"
        );
        assert_eq!(classify(b"\x64\x86\x03\0", "obj"), Some(BinaryKind::Coff));
    }

    #[test]
    fn import_library_members() {
        let mut lib = b"!<arch>\n".to_vec();
        let member = |name: &str, body: &[u8]| {
            let mut h = format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                644,
                body.len()
            )
            .into_bytes();
            h.extend_from_slice(body);
            if body.len() % 2 == 1 {
                h.push(b'\n');
            }
            h
        };
        lib.extend(member("/", b"\0\0\0\0"));
        lib.extend(member("a.dll/", b"\0\0\xff\xff\0\0\x64\x86rest"));
        assert!(import_library(&lib));
        let mut code = lib.clone();
        code.extend(member(
            "x.o/",
            b"\x64\x86\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0.text\0\0\0\0\0\0\0\0\0\0\0\0\x01\0\0",
        ));
        assert!(!import_library(&code));
    }
}
