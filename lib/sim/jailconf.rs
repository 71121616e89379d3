//! A jail.conf(5) reader, enough for the hooks jnet cares about: blocks and the `*`
//! wildcard, parameters outside blocks as defaults, `=` and `+=`, lists, booleans,
//! `$name`/`${name}` and user variables (`$var = ...;`), double-quoted (substituted) and
//! single-quoted (literal) strings, comments, and `.include`.

use std::collections::BTreeMap;
use std::path::Path;

/// A parse or substitution error, with the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError(pub String);

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String, bool),
    Single(String),
    Double(String),
    LBrace,
    RBrace,
    Semi,
    Comma,
    Eq,
    PlusEq,
}

/// One assignment, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assign {
    /// parameter or `$variable`
    pub name: String,
    /// appended (`+=`) rather than set
    pub append: bool,
    /// values, each still to be substituted unless literal: (text, substitute?)
    pub values: Vec<(String, bool)>,
}

/// A parsed file: the assignments for every jail (defaults and `*`), then per jail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JailConf {
    /// parameters outside any block, and in `*` blocks, in order
    pub common: Vec<Assign>,
    /// each jail's block, in order of appearance
    pub jails: Vec<(String, Vec<Assign>)>,
}

fn lex(src: &str, line0: usize) -> Result<Vec<(Tok, usize)>, ConfError> {
    let b: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut line = line0;
    let mut out = vec![];
    while i < b.len() {
        let c = b[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if b.get(i + 1) == Some(&'/') => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if b.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                    if b[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if i + 1 >= b.len() {
                    return Err(ConfError(format!("line {line}: unterminated comment")));
                }
                i += 2;
            }
            '{' => {
                out.push((Tok::LBrace, line));
                i += 1;
            }
            '}' => {
                out.push((Tok::RBrace, line));
                i += 1;
            }
            ';' => {
                out.push((Tok::Semi, line));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, line));
                i += 1;
            }
            '=' => {
                out.push((Tok::Eq, line));
                i += 1;
            }
            '+' if b.get(i + 1) == Some(&'=') => {
                out.push((Tok::PlusEq, line));
                i += 2;
            }
            '"' | '\'' => {
                let q = c;
                let start = line;
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&d) = b.get(i) else {
                        return Err(ConfError(format!("line {start}: unterminated {q}string{q}")));
                    };
                    i += 1;
                    if d == q {
                        break;
                    }
                    if d == '\n' {
                        line += 1;
                    }
                    if d == '\\' && q == '"' {
                        match b.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('\n') => line += 1,
                            Some(&e) => s.push(e),
                            None => return Err(ConfError(format!("line {line}: backslash at end of file"))),
                        }
                        i += 1;
                        continue;
                    }
                    s.push(d);
                }
                out.push((if q == '"' { Tok::Double(s) } else { Tok::Single(s) }, start));
            }
            _ => {
                let mut s = String::new();
                let ends_word = |i: usize| {
                    b[i].is_whitespace() || "{};,=\"'#".contains(b[i]) || (b[i] == '+' && b.get(i + 1) == Some(&'='))
                };
                while i < b.len() && !ends_word(i) {
                    s.push(b[i]);
                    i += 1;
                }
                if s.is_empty() {
                    return Err(ConfError(format!("line {line}: unexpected {c:?}")));
                }
                out.push((Tok::Word(s, true), line));
            }
        }
    }
    Ok(out)
}

fn value(t: &Tok) -> Option<(String, bool)> {
    match t {
        Tok::Word(w, _) => Some((w.clone(), true)),
        Tok::Double(s) => Some((s.clone(), true)),
        Tok::Single(s) => Some((s.clone(), false)),
        _ => None,
    }
}

