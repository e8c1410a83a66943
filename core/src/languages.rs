//! `run_code`: the languages kled can run and how, inside any terminal.
//!
//! Names accept LibreChat's Code Interpreter ids (py js ts c cpp java php rs
//! go d f90 r bash) and long names. Each language has one or more ways to run
//! it; the first whose programs all exist in the terminal is used, so a
//! missing interpreter is a clear error and not a cryptic exit 127.

use crate::error::{Error, ErrorKind, Result};

/// One way to run a source file: the programs it needs and the argv, where
/// `{file}` is the source file and `{dir}` a scratch directory.
#[derive(Debug)]
pub struct Variant {
    pub needs: &'static [&'static str],
    pub argv: &'static [&'static str],
}

#[derive(Debug)]
pub struct Language {
    /// LibreChat's id.
    pub id: &'static str,
    pub aliases: &'static [&'static str],
    /// File name the code is saved under (some compilers care).
    pub file_name: &'static str,
    pub variants: &'static [Variant],
}

macro_rules! compiled {
    ($tool:literal, $cmd:literal) => {
        Variant { needs: &[$tool], argv: &["sh", "-c", concat!($cmd, " && exec \"$1/main\""), "sh", "{dir}", "{file}"] }
    };
}

pub static LANGUAGES: &[Language] = &[
    Language {
        id: "py",
        aliases: &["python", "python3"],
        file_name: "main.py",
        variants: &[
            Variant { needs: &["python3"], argv: &["python3", "{file}"] },
            Variant { needs: &["python"], argv: &["python", "{file}"] },
        ],
    },
    Language {
        id: "js",
        aliases: &["javascript", "node", "nodejs"],
        file_name: "main.js",
        variants: &[
            Variant { needs: &["node"], argv: &["node", "{file}"] },
            Variant { needs: &["deno"], argv: &["deno", "run", "{file}"] },
        ],
    },
    Language {
        id: "ts",
        aliases: &["typescript"],
        file_name: "main.ts",
        variants: &[
            Variant { needs: &["tsx"], argv: &["tsx", "{file}"] },
            Variant { needs: &["ts-node"], argv: &["ts-node", "{file}"] },
            Variant { needs: &["deno"], argv: &["deno", "run", "{file}"] },
        ],
    },
    Language {
        id: "c",
        aliases: &[],
        file_name: "main.c",
        variants: &[
            compiled!("cc", "cc -o \"$1/main\" \"$2\" -lm"),
            compiled!("gcc", "gcc -o \"$1/main\" \"$2\" -lm"),
            compiled!("clang", "clang -o \"$1/main\" \"$2\" -lm"),
        ],
    },
    Language {
        id: "cpp",
        aliases: &["c++", "cxx"],
        file_name: "main.cpp",
        variants: &[
            compiled!("c++", "c++ -o \"$1/main\" \"$2\""),
            compiled!("g++", "g++ -o \"$1/main\" \"$2\""),
            compiled!("clang++", "clang++ -o \"$1/main\" \"$2\""),
        ],
    },
    Language {
        id: "java",
        aliases: &[],
        file_name: "Main.java",
        // Java 11+ runs a single source file directly.
        variants: &[Variant { needs: &["java"], argv: &["java", "{file}"] }],
    },
    Language {
        id: "php",
        aliases: &[],
        file_name: "main.php",
        variants: &[Variant { needs: &["php"], argv: &["php", "{file}"] }],
    },
    Language {
        id: "rs",
        aliases: &["rust"],
        file_name: "main.rs",
        variants: &[compiled!("rustc", "rustc --edition 2021 -o \"$1/main\" \"$2\"")],
    },
    Language {
        id: "go",
        aliases: &["golang"],
        file_name: "main.go",
        variants: &[compiled!("go", "go build -o \"$1/main\" \"$2\"")],
    },
    Language {
        id: "d",
        aliases: &["dlang"],
        file_name: "main.d",
        variants: &[
            compiled!("dmd", "dmd -of=\"$1/main\" \"$2\""),
            compiled!("ldc2", "ldc2 -of=\"$1/main\" \"$2\""),
            compiled!("gdc", "gdc -o \"$1/main\" \"$2\""),
        ],
    },
    Language {
        id: "f90",
        aliases: &["fortran"],
        file_name: "main.f90",
        variants: &[compiled!("gfortran", "gfortran -o \"$1/main\" \"$2\"")],
    },
    Language {
        id: "r",
        aliases: &["rlang"],
        file_name: "main.R",
        variants: &[Variant { needs: &["Rscript"], argv: &["Rscript", "{file}"] }],
    },
    Language {
        id: "bash",
        aliases: &[],
        file_name: "main.sh",
        variants: &[Variant { needs: &["bash"], argv: &["bash", "{file}"] }],
    },
    Language {
        id: "sh",
        aliases: &["shell"],
        file_name: "main.sh",
        variants: &[Variant { needs: &["sh"], argv: &["sh", "{file}"] }],
    },
];