/// Parse a file; `.include` paths are read relative to `dir` when not absolute.
pub fn parse(src: &str, dir: &Path) -> Result<JailConf, ConfError> {
    let toks = lex(src, 1)?;
    let mut conf = JailConf::default();
    let mut i = 0;
    let mut block: Option<(String, Vec<Assign>)> = None;
    while i < toks.len() {
        let (t, line) = &toks[i];
        match t {
            Tok::RBrace => {
                let (name, a) = block.take().ok_or_else(|| ConfError(format!("line {line}: '}}' without a block")))?;
                if name == "*" {
                    conf.common.extend(a);
                } else {
                    conf.jails.push((name, a));
                }
                i += 1;
            }
            Tok::Word(w, _) if w == ".include" => {
                let (p, _) = toks
                    .get(i + 1)
                    .and_then(|(t, _)| value(t))
                    .ok_or_else(|| ConfError(format!("line {line}: .include needs a path")))?;
                let path = dir.join(&p);
                if let Ok(s) = std::fs::read_to_string(&path) {
                    let inc = parse(&s, path.parent().unwrap_or(dir))?;
                    conf.common.extend(inc.common);
                    conf.jails.extend(inc.jails);
                }
                i += 2;
                if matches!(toks.get(i), Some((Tok::Semi, _))) {
                    i += 1;
                }
            }
            _ => {
                let (name, _) =
                    value(t).ok_or_else(|| ConfError(format!("line {line}: expected a name, found {t:?}")))?;
                if let Some((Tok::LBrace, _)) = toks.get(i + 1) {
                    if block.is_some() {
                        return Err(ConfError(format!("line {line}: blocks do not nest")));
                    }
                    block = Some((name, vec![]));
                    i += 2;
                    continue;
                }
                let mut a = Assign { name, append: false, values: vec![] };
                i += 1;
                match toks.get(i) {
                    Some((Tok::Semi, _)) => {
                        // A bare boolean: "vnet;", "exec.clean;".
                        i += 1;
                    }
                    Some((op @ (Tok::Eq | Tok::PlusEq), _)) => {
                        a.append = *op == Tok::PlusEq;
                        i += 1;
                        loop {
                            let (t, l) = toks.get(i).ok_or_else(|| ConfError(format!("line {line}: missing ';'")))?;
                            a.values.push(
                                value(t)
                                    .ok_or_else(|| ConfError(format!("line {l}: expected a value, found {t:?}")))?,
                            );
                            i += 1;
                            match toks.get(i) {
                                Some((Tok::Comma, _)) => i += 1,
                                Some((Tok::Semi, _)) => {
                                    i += 1;
                                    break;
                                }
                                Some((t, l)) => {
                                    return Err(ConfError(format!("line {l}: expected ';' or ',', found {t:?}")))
                                }
                                None => return Err(ConfError(format!("line {line}: missing ';'"))),
                            }
                        }
                    }
                    Some((t, l)) => {
                        return Err(ConfError(format!(
                            "line {l}: expected '=', '+=' or ';' after {}, found {t:?}",
                            a.name
                        )))
                    }
                    None => return Err(ConfError(format!("line {line}: missing ';'"))),
                }
                match &mut block {
                    Some((_, v)) => v.push(a),
                    None => conf.common.push(a),
                }
            }
        }
    }
    if let Some((name, _)) = block {
        return Err(ConfError(format!("block {name} is not closed")));
    }
    Ok(conf)
}

/// A jail's resolved parameters: each a list of strings (booleans as "true").
pub type Params = BTreeMap<String, Vec<String>>;

fn substitute(s: &str, params: &Params) -> Result<String, ConfError> {
    let mut out = String::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        if c[i] != '$' {
            out.push(c[i]);
            i += 1;
            continue;
        }
        let (name, next) = if c.get(i + 1) == Some(&'{') {
            let end = c[i + 2..]
                .iter()
                .position(|&x| x == '}')
                .ok_or_else(|| ConfError(format!("unterminated ${{ in {s:?}")))?;
            (c[i + 2..i + 2 + end].iter().collect::<String>(), i + 3 + end)
        } else {
            let mut j = i + 1;
            while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            (c[i + 1..j].iter().collect::<String>(), j)
        };
        if name.is_empty() {
            out.push('$');
            i += 1;
            continue;
        }
        let v = params
            .get(&name)
            .or_else(|| params.get(&format!("${name}")))
            .ok_or_else(|| ConfError(format!("unknown parameter or variable ${name} in {s:?}")))?;
        out.push_str(&v.join(","));
        i = next;
    }
    Ok(out)
}

impl JailConf {
    /// The jails the file defines.
    pub fn names(&self) -> Vec<String> {
        self.jails.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The parameters of jail `name`: defaults and `*` first, then its block, with
    /// `$name` and variables substituted.
    pub fn resolve(&self, name: &str) -> Result<Params, ConfError> {
        let block = self
            .jails
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| ConfError(format!("no jail {name} in the file")))?;
        let mut p = Params::new();
        p.insert("name".into(), vec![name.to_string()]);
        for a in self.common.iter().chain(block.1.iter()) {
            let mut vals = vec![];
            for (v, subst) in &a.values {
                vals.push(if *subst { substitute(v, &p)? } else { v.clone() });
            }
            if a.values.is_empty() {
                vals.push("true".into());
            }
            if a.append {
                p.entry(a.name.clone()).or_default().extend(vals);
            } else {
                p.insert(a.name.clone(), vals);
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_defaults_variables_and_appends() {
        let src = r#"
            # defaults
            path = "/jails/$name";
            exec.clean;
            $bridge = "bridge0";
            * { exec.poststop += "/sbin/rel $name"; }
            www {
                vnet;
                exec.prestart += "/sbin/ep -b ${bridge} $name";
                exec.prestart += '/bin/echo $literal';
                vnet.interface = "e0b_$name", e1b_$name;   // two
                /* a
                   comment */
                host.hostname = "${name}.example.org";
            }
            db { ip6.addr = "igb0|2001:db8::5/64"; }
        "#;
        let c = parse(src, Path::new("/")).unwrap();
        assert_eq!(c.names(), ["www", "db"]);
        let p = c.resolve("www").unwrap();
        assert_eq!(p["path"], ["/jails/www"]);
        assert_eq!(p["vnet"], ["true"]);
        assert_eq!(p["exec.clean"], ["true"]);
        assert_eq!(p["exec.prestart"], ["/sbin/ep -b bridge0 www", "/bin/echo $literal"]);
        assert_eq!(p["exec.poststop"], ["/sbin/rel www"]);
        assert_eq!(p["vnet.interface"], ["e0b_www", "e1b_www"]);
        assert_eq!(p["host.hostname"], ["www.example.org"]);
        assert_eq!(c.resolve("db").unwrap()["ip6.addr"], ["igb0|2001:db8::5/64"]);
        assert!(c.resolve("nope").is_err());
    }

    #[test]
    fn errors_name_the_line() {
        for (src, want) in [
            ("www { vnet }", "expected"),
            ("www { a = \"x; }", "unterminated"),
            ("www { a = b }", "expected ';'"),
            ("www { a = b;", "not closed"),
            ("}", "without a block"),
            ("a { b { } }", "do not nest"),
            ("/* x", "unterminated comment"),
        ] {
            let e = parse(src, Path::new("/")).unwrap_err();
            assert!(e.0.contains(want), "{src}: {e}");
        }
        let c = parse("www { a = \"$nope\"; }", Path::new("/")).unwrap();
        assert!(c.resolve("www").unwrap_err().0.contains("unknown parameter"));
    }

    #[test]
    fn the_reader_never_panics() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let alphabet: Vec<char> = "ab$ {}\";,=+'\\/*#\n.x_0{".chars().collect();
        let iters: usize = std::env::var("JNET_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        for _ in 0..iters {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 60) as usize;
            let s: String = (0..len)
                .map(|k| {
                    let r = seed.rotate_left(k as u32 * 7);
                    alphabet[(r % alphabet.len() as u64) as usize]
                })
                .collect();
            if let Ok(c) = parse(&s, Path::new("/nonexistent")) {
                for n in c.names() {
                    let _ = c.resolve(&n);
                }
            }
        }
    }
}