impl Language {
    /// Looks a language up by id or alias, ignoring case.
    pub fn find(name: &str) -> Result<&'static Language> {
        let n = name.trim().to_ascii_lowercase();
        LANGUAGES.iter().find(|l| l.id == n || l.aliases.contains(&n.as_str())).ok_or_else(|| {
            let ids: Vec<&str> = LANGUAGES.iter().map(|l| l.id).collect();
            Error::invalid(format!("unsupported language {name:?}; supported: {}", ids.join(", ")))
        })
    }

    /// Every program any variant needs, for one PATH look-up.
    pub fn programs(&self) -> Vec<&'static str> {
        let mut all: Vec<&str> = self.variants.iter().flat_map(|v| v.needs.iter().copied()).collect();
        all.dedup();
        all
    }

    /// The argv of the first variant whose programs were all found.
    pub fn command(&self, found: &dyn Fn(&str) -> bool, file: &str, dir: &str, terminal: &str) -> Result<Vec<String>> {
        let v = self.variants.iter().find(|v| v.needs.iter().all(|p| found(p))).ok_or_else(|| {
            Error::new(
                ErrorKind::RuntimeUnavailable,
                format!(
                    "cannot run {} code in terminal {terminal:?}: it needs {}, and none is installed there",
                    self.id,
                    self.variants.iter().map(|v| v.needs.join("+")).collect::<Vec<_>>().join(" or ")
                ),
            )
        })?;
        Ok(v.argv.iter().map(|a| a.replace("{file}", file).replace("{dir}", dir)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librechat_ids_and_long_names() {
        for id in ["py", "js", "ts", "c", "cpp", "java", "php", "rs", "go", "d", "f90", "r", "bash"] {
            assert_eq!(Language::find(id).unwrap().id, id);
        }
        assert_eq!(Language::find("Python").unwrap().id, "py");
        assert_eq!(Language::find("javascript").unwrap().id, "js");
        assert_eq!(Language::find("typescript").unwrap().id, "ts");
        assert!(Language::find("cobol").unwrap_err().message().contains("supported: py, js"));
    }

    #[test]
    fn picks_first_available_variant() {
        let py = Language::find("py").unwrap();
        let argv = py.command(&|p| p == "python", "/t/main.py", "/t", "x").unwrap();
        assert_eq!(argv, ["python", "/t/main.py"]);
        let e = py.command(&|_| false, "/t/main.py", "/t", "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RuntimeUnavailable);
        assert!(e.message().contains("python3 or python"), "{e}");
        let c = Language::find("c").unwrap().command(&|p| p == "gcc", "/t/main.c", "/t", "x").unwrap();
        assert_eq!(c[0], "sh");
        assert!(c[2].starts_with("gcc"));
        assert_eq!(&c[4..], ["/t", "/t/main.c"]);
    }
}
